//! SCIM provisioning through the facade, replaying the request sequences Okta and Microsoft
//! Entra ID send (bodies from `fixtures/scim/`), on SQLite and PostgreSQL alike: connection
//! test, `userName eq` lookups, PATCH dialects, deactivation ending sessions, group push and
//! membership changes both ways, tenant isolation, tokens, ETags and uniqueness.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{
    contend_with_user_change, facade, idp, next_seed, prove_listener, pump_until_heard,
    refused_to_app, t0, REDIRECT,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::Duration;
use gatehouse::*;
use gatehouse_types::FixedEntropy;
use saml_core::authn_request::{decode_redirect, RedirectLimits};
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use scim_model::{Projection, SearchRequest};
use serde_json::{json, Value};
use storage::testing::{TestDatabase, ENGINES};
use storage::Engine;

const CAROL: &str = "5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11";
const BOB: &str = "902c246b-6245-4190-8e05-00816be7344a";
const GROUP: &str = "e9e30dba-f08f-4109-8486-d5c6a331660a";

/// A fixture body with the fixture's invented ids replaced by the ids this run created.
fn fixture(path: &str, ids: &[(&str, &str)]) -> Value {
    let full = format!("{}/../../fixtures/scim/{path}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&full).unwrap();
    for (from, to) in ids {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

fn op() -> Call {
    Call::operator(t0(), "test")
}

struct Dir {
    client: ScimClient,
    token: String,
    directory_id: String,
}

fn directory(gh: &Gatehouse, tenant: &str, name: &str) -> Dir {
    let d = gh.create_scim_directory(&op(), tenant, name).unwrap();
    assert_eq!(
        d.base_url,
        format!("https://sso.example.com/scim/v2/{}", d.id)
    );
    let issued = gh.issue_scim_token(&op(), &d.id).unwrap();
    let client = gh.authenticate_scim(t0(), &d.id, &issued.token).unwrap();
    Dir {
        client,
        token: issued.token,
        directory_id: d.id,
    }
}

fn scim_call(d: &Dir) -> Call {
    Call {
        now: t0(),
        correlation_id: "scim-1".into(),
        actor: d.client.actor(),
    }
}

fn search(gh: &Gatehouse, d: &Dir, kind: ScimKind, params: &[(&str, &str)]) -> Value {
    let req = SearchRequest::from_query(params.iter().copied(), SCIM_PAGINATION).unwrap();
    gh.scim_search(&d.client, kind, &req).unwrap()
}

fn create(gh: &Gatehouse, d: &Dir, kind: ScimKind, body: &Value) -> Value {
    let r = gh
        .scim_create(&scim_call(d), &d.client, kind, body)
        .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.etag.as_deref(), Some("W/\"1\""));
    assert!(r.location.is_some());
    r.body.unwrap()
}

/// POST a core User made of `fields` (the `schemas` are added); its id.
fn create_user(gh: &Gatehouse, d: &Dir, fields: Value) -> String {
    let mut body = fields;
    body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
    create(gh, d, ScimKind::User, &body)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn patch(gh: &Gatehouse, d: &Dir, kind: ScimKind, id: &str, body: &Value) -> Value {
    let r = gh
        .scim_patch(&scim_call(d), &d.client, kind, id, body, None)
        .unwrap();
    assert_eq!(r.status, 200);
    r.body.unwrap()
}

fn get(gh: &Gatehouse, d: &Dir, kind: ScimKind, id: &str) -> Result<ScimResponse> {
    gh.scim_get(&d.client, kind, id, &Projection::default(), None)
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn scim_status(r: Result<impl std::fmt::Debug>) -> (u16, Option<&'static str>, String) {
    match r {
        Err(GatehouseError::Scim {
            status,
            scim_type,
            detail,
        }) => (status, scim_type, detail),
        other => panic!("expected a SCIM error, got {other:?}"),
    }
}

fn tenant_world(engine: Engine) -> (TestDatabase, Gatehouse) {
    let db = TestDatabase::new(engine).unwrap();
    let gh = facade(&db, 7);
    gh.create_tenant(&op(), NewTenant::new("acme", "Acme"))
        .unwrap();
    (db, gh)
}

#[test]
fn okta_provisioning_sequence() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        // Okta's connection test: a one-item page of users, and a lookup of an unknown user.
        let page = search(
            &gh,
            &d,
            ScimKind::User,
            &[("startIndex", "1"), ("count", "1")],
        );
        assert_eq!(page["totalResults"], 0, "{engine:?}");
        assert_eq!(page["Resources"], json!([]));
        let lookup = [("filter", r#"userName eq "carol@acme.example""#)];
        assert_eq!(search(&gh, &d, ScimKind::User, &lookup)["totalResults"], 0);

        // Create: the password and the empty groups list are ignored.
        let carol = create(
            &gh,
            &d,
            ScimKind::User,
            &fixture("okta/user_create.json", &[]),
        );
        let carol_id = carol["id"].as_str().unwrap().to_owned();
        assert!(carol.get("password").is_none());
        assert_eq!(carol["active"], true);
        assert_eq!(carol["meta"]["version"], "W/\"1\"");
        let mut bob_body = fixture("okta/user_create.json", &[]);
        bob_body["userName"] = json!("bob@acme.example");
        bob_body["externalId"] = json!("00ubob");
        bob_body["emails"] =
            json!([{"primary": true, "value": "bob@acme.example", "type": "work"}]);
        let bob = create(&gh, &d, ScimKind::User, &bob_body);
        let bob_id = bob["id"].as_str().unwrap().to_owned();

        // userName lookups are case-insensitive; paging reports the total.
        let found = search(
            &gh,
            &d,
            ScimKind::User,
            &[("filter", r#"userName eq "CAROL@acme.example""#)],
        );
        assert_eq!(found["totalResults"], 1);
        assert_eq!(found["Resources"][0]["id"], carol_id.as_str());
        let page = search(
            &gh,
            &d,
            ScimKind::User,
            &[("startIndex", "2"), ("count", "1")],
        );
        assert_eq!(page["totalResults"], 2);
        assert_eq!(page["itemsPerPage"], 1);
        assert_eq!(page["startIndex"], 2);
        assert_eq!(page["Resources"][0]["id"], bob_id.as_str());
        let by_external = search(
            &gh,
            &d,
            ScimKind::User,
            &[(
                "filter",
                r#"externalId eq "00ujl29u0le5T6Aj10h7" and active eq true"#,
            )],
        );
        assert_eq!(by_external["totalResults"], 1);

        // Group push: create empty, add both (the add is repeated: idempotent), remove one.
        let group = create(
            &gh,
            &d,
            ScimKind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"}),
        );
        let group_id = group["id"].as_str().unwrap().to_owned();
        let ids = [
            (CAROL, carol_id.as_str()),
            (BOB, bob_id.as_str()),
            (GROUP, group_id.as_str()),
        ];
        let add = fixture("okta/group_add_members.json", &ids);
        patch(&gh, &d, ScimKind::Group, &group_id, &add);
        let g = patch(&gh, &d, ScimKind::Group, &group_id, &add);
        let mut both = vec![carol_id.clone(), bob_id.clone()];
        both.sort();
        assert_eq!(member_ids(&g), both);
        assert_eq!(
            g["meta"]["version"], "W/\"2\"",
            "a no-op add does not bump the version"
        );
        let g = patch(
            &gh,
            &d,
            ScimKind::Group,
            &group_id,
            &fixture("okta/group_remove_member.json", &ids),
        );
        assert_eq!(member_ids(&g), vec![carol_id.clone()]);
        let g = patch(
            &gh,
            &d,
            ScimKind::Group,
            &group_id,
            &fixture("okta/group_rename.json", &ids),
        );
        assert_eq!(g["displayName"], "Platform Engineering");
        let by_name = search(
            &gh,
            &d,
            ScimKind::Group,
            &[
                ("filter", r#"displayName eq "platform engineering""#),
                ("excludedAttributes", "members"),
            ],
        );
        assert_eq!(by_name["totalResults"], 1);
        assert!(by_name["Resources"][0].get("members").is_none());
        let by_member = search(
            &gh,
            &d,
            ScimKind::Group,
            &[("filter", &format!(r#"members[value eq "{carol_id}"]"#))],
        );
        assert_eq!(by_member["totalResults"], 1);
        let carol_now = get(&gh, &d, ScimKind::User, &carol_id)
            .unwrap()
            .body
            .unwrap();
        assert_eq!(carol_now["groups"][0]["value"], group_id.as_str());
        assert_eq!(carol_now["groups"][0]["display"], "Platform Engineering");
        let bob_now = get(&gh, &d, ScimKind::User, &bob_id).unwrap().body.unwrap();
        assert!(bob_now.get("groups").is_none());
        // A listing shows each user with its own groups (read for the whole page at once).
        let all = search(&gh, &d, ScimKind::User, &[("sortBy", "userName")]);
        let listed: Vec<(&str, usize)> = all["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let groups = u.get("groups").map_or(0, |g| g.as_array().unwrap().len());
                (u["userName"].as_str().unwrap(), groups)
            })
            .collect();
        assert_eq!(
            listed,
            [("bob@acme.example", 0), ("carol@acme.example", 1)],
            "{engine:?}"
        );
        assert_eq!(all["Resources"][1]["groups"][0], carol_now["groups"][0]);

        // Deactivation: path-less replace of active; the seat is released, the data kept.
        assert_eq!(gh.seat_count("acme").unwrap().active_users, 2);
        let off = patch(
            &gh,
            &d,
            ScimKind::User,
            &carol_id,
            &fixture("okta/user_deactivate.json", &[]),
        );
        assert_eq!(off["active"], false);
        assert_eq!(off["userName"], "carol@acme.example");
        assert_eq!(gh.seat_count("acme").unwrap().active_users, 1);
        let inactive = search(&gh, &d, ScimKind::User, &[("filter", "active eq false")]);
        assert_eq!(inactive["totalResults"], 1);

        // Full-object PUT (Okta's update style) keeps the id and the read-only groups.
        let mut put = fixture("okta/user_create.json", &[]);
        put["name"]["familyName"] = json!("Danvers-Rambeau");
        put["active"] = json!(true);
        let r = gh
            .scim_replace(
                &scim_call(&d),
                &d.client,
                ScimKind::User,
                &carol_id,
                &put,
                None,
            )
            .unwrap();
        let body = r.body.unwrap();
        assert_eq!(body["id"], carol_id.as_str());
        assert_eq!(body["name"]["familyName"], "Danvers-Rambeau");
        assert_eq!(body["groups"][0]["value"], group_id.as_str());
        assert_eq!(body["active"], true);

        // Every change is in the audit trail, with membership changes per user.
        let records = gh
            .audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                limit: Some(1000),
                ..Default::default()
            })
            .unwrap();
        let types: Vec<&str> = records.iter().map(|r| r.event.event_type()).collect();
        assert!(types.contains(&"scim.operation"));
        assert!(types.contains(&"user.deactivated"));
        assert!(types.contains(&"user.reactivated"));
        let scim_ops = records
            .iter()
            .filter(|r| r.event.event_type() == "scim.operation")
            .count();
        // Two user creates, group create, two adds, remove, rename, deactivate, PUT.
        assert_eq!(scim_ops, 9, "{types:?}");
        let bob_group_events = records
            .iter()
            .filter(|r| {
                r.target.as_deref() == Some(bob_id.as_str())
                    && matches!(&r.event, audit::AuditEvent::UserUpdated { changed_fields, .. } if changed_fields == &["groups".to_string()])
            })
            .count();
        assert_eq!(bob_group_events, 2, "bob joined then left");
        assert!(records
            .iter()
            .filter(|r| r.event.event_type() == "scim.operation")
            .all(
                |r| r.actor.key() == format!("scim_token:{}/{}", d.directory_id, d.client.token_id)
            ));
        assert_eq!(
            gh.verify_audit_chain("acme").unwrap().unwrap(),
            records.len() as u64
        );
    }
}

#[test]
fn entra_provisioning_sequence() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Entra ID");
        // Entra's connection test: a filter on a random userName must answer an empty list.
        let probe = search(
            &gh,
            &d,
            ScimKind::User,
            &[(
                "filter",
                r#"userName eq "ab6490ee-0000-4000-8000-000000000000""#,
            )],
        );
        assert_eq!(probe["totalResults"], 0, "{engine:?}");

        let user = create(
            &gh,
            &d,
            ScimKind::User,
            &fixture("entra/user_create.json", &[]),
        );
        let id = user["id"].as_str().unwrap().to_owned();
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert_eq!(user[ent]["department"], "Sales");
        assert_eq!(
            user["urn:ietf:params:scim:schemas:extension:custom:2.0:User"]["worksiteId"],
            "180"
        );
        let lookup = search(
            &gh,
            &d,
            ScimKind::User,
            &[(
                "filter",
                r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
            )],
        );
        assert_eq!(lookup["Resources"][0]["id"], id.as_str());

        // Attribute updates, including the e-mail used for linking and the emails filter.
        let u = patch(
            &gh,
            &d,
            ScimKind::User,
            &id,
            &fixture("entra/user_replace_attributes.json", &[]),
        );
        assert_eq!(u["name"]["familyName"], "updatedFamilyName");
        let (status, t, detail) = scim_status(
            gh.scim_search(
                &d.client,
                ScimKind::User,
                &SearchRequest::from_query(
                    [("filter", r#"emails[type eq "work" and value eq "x"]"#)],
                    SCIM_PAGINATION,
                )
                .unwrap(),
            ),
        );
        assert_eq!((status, t), (400, Some("invalidFilter")));
        assert!(detail.contains("emails.type"), "{detail}");
        let by_email = search(
            &gh,
            &d,
            ScimKind::User,
            &[("filter", r#"emails.value eq "UPDATEDEMAIL@acme.example""#)],
        );
        assert_eq!(by_email["totalResults"], 1);
        let u = patch(
            &gh,
            &d,
            ScimKind::User,
            &id,
            &fixture("entra/user_manager_add.json", &[]),
        );
        assert!(u[ent]["manager"]["value"].is_string());
        let u = patch(
            &gh,
            &d,
            ScimKind::User,
            &id,
            &fixture("entra/user_pathless_replace.json", &[]),
        );
        assert_eq!(u["active"], true);

        // Group with members, Add, then Remove with a value array removes only those.
        let mut second = fixture("entra/user_create.json", &[]);
        second["userName"] = json!("second@testuser.com");
        second["externalId"] = json!("second");
        let second_id = create(&gh, &d, ScimKind::User, &second)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut third = second.clone();
        third["userName"] = json!("third@testuser.com");
        third["externalId"] = json!("third");
        let third_id = create(&gh, &d, ScimKind::User, &third)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let g = create(
            &gh,
            &d,
            ScimKind::Group,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Sales",
                "externalId": "sales-1",
                "members": [{"value": second_id}, {"value": third_id}],
            }),
        );
        let gid = g["id"].as_str().unwrap().to_owned();
        let g = patch(
            &gh,
            &d,
            ScimKind::Group,
            &gid,
            &fixture("entra/group_add_members.json", &[(CAROL, &id)]),
        );
        assert_eq!(member_ids(&g).len(), 3);
        let g = patch(
            &gh,
            &d,
            ScimKind::Group,
            &gid,
            &fixture("entra/group_remove_members.json", &[(BOB, &second_id)]),
        );
        let mut left = vec![id.clone(), third_id.clone()];
        left.sort();
        assert_eq!(member_ids(&g), left);
        let g = patch(
            &gh,
            &d,
            ScimKind::Group,
            &gid,
            &fixture("entra/group_replace_display_name.json", &[]),
        );
        assert_ne!(g["displayName"], "Sales");

        // Disable with the string boolean, then re-enable: the same user comes back.
        let off = patch(
            &gh,
            &d,
            ScimKind::User,
            &id,
            &fixture("entra/user_disable.json", &[]),
        );
        assert_eq!(off["active"], false);
        let on = patch(
            &gh,
            &d,
            ScimKind::User,
            &id,
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Replace", "path": "active", "value": "True"}]}),
        );
        assert_eq!(on["active"], true);
        assert_eq!(on["id"], id.as_str());

        // Group delete releases its members; user delete answers 404 afterwards.
        let r = gh
            .scim_delete(&scim_call(&d), &d.client, ScimKind::Group, &gid, None)
            .unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(scim_status(get(&gh, &d, ScimKind::Group, &gid)).0, 404);
        let u = get(&gh, &d, ScimKind::User, &third_id)
            .unwrap()
            .body
            .unwrap();
        assert!(u.get("groups").is_none());
    }
}

#[test]
fn isolation_tokens_etags_and_uniqueness() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        gh.create_tenant(&op(), NewTenant::new("globex", "Globex"))
            .unwrap();
        let a = directory(&gh, "acme", "A");
        let b = directory(&gh, "globex", "B");
        let alice = create(
            &gh,
            &a,
            ScimKind::User,
            &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test"}),
        );
        let alice_id = alice["id"].as_str().unwrap().to_owned();
        let bgroup = create(
            &gh,
            &b,
            ScimKind::Group,
            &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"}),
        );
        let bgid = bgroup["id"].as_str().unwrap().to_owned();

        // Another tenant's ids are simply not there: 404, never 403.
        assert_eq!(
            scim_status(get(&gh, &b, ScimKind::User, &alice_id)).0,
            404,
            "{engine:?}"
        );
        assert_eq!(
            scim_status(gh.scim_delete(&scim_call(&b), &b.client, ScimKind::User, &alice_id, None))
                .0,
            404
        );
        assert_eq!(search(&gh, &b, ScimKind::User, &[])["totalResults"], 0);
        // Nor can B's group take A's user as a member.
        let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": alice_id}]}]});
        assert_eq!(
            scim_status(gh.scim_patch(
                &scim_call(&b),
                &b.client,
                ScimKind::Group,
                &bgid,
                &add,
                None
            ))
            .0,
            400
        );

        // Tokens: wrong token, right token for the wrong directory, revoked, rotated.
        assert!(matches!(
            gh.authenticate_scim(t0(), &a.directory_id, "ghs_wrong"),
            Err(GatehouseError::Unauthorized)
        ));
        assert!(matches!(
            gh.authenticate_scim(t0(), &b.directory_id, &a.token),
            Err(GatehouseError::Unauthorized)
        ));
        let rotated = gh
            .rotate_scim_token(&op(), &a.directory_id, Duration::hours(1))
            .unwrap();
        assert!(
            gh.authenticate_scim(t0(), &a.directory_id, &a.token)
                .is_ok(),
            "overlap window"
        );
        assert!(gh
            .authenticate_scim(t0() + Duration::hours(2), &a.directory_id, &a.token)
            .is_err());
        assert!(gh
            .authenticate_scim(t0() + Duration::hours(2), &a.directory_id, &rotated.token)
            .is_ok());
        gh.revoke_scim_token(&op(), &a.directory_id, &rotated.token_id)
            .unwrap();
        assert!(gh
            .authenticate_scim(t0(), &a.directory_id, &rotated.token)
            .is_err());
        let views = gh.list_scim_tokens(&a.directory_id).unwrap();
        assert_eq!(views.len(), 2);
        assert!(views.iter().any(|v| v.revoked));
        assert_eq!(gh.list_scim_directories("acme").unwrap().len(), 1);

        // ETags: a stale If-Match is 412, the current one passes, If-None-Match gives 304.
        let set_title = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]});
        let stale = gh.scim_patch(
            &scim_call(&a),
            &a.client,
            ScimKind::User,
            &alice_id,
            &set_title,
            Some("W/\"7\""),
        );
        assert_eq!(scim_status(stale).0, 412);
        let ok = gh
            .scim_patch(
                &scim_call(&a),
                &a.client,
                ScimKind::User,
                &alice_id,
                &set_title,
                Some("W/\"1\""),
            )
            .unwrap();
        assert_eq!(ok.etag.as_deref(), Some("W/\"2\""));
        let cached = gh
            .scim_get(
                &a.client,
                ScimKind::User,
                &alice_id,
                &Projection::default(),
                Some("W/\"2\""),
            )
            .unwrap();
        assert_eq!(cached.status, 304);

        // userName is unique per tenant, case-insensitively; other tenants may reuse it.
        let dup = gh.scim_create(&scim_call(&a), &a.client, ScimKind::User, &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ALICE@acme.test"}));
        assert_eq!(scim_status(dup).0, 409);
        let dup = gh
            .scim_create(
                &scim_call(&a),
                &a.client,
                ScimKind::User,
                &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@acme.test"}),
            )
            .unwrap();
        let x_id = dup.body.unwrap()["id"].as_str().unwrap().to_owned();
        let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "userName", "value": "Alice@ACME.test"}]});
        let (status, t, _) = scim_status(gh.scim_patch(
            &scim_call(&a),
            &a.client,
            ScimKind::User,
            &x_id,
            &rename,
            None,
        ));
        assert_eq!((status, t), (409, Some("uniqueness")));
        create(
            &gh,
            &b,
            ScimKind::User,
            &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test"}),
        );

        // Filters on attributes without an index are refused, naming the attribute.
        let req =
            SearchRequest::from_query([("filter", r#"title eq "CTO""#)], SCIM_PAGINATION).unwrap();
        let (status, t, detail) = scim_status(gh.scim_search(&a.client, ScimKind::User, &req));
        assert_eq!((status, t), (400, Some("invalidFilter")));
        assert!(detail.contains("title"), "{detail}");
        // Read-only attributes cannot be written.
        let ro = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "groups", "value": [{"value": bgid}]}]});
        assert_eq!(
            scim_status(gh.scim_patch(
                &scim_call(&a),
                &a.client,
                ScimKind::User,
                &alice_id,
                &ro,
                None
            ))
            .0,
            400
        );
    }
}

#[test]
fn bulk_resolves_bulk_ids_and_stops_after_fail_on_errors() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Bulk");
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                          "displayName": "Ops", "members": [{"value": "bulkId:u"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "u",
                 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "dana@acme.test"}},
                {"method": "POST", "path": "/Users", "bulkId": "dup",
                 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "DANA@acme.test"}},
                {"method": "DELETE", "path": "/Groups/bulkId:g"},
            ]
        });
        let out = gh
            .scim_bulk(&scim_call(&d), &d.client, body.to_string().as_bytes())
            .unwrap();
        let ops = out["Operations"].as_array().unwrap();
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        // The user runs first (the group refers to it); the duplicate fails and stops the rest.
        assert_eq!(statuses, ["201", "201", "409"], "{engine:?} {out}");
        assert_eq!(ops[2]["response"]["scimType"], "uniqueness");
        let groups = search(&gh, &d, ScimKind::Group, &[]);
        assert_eq!(
            groups["Resources"][0]["members"].as_array().unwrap().len(),
            1
        );
        let too_big = vec![b' '; SCIM_BULK_LIMITS.max_payload_size + 1];
        assert_eq!(
            scim_status(gh.scim_bulk(&scim_call(&d), &d.client, &too_big)).0,
            413
        );
    }
}

#[test]
fn concurrent_patches_of_one_user_lose_no_update() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let user = create(
            &gh,
            &d,
            ScimKind::User,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "race@acme.test"}),
        );
        let id = user["id"].as_str().unwrap().to_owned();
        let set = |attr: &str, value: String| {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": attr, "value": value}]})
        };
        std::thread::scope(|s| {
            for attr in ["title", "nickName"] {
                let (gh, d, id) = (&gh, &d, &id);
                s.spawn(move || {
                    for i in 0..10 {
                        gh.scim_patch(
                            &scim_call(d),
                            &d.client,
                            ScimKind::User,
                            id,
                            &set(attr, format!("{attr}-{i}")),
                            None,
                        )
                        .unwrap();
                    }
                });
            }
        });
        let u = get(&gh, &d, ScimKind::User, &id).unwrap().body.unwrap();
        assert_eq!(u["title"], "title-9", "{engine:?}");
        assert_eq!(u["nickName"], "nickName-9", "{engine:?}");
        assert_eq!(u["meta"]["version"], "W/\"21\"");
    }
}

/// Okta pushes groups concurrently: each push creates a group, then adds and removes members
/// that other pushes share. With the audit chain and the outbox numbered under two locks taken
/// in different orders (creating a group emitted before it audited; a member change audited
/// first), PostgreSQL found deadlocks and the pushes failed. Every push must succeed, and the
/// tenant's audit chain and event numbering must come out whole.
#[test]
fn concurrent_group_pushes_neither_deadlock_nor_break_the_journal() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let users: Vec<String> = (0..12)
            .map(|i| {
                create(
                    &gh,
                    &d,
                    ScimKind::User,
                    &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": format!("member{i}@acme.test")}),
                )["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let members =
            |ids: &[String]| -> Value { ids.iter().map(|id| json!({"value": id})).collect() };
        std::thread::scope(|s| {
            for pusher in 0..4 {
                let (gh, d, users) = (&gh, &d, &users);
                s.spawn(move || {
                    for round in 0..3 {
                        let group = create(
                            gh,
                            d,
                            ScimKind::Group,
                            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                    "displayName": format!("team-{pusher}-{round}")}),
                        );
                        let id = group["id"].as_str().unwrap();
                        // Overlapping halves, in an order that differs per pusher.
                        let mut mine = users.clone();
                        mine.rotate_left(pusher * 3);
                        patch(gh, d, ScimKind::Group, id, &json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": members(&mine)}]}));
                        patch(gh, d, ScimKind::Group, id, &json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "remove", "path": "members",
                                            "value": members(&mine[..6])}]}));
                    }
                });
            }
        });
        let intact = gh.verify_audit_chain("acme").unwrap().unwrap();
        assert!(intact > 12 + 4 * 3 * 3, "{engine:?}: {intact} records");
        let events = gh.events_since("acme", 0, 1000).unwrap();
        // 12 users, then per push: created, members added, members removed.
        assert_eq!(events.len(), 12 + 4 * 3 * 3, "{engine:?}");
        for (i, e) in events.iter().enumerate() {
            assert_eq!(
                e.seq,
                i as i64 + 1,
                "{engine:?}: events are numbered without gaps"
            );
        }
    }
}

#[test]
fn hard_delete_is_an_admin_action_on_deactivated_users_only() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let user = create(
            &gh,
            &d,
            ScimKind::User,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "gone@acme.test"}),
        );
        let id = user["id"].as_str().unwrap().to_owned();
        assert!(matches!(
            gh.hard_delete_user(&op(), "acme", &id),
            Err(GatehouseError::InvalidInput { .. })
        ));
        patch(
            &gh,
            &d,
            ScimKind::User,
            &id,
            &fixture("okta/user_deactivate.json", &[]),
        );
        assert_eq!(
            gh.list_tenant_users("acme", Some(false), 100, 0)
                .unwrap()
                .len(),
            1
        );
        gh.hard_delete_user(&op(), "acme", &id).unwrap();
        assert_eq!(
            scim_status(get(&gh, &d, ScimKind::User, &id)).0,
            404,
            "{engine:?}"
        );
        assert!(gh
            .list_tenant_users("acme", None, 100, 0)
            .unwrap()
            .is_empty());
        let history = gh.user_history("acme", &id).unwrap();
        let types: Vec<&str> = history.iter().map(|r| r.event.event_type()).collect();
        assert_eq!(types.first(), Some(&"user.created"));
        assert_eq!(types.last(), Some(&"user.deleted"));
        assert!(types.contains(&"user.deactivated"));
    }
}

#[test]
fn removing_active_is_refused_and_never_reactivates() {
    // Found by scim2-tester's `check_remove_attribute[active]`: an unassigned `active` means
    // active (as on create), so a `remove` used to reactivate a deactivated user.
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let user = create(
            &gh,
            &d,
            ScimKind::User,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "off@acme.test"}),
        );
        let id = user["id"].as_str().unwrap().to_owned();
        patch(
            &gh,
            &d,
            ScimKind::User,
            &id,
            &fixture("okta/user_deactivate.json", &[]),
        );
        for operation in [
            json!({"op": "remove", "path": "active"}),
            json!({"op": "Remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active"}),
        ] {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": [operation]});
            let (status, scim_type, detail) = scim_status(gh.scim_patch(
                &scim_call(&d),
                &d.client,
                ScimKind::User,
                &id,
                &body,
                None,
            ));
            assert_eq!((status, scim_type), (400, Some("mutability")), "{engine:?}");
            assert!(detail.contains("active"), "{detail}");
        }
        let after = get(&gh, &d, ScimKind::User, &id).unwrap().body.unwrap();
        assert_eq!(after["active"], json!(false), "{engine:?}");
        // Created (1), deactivated (2); the refused PATCHes wrote nothing.
        assert_eq!(after["meta"]["version"], json!("W/\"2\""), "{engine:?}");
    }
}

/// Renaming or deleting a user writes its groups (their members' `display` changes) while
/// group pushes write the same groups and their membership rows: the two must take their locks
/// in one order, or PostgreSQL finds deadlocks and the writes fail.
#[test]
fn user_renames_and_deletes_beside_group_pushes_neither_deadlock_nor_fail() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let users: Vec<String> = (0..8)
            .map(|i| create_user(&gh, &d, json!({ "userName": format!("m{i}@acme.test") })))
            .collect();
        let members =
            |ids: &[String]| -> Value { ids.iter().map(|id| json!({"value": id})).collect() };
        let patch_members = |op: &str, ids: &[String]| {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": op, "path": "members", "value": members(ids)}]})
        };
        let groups: Vec<String> = (0..4)
            .map(|g| {
                create(
                    &gh,
                    &d,
                    ScimKind::Group,
                    &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                            "displayName": format!("g{g}"), "members": members(&users)}),
                )["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let (kept, leaving) = users.split_at(4);
        std::thread::scope(|s| {
            let (gh, d) = (&gh, &d);
            s.spawn(move || {
                for round in 0..3 {
                    for (i, id) in kept.iter().enumerate() {
                        let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "userName",
                                            "value": format!("m{i}-{round}@acme.test")}]});
                        patch(gh, d, ScimKind::User, id, &rename);
                    }
                }
            });
            s.spawn(move || {
                for id in leaving {
                    gh.scim_delete(&scim_call(d), &d.client, ScimKind::User, id, None)
                        .unwrap();
                }
            });
            for pusher in 0..2 {
                let groups = &groups;
                s.spawn(move || {
                    for g in groups.iter().skip(pusher).step_by(2) {
                        // Removing members that are being deleted races the deletion for the
                        // same membership rows.
                        patch(gh, d, ScimKind::Group, g, &patch_members("remove", leaving));
                        patch(
                            gh,
                            d,
                            ScimKind::Group,
                            g,
                            &patch_members("remove", &kept[..2]),
                        );
                        patch(gh, d, ScimKind::Group, g, &patch_members("add", &kept[..2]));
                    }
                });
            }
        });
        for g in &groups {
            let group = get(&gh, &d, ScimKind::Group, g).unwrap().body.unwrap();
            let mut want = kept.to_vec();
            want.sort();
            assert_eq!(member_ids(&group), want, "{engine:?}");
        }
        assert!(
            gh.verify_audit_chain("acme").unwrap().is_ok(),
            "{engine:?}: the audit chain is whole"
        );
    }
}

/// A group push that adds a user while the user's deletion is committing waits for it and is
/// refused: the deleted user must not end up a member.
#[test]
fn a_push_adding_a_user_being_deleted_waits_and_is_refused() {
    let (db, gh) = tenant_world(Engine::Postgres);
    let d = directory(&gh, "acme", "Okta");
    let leaver = create_user(&gh, &d, json!({"userName": "leaver@acme.test"}));
    let group = create(
        &gh,
        &d,
        ScimKind::Group,
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "add", "path": "members", "value": [{"value": leaver}]}]});
    // What the deletion does to the row, held open while the push runs.
    let (waited, push) = contend_with_user_change(
        &db,
        &leaver,
        |user| {
            user.directory_id = None;
            user.active = false;
        },
        || {
            gh.scim_patch(
                &scim_call(&d),
                &d.client,
                ScimKind::Group,
                &group,
                &body,
                None,
            )
        },
    );
    assert!(waited, "the push never waited for the deletion");
    let (status, scim_type, _) = scim_status(push);
    assert_eq!((status, scim_type), (400, Some("invalidValue")));
    let g = get(&gh, &d, ScimKind::Group, &group).unwrap().body.unwrap();
    assert!(member_ids(&g).is_empty(), "{g}");
}

#[test]
fn a_put_without_active_keeps_a_deactivated_user_deactivated() {
    // Found by an abuse run: a full-object PUT that leaves `active` out (as some IdPs' profile
    // updates do) used to reset it to the default, `true`, bringing a leaver back.
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let core = "urn:ietf:params:scim:schemas:core:2.0:User";
        let id = create_user(
            &gh,
            &d,
            json!({"userName": "gone@acme.test", "active": false}),
        );
        for body in [
            json!({"schemas": [core], "userName": "gone@acme.test", "title": "put"}),
            json!({"schemas": [core], "userName": "gone@acme.test", "active": null}),
        ] {
            let r = gh
                .scim_replace(&scim_call(&d), &d.client, ScimKind::User, &id, &body, None)
                .unwrap();
            assert_eq!(r.body.unwrap()["active"], json!(false), "{engine:?}");
        }
        assert_eq!(gh.seat_count("acme").unwrap().active_users, 0, "{engine:?}");
        // An explicit `true` still reactivates.
        let body = json!({"schemas": [core], "userName": "gone@acme.test", "active": true});
        let r = gh
            .scim_replace(&scim_call(&d), &d.client, ScimKind::User, &id, &body, None)
            .unwrap();
        assert_eq!(r.body.unwrap()["active"], json!(true), "{engine:?}");
    }
}

#[test]
fn etags_move_when_groups_or_members_change_through_the_other_side() {
    // Found by an abuse run: a user's `groups` and a group's `members[].display` are part of
    // their representations, but changing them through the other resource kept the old ETag,
    // so `If-None-Match` answered 304 for a changed body and a stale `If-Match` was accepted.
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let uid = create_user(&gh, &d, json!({"userName": "ann@acme.test"}));
        let group = create(
            &gh,
            &d,
            ScimKind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Eng"}),
        );
        let gid = group["id"].as_str().unwrap().to_owned();
        let etag = |kind, id: &str| get(&gh, &d, kind, id).unwrap().etag.unwrap();
        let patch_op = |op: Value| {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [op]})
        };
        // Each step changes one side (a PATCH operation, or `None`: DELETE); the other side's
        // ETag must move with its body. (watched, what happens, changed, change)
        let steps = [
            (
                ScimKind::User,
                "member added",
                ScimKind::Group,
                Some(json!({"op": "add", "path": "members", "value": [{"value": uid}]})),
            ),
            (
                ScimKind::User,
                "group renamed",
                ScimKind::Group,
                Some(json!({"op": "replace", "path": "displayName", "value": "Engineering"})),
            ),
            (
                ScimKind::Group,
                "member renamed",
                ScimKind::User,
                Some(json!({"op": "replace", "path": "userName", "value": "anne@acme.test"})),
            ),
            (ScimKind::Group, "member deleted", ScimKind::User, None),
        ];
        let id_of = |kind| {
            if matches!(kind, ScimKind::User) {
                &uid
            } else {
                &gid
            }
        };
        for (observed, step, changed, change) in steps {
            let observed_id = id_of(observed);
            let before = etag(observed, observed_id);
            match change {
                Some(op) => {
                    patch(&gh, &d, changed, id_of(changed), &patch_op(op));
                }
                None => {
                    gh.scim_delete(&scim_call(&d), &d.client, changed, id_of(changed), None)
                        .unwrap();
                }
            }
            let after = gh
                .scim_get(
                    &d.client,
                    observed,
                    observed_id,
                    &Projection::default(),
                    Some(&before),
                )
                .unwrap();
            assert_eq!(after.status, 200, "{engine:?}: {step}: not 304");
            assert_ne!(after.etag.unwrap(), before, "{engine:?}: {step}");
        }
        // A user's ETag names its groups by digest (no group write touches user rows); the
        // user is gone now, so check the digest form on a fresh member.
        let vic = create_user(&gh, &d, json!({"userName": "vic@acme.test"}));
        let plain = etag(ScimKind::User, &vic);
        assert_eq!(plain, "W/\"1\"", "{engine:?}");
        patch(
            &gh,
            &d,
            ScimKind::Group,
            &gid,
            &patch_op(json!({"op": "add", "path": "members", "value": [{"value": vic}]})),
        );
        let digested = etag(ScimKind::User, &vic);
        assert!(
            digested.starts_with("W/\"1.") && digested.len() == 18,
            "{engine:?}: {digested}"
        );
        let (status, _, _) = scim_status(gh.scim_patch(
            &scim_call(&d),
            &d.client,
            ScimKind::User,
            &vic,
            &patch_op(json!({"op": "replace", "path": "title", "value": "x"})),
            Some(&plain),
        ));
        assert_eq!(
            status, 412,
            "{engine:?}: the ETag from before the membership is stale"
        );
        let r = gh
            .scim_patch(
                &scim_call(&d),
                &d.client,
                ScimKind::User,
                &vic,
                &patch_op(json!({"op": "replace", "path": "title", "value": "x"})),
                Some(&digested),
            )
            .unwrap();
        assert_eq!(
            r.etag,
            r.body
                .as_ref()
                .map(|b| b["meta"]["version"].as_str().unwrap().to_owned())
        );
        // A stale If-Match on the group is refused.
        let (status, _, _) = scim_status(gh.scim_patch(
            &scim_call(&d),
            &d.client,
            ScimKind::Group,
            &gid,
            &patch_op(json!({"op": "replace", "path": "displayName", "value": "X"})),
            Some("W/\"2\""),
        ));
        assert_eq!(status, 412, "{engine:?}");
    }
}

#[test]
fn root_search_pages_across_types_and_sorting_never_filters() {
    // Found by an abuse run: `sortBy` that only one type can sort by dropped the other type.
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        for name in ["bo@acme.test", "al@acme.test"] {
            create_user(&gh, &d, json!({ "userName": name }));
        }
        create(
            &gh,
            &d,
            ScimKind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Eng"}),
        );
        let root = |mut body: Value| {
            body["schemas"] = json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]);
            let req = SearchRequest::from_json(&body, SCIM_PAGINATION).unwrap();
            gh.scim_search_all(&d.client, &req)
        };
        let names = |list: &Value| -> Vec<String> {
            list["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.get("userName")
                        .or_else(|| r.get("displayName"))
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_owned()
                })
                .collect()
        };
        let by_user_name = root(json!({"sortBy": "userName"})).unwrap();
        assert_eq!(by_user_name["totalResults"], 3, "{engine:?}");
        assert_eq!(
            names(&by_user_name),
            ["al@acme.test", "bo@acme.test", "Eng"]
        );
        let by_display_name = root(json!({"sortBy": "displayName"})).unwrap();
        assert_eq!(by_display_name["totalResults"], 3, "{engine:?}");
        // Users in creation order (they cannot sort by displayName), then the group.
        assert_eq!(
            names(&by_display_name),
            ["bo@acme.test", "al@acme.test", "Eng"]
        );
        // One window cut across both types.
        let window = root(json!({"sortBy": "userName", "startIndex": 2, "count": 2})).unwrap();
        assert_eq!(names(&window), ["bo@acme.test", "Eng"], "{engine:?}");
        let (status, scim_type, _) = scim_status(root(json!({"sortBy": "title"})));
        assert_eq!((status, scim_type), (400, Some("invalidValue")));
    }
}

#[test]
fn refusals_are_audited_without_what_the_request_said() {
    // Found by an abuse run: the audit summary of a refused PATCH quoted the path it was sent.
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let id = create_user(&gh, &d, json!({"userName": "pat@acme.test"}));
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "replace", "path": "SSN-078-05-1120", "value": "x"}]});
        let (status, scim_type, detail) =
            scim_status(gh.scim_patch(&scim_call(&d), &d.client, ScimKind::User, &id, &body, None));
        assert_eq!(
            (status, scim_type),
            (400, Some("invalidPath")),
            "{engine:?}"
        );
        assert!(
            detail.contains("SSN-078-05-1120"),
            "the caller is told: {detail}"
        );
        let records = gh
            .audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("scim.operation".into()),
                ..Default::default()
            })
            .unwrap();
        let refused = serde_json::to_value(&records.last().unwrap().event).unwrap();
        assert_eq!(refused["status"], 400, "{engine:?}: {refused}");
        assert_eq!(refused["summary"], "refused: invalidPath", "{engine:?}");
        assert!(
            !refused.to_string().contains("SSN"),
            "{engine:?}: {refused}"
        );
    }
}

// ---------- SAML login + SCIM lifecycle ----------

fn browser() -> Call {
    Call {
        now: t0(),
        correlation_id: "corr-1".into(),
        actor: Actor::Browser,
    }
}

/// A SAML login of `subject` through the tenant's connection.
fn saml_login(
    gh: &Gatehouse,
    idp: &TestIdentityProvider,
    conn: &SamlConnectionView,
    subject: &str,
) -> Result<LoginCompleted> {
    let p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st"),
        ("nonce", "n"),
        ("login_hint", subject),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let redirect = match gh.authorize_pairs(&browser(), &p).unwrap() {
        AuthorizeOutcome::Redirect(url) => url,
        other => panic!("{other:?}"),
    };
    let query = redirect.split_once('?').unwrap().1;
    let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
    let root = saml_core::xml::parse(&decoded.xml, &Default::default()).unwrap();
    let mut params = ResponseParams::new(&conn.acs_url, &conn.sp_entity_id, subject);
    params.in_response_to = Some(root.attr("ID").unwrap().to_owned());
    params.attributes = vec![("email".into(), vec![subject.to_lowercase()])];
    let xml = idp
        .response(&params, t0(), &mut FixedEntropy::new(next_seed()))
        .unwrap();
    gh.acs(
        &browser(),
        &conn.id,
        &B64.encode(xml),
        decoded.relay_state.as_deref(),
    )
}

#[test]
fn saml_login_links_to_the_scim_user_and_deactivation_ends_its_sessions() {
    for engine in ENGINES {
        let (db, gh) = tenant_world(engine);
        gh.ensure_signing_key(&op()).unwrap();
        gh.add_tenant_domain(&op(), "acme", "acme.test").unwrap();
        let (idp, pem) = idp("https://idp.acme.test");
        let conn = gh
            .create_saml_connection(
                &op(),
                "acme",
                NewSamlConnection::new(
                    "Acme IdP",
                    "okta",
                    IdpSource::Manual {
                        entity_id: "https://idp.acme.test".into(),
                        sso_url: "https://idp.acme.test/sso".into(),
                        certificate_pem: pem,
                    },
                ),
            )
            .unwrap();
        gh.register_client(
            &op(),
            NewClient {
                name: "App".into(),
                redirect_uris: vec![REDIRECT.into()],
                public: false,
                backchannel_logout_uri: None,
                post_logout_redirect_uris: vec![],
                client_id: Some("app".into()),
                client_secret: None,
            },
        )
        .unwrap();
        let d = directory(&gh, "acme", "Okta");
        let alice = create(
            &gh,
            &d,
            ScimKind::User,
            &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Alice@acme.test",
            "emails": [{"value": "alice@acme.test", "primary": true}]}),
        );
        let alice_id = alice["id"].as_str().unwrap().to_owned();

        // The first SAML login links to the SCIM user (userName matches the subject,
        // case-insensitively) instead of creating a second account.
        let first = saml_login(&gh, &idp, &conn, "alice@ACME.test").unwrap();
        let second = saml_login(&gh, &idp, &conn, "alice@ACME.test").unwrap();
        let store = gh.store();
        let session = store
            .transaction(|c| storage::queries::find_session(c, &first.session_id))
            .unwrap()
            .unwrap();
        assert_eq!(session.user_id, alice_id, "{engine:?}");
        assert_eq!(gh.seat_count("acme").unwrap().active_users, 1);

        // Deactivation ends every session at once; the next login is refused.
        patch(
            &gh,
            &d,
            ScimKind::User,
            &alice_id,
            &fixture("okta/user_deactivate.json", &[]),
        );
        for sid in [&first.session_id, &second.session_id] {
            let s = store
                .transaction(|c| storage::queries::find_session(c, sid))
                .unwrap()
                .unwrap();
            assert!(s.revoked_at.is_some());
            assert_eq!(s.revoked_reason.as_deref(), Some("user_deactivated"));
        }
        assert_eq!(
            refused_to_app(saml_login(&gh, &idp, &conn, "alice@ACME.test")),
            "user_deactivated"
        );

        // DELETE hides the user from SCIM but keeps it; provisioning it again restores the same
        // user (same id, same SAML link), active again.
        let r = gh
            .scim_delete(&scim_call(&d), &d.client, ScimKind::User, &alice_id, None)
            .unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(scim_status(get(&gh, &d, ScimKind::User, &alice_id)).0, 404);
        let again = create_restored(&gh, &d);
        assert_eq!(again, alice_id);
        let back = saml_login(&gh, &idp, &conn, "alice@ACME.test").unwrap();
        let s = store
            .transaction(|c| storage::queries::find_session(c, &back.session_id))
            .unwrap()
            .unwrap();
        assert_eq!(s.user_id, alice_id);
        drop(db);
    }
}

fn create_restored(gh: &Gatehouse, d: &Dir) -> String {
    let r = gh
        .scim_create(
            &scim_call(d),
            &d.client,
            ScimKind::User,
            &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "alice@acme.test", "active": true}),
        )
        .unwrap();
    assert_eq!(r.status, 201);
    r.body.unwrap()["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_token_revoked_by_another_replica_is_refused_once_heard_or_once_unproven() {
    // SQLite has no listener, so nothing is cached there (and the CLI, writing the same file,
    // could not be heard anyway): only PostgreSQL caches.
    let (sqlite, gh) = tenant_world(Engine::Sqlite);
    assert!(gh.open_change_listener().unwrap().is_none());
    drop((gh, sqlite));

    let (db, a) = tenant_world(Engine::Postgres);
    let b = facade(&db, next_seed());
    let d = directory(&a, "acme", "Okta");
    let mut listener = a
        .open_change_listener()
        .unwrap()
        .expect("PostgreSQL listens");
    prove_listener(&a, &mut listener, t0());

    // A remembers the live token; B revokes it. Until A hears of it, A still admits it (the
    // bounded staleness the server's 50 ms pump interval keeps short)...
    assert!(a.authenticate_scim(t0(), &d.directory_id, &d.token).is_ok());
    b.revoke_scim_token(&op(), &d.directory_id, &d.client.token_id)
        .unwrap();
    assert!(
        b.authenticate_scim(t0(), &d.directory_id, &d.token)
            .is_err(),
        "revoked in the database (B caches nothing: it has no listener)"
    );
    assert!(
        a.authenticate_scim(t0(), &d.directory_id, &d.token).is_ok(),
        "served from the cache: nothing heard yet"
    );
    // ...and refuses it once the change is heard.
    pump_until_heard(&a, &mut listener, t0());
    assert!(matches!(
        a.authenticate_scim(t0(), &d.directory_id, &d.token),
        Err(GatehouseError::Unauthorized)
    ));

    // A listener that has not proven itself alive for LIVE_FOR_MS is not trusted: the
    // database is asked again, and it says revoked.
    let second = b.issue_scim_token(&op(), &d.directory_id).unwrap();
    pump_until_heard(&a, &mut listener, t0());
    assert!(a
        .authenticate_scim(t0(), &d.directory_id, &second.token)
        .is_ok());
    b.revoke_scim_token(&op(), &d.directory_id, &second.token_id)
        .unwrap();
    let unproven = t0() + Duration::milliseconds(gatehouse::cache::LIVE_FOR_MS);
    assert!(matches!(
        a.authenticate_scim(unproven, &d.directory_id, &second.token),
        Err(GatehouseError::Unauthorized)
    ));

    // A rotation's overlap end reaches the other replica the same way.
    let third = b.issue_scim_token(&op(), &d.directory_id).unwrap();
    let later = t0() + Duration::seconds(10);
    pump_until_heard(&a, &mut listener, later);
    assert!(a
        .authenticate_scim(later, &d.directory_id, &third.token)
        .is_ok());
    b.rotate_scim_token(&op(), &d.directory_id, Duration::zero())
        .unwrap();
    pump_until_heard(&a, &mut listener, later);
    assert!(a
        .authenticate_scim(later, &d.directory_id, &third.token)
        .is_err());

    // A revocation made here applies here at once, without hearing of it: no pump between.
    let fourth = a.issue_scim_token(&op(), &d.directory_id).unwrap();
    pump_until_heard(&a, &mut listener, later);
    assert!(a
        .authenticate_scim(later, &d.directory_id, &fourth.token)
        .is_ok());
    a.revoke_scim_token(&op(), &d.directory_id, &fourth.token_id)
        .unwrap();
    assert!(matches!(
        a.authenticate_scim(later, &d.directory_id, &fourth.token),
        Err(GatehouseError::Unauthorized)
    ));

    // A listener whose connection is killed fails its next pump, and the cache is not used
    // until a new one proves itself: a revocation meanwhile is seen at once.
    let fifth = a.issue_scim_token(&op(), &d.directory_id).unwrap();
    pump_until_heard(&a, &mut listener, later);
    assert!(a
        .authenticate_scim(later, &d.directory_id, &fifth.token)
        .is_ok());
    let killed = db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND query LIKE '%pg_notify%'",
        )
        .unwrap();
    assert_eq!(killed, 1, "the listener's connection");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while a.pump_changes(&mut listener, later).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed listener kept working"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!a.caching_live(later));
    b.revoke_scim_token(&op(), &d.directory_id, &fifth.token_id)
        .unwrap();
    assert!(matches!(
        a.authenticate_scim(later, &d.directory_id, &fifth.token),
        Err(GatehouseError::Unauthorized)
    ));

    // A token of another directory is no key to this one, cached or not.
    a.create_tenant(&op(), NewTenant::new("globex", "Globex"))
        .unwrap();
    let other = directory(&a, "globex", "Entra");
    assert!(a
        .authenticate_scim(later, &other.directory_id, &other.token)
        .is_ok());
    assert!(matches!(
        a.authenticate_scim(later, &d.directory_id, &other.token),
        Err(GatehouseError::Unauthorized)
    ));
}

#[test]
fn a_user_lists_with_the_same_groups_and_etag_as_it_reads() {
    for engine in ENGINES {
        let (_db, gh) = tenant_world(engine);
        let d = directory(&gh, "acme", "Okta");
        let dana = create_user(
            &gh,
            &d,
            json!({"userName": "dana@acme.example", "externalId": "00u-dana"}),
        );
        // Another user in another group: each user gets its own groups, not its neighbour's.
        let erin = create_user(&gh, &d, json!({"userName": "erin@acme.example"}));
        create(
            &gh,
            &d,
            ScimKind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Erin only", "members": [{"value": erin}]}),
        );
        // Names whose order by lower-cased name differs from their byte order and from their
        // creation order.
        for name in ["Gamma", "alpha", "Beta"] {
            create(
                &gh,
                &d,
                ScimKind::Group,
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": name, "members": [{"value": dana}]}),
            );
        }
        let read = get(&gh, &d, ScimKind::User, &dana).unwrap();
        let read = read.body.unwrap();
        let names: Vec<&str> = read["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["display"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["alpha", "Beta", "Gamma"], "{engine:?}");
        // The IdPs' lookups (one statement of static parts), and any other filter.
        for filter in [
            r#"userName eq "DANA@acme.example""#,
            r#"externalId eq "00u-dana""#,
            r#"userName sw "dana""#,
        ] {
            let listed = search(&gh, &d, ScimKind::User, &[("filter", filter)]);
            assert_eq!(listed["totalResults"], 1, "{engine:?} {filter}");
            let user = &listed["Resources"][0];
            assert_eq!(user["groups"], read["groups"], "{engine:?} {filter}");
            assert_eq!(
                user["meta"]["version"], read["meta"]["version"],
                "{engine:?} {filter}"
            );
        }
        // Both users in one page: each with its own groups.
        let both = search(&gh, &d, ScimKind::User, &[("filter", "active eq true")]);
        for user in both["Resources"].as_array().unwrap() {
            let groups: Vec<&str> = user["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["display"].as_str().unwrap())
                .collect();
            match user["userName"].as_str().unwrap() {
                "dana@acme.example" => assert_eq!(groups, ["alpha", "Beta", "Gamma"]),
                _ => assert_eq!(groups, ["Erin only"], "{engine:?}"),
            }
        }
    }
}

#[test]
fn only_point_lookups_may_run_on_an_executor_thread() {
    let point = |kind, query: &[(&str, &str)], by_id| {
        Gatehouse::scim_read_is_point_lookup(kind, query.iter().copied(), by_id)
    };
    // The IdPs' lookups, and reads by id.
    assert!(point(
        ScimKind::User,
        &[("filter", r#"userName eq "a@b.c""#)],
        false
    ));
    assert!(point(
        ScimKind::User,
        &[("filter", r#"externalId eq "00u1""#), ("count", "1")],
        false
    ));
    assert!(point(ScimKind::User, &[], true));
    assert!(point(
        ScimKind::Group,
        &[
            ("filter", r#"displayName eq "Sales""#),
            ("excludedAttributes", "members")
        ],
        false
    ));
    assert!(point(
        ScimKind::Group,
        &[("excludedAttributes", "members")],
        true
    ));
    // Malformed: refused after authentication, without a database read.
    assert!(point(ScimKind::User, &[("filter", "userName eq")], false));
    // Reads whose size the request decides.
    assert!(!point(ScimKind::User, &[], false));
    assert!(!point(
        ScimKind::User,
        &[("filter", r#"userName sw "a""#)],
        false
    ));
    assert!(!point(
        ScimKind::User,
        &[("filter", r#"userName eq "a" or userName eq "b""#)],
        false
    ));
    assert!(!point(
        ScimKind::User,
        &[("filter", r#"userName eq "a""#), ("sortBy", "userName")],
        false
    ));
    assert!(!point(
        ScimKind::User,
        &[("filter", r#"title eq "CTO""#)],
        false
    ));
    assert!(!point(
        ScimKind::Group,
        &[("filter", r#"displayName eq "Sales""#)],
        false
    ));
    assert!(
        !point(ScimKind::Group, &[], true),
        "a group's members are unbounded"
    );
}
