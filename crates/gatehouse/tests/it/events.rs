//! Revocation and events to the app, on SQLite and PostgreSQL: a revoked session is inactive at
//! once and the app hears about it through OIDC back-channel logout (a logout token verified
//! against the JWKS) and a signed webhook, delivered to a real HTTP receiver on 127.0.0.1;
//! failures are retried with backoff while later events wait; deliveries survive a restart;
//! apps can poll the events API from a cursor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{facade, idp, next_seed, t0, REDIRECT};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::Duration;
use gatehouse::*;
use gatehouse_types::FixedEntropy;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use saml_core::authn_request::{decode_redirect, RedirectLimits};
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use storage::testing::{TestDatabase, ENGINES};
use storage::Engine;

// ---------- a recording HTTP receiver ----------

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP/1.1 server on 127.0.0.1 that records every request and answers with the next
/// scripted status (200 once the script is empty).
struct Receiver {
    base: String,
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let (l, s) = (log.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                let mut headers = HashMap::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    headers.insert(k.trim().to_lowercase(), v.trim().to_owned());
                }
                let len: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                l.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8(body).unwrap(),
                });
                let status = s.lock().unwrap().pop_front().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { base, log, script }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn fail_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
}

// ---------- a tenant with a SAML connection and an app ----------

fn at(secs: i64) -> Call {
    Call::operator(t0() + Duration::seconds(secs), "test")
}

fn op() -> Call {
    at(0)
}

fn browser() -> Call {
    Call {
        now: t0(),
        correlation_id: "corr-1".into(),
        actor: Actor::Browser,
    }
}

struct World {
    db: TestDatabase,
    gh: Gatehouse,
    idp: TestIdentityProvider,
    connection: SamlConnectionView,
    client_secret: String,
    rx: Receiver,
}

/// `backchannel`: whether the app registers a back-channel logout URI on the receiver.
fn world(engine: Engine, backchannel: bool) -> World {
    let db = TestDatabase::new(engine).unwrap();
    let gh = facade(&db, 1);
    let rx = Receiver::start();
    gh.ensure_signing_key(&op()).unwrap();
    let mut tenant = NewTenant::new("acme", "Acme");
    tenant.domains = vec!["acme.test".into()];
    gh.create_tenant(&op(), tenant).unwrap();
    let (idp, pem) = idp("https://idp.acme.test");
    let connection = gh
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
    let creds = gh
        .register_client(
            &op(),
            NewClient {
                name: "App".into(),
                redirect_uris: vec![REDIRECT.into()],
                public: false,
                backchannel_logout_uri: backchannel.then(|| rx.url("/backchannel")),
                post_logout_redirect_uris: vec![],
                client_id: Some("app".into()),
                client_secret: None,
            },
        )
        .unwrap();
    World {
        db,
        gh,
        idp,
        connection,
        client_secret: creds.client_secret.unwrap(),
        rx,
    }
}

fn secret(w: &World) -> ClientAuth {
    ClientAuth::Secret {
        client_id: "app".into(),
        secret: w.client_secret.clone(),
    }
}

/// A whole SAML login of `user`; returns the tokens and the session id.
fn login(w: &World, user: &str) -> (TokenResponse, String) {
    let p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st"),
        ("nonce", "n"),
        ("login_hint", user),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let redirect = match w.gh.authorize_pairs(&browser(), &p).unwrap() {
        AuthorizeOutcome::Redirect(url) => url,
        other => panic!("{other:?}"),
    };
    let query = redirect.split_once('?').unwrap().1;
    let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
    let root = saml_core::xml::parse(&decoded.xml, &Default::default()).unwrap();
    let mut params = ResponseParams::new(&w.connection.acs_url, &w.connection.sp_entity_id, user);
    params.in_response_to = Some(root.attr("ID").unwrap().to_owned());
    params.attributes = vec![("email".into(), vec![user.to_lowercase()])];
    let xml = w
        .idp
        .response(&params, t0(), &mut FixedEntropy::new(next_seed()))
        .unwrap();
    let done =
        w.gh.acs(
            &browser(),
            &w.connection.id,
            &B64.encode(xml),
            decoded.relay_state.as_deref(),
        )
        .unwrap();
    let code = url::Url::parse(&done.redirect_to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens =
        w.gh.exchange_code(&browser(), &secret(w), &code, REDIRECT, None)
            .unwrap();
    (tokens, done.session_id)
}

fn active(w: &World, tokens: &TokenResponse) -> bool {
    w.gh.introspect(&op(), &secret(w), &tokens.access_token)
        .unwrap()["active"]
        == true
}

/// The receiver's check, written from docs/events.md alone (not with the facade's helper).
fn verify_webhook(secret: &str, r: &Received) -> Value {
    let header = &r.headers["gatehouse-signature"];
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let key = PKey::hmac(secret.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(format!("{t}.{}", r.body).as_bytes()).unwrap();
    let expected: String = signer
        .sign_to_vec()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "webhook signature");
    let event: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        r.headers["gatehouse-event-id"],
        event["id"].as_str().unwrap()
    );
    assert_eq!(r.headers["content-type"], "application/json");
    event
}

fn user_of(w: &World, session_id: &str) -> String {
    w.gh.store()
        .transaction(|c| storage::queries::find_session(c, session_id))
        .unwrap()
        .unwrap()
        .user_id
}

#[test]
fn revocation_is_immediate_and_the_app_gets_a_verifiable_logout_token_and_a_signed_webhook() {
    for engine in ENGINES {
        let w = world(engine, true);
        // Alice's first login (JIT: a `user.created` event) happens before the endpoint exists,
        // so the endpoint sees only what follows.
        let (tokens, sid) = login(&w, "alice@acme.test");
        let hook =
            w.gh.create_webhook_endpoint(&op(), Some("acme"), &w.rx.url("/hooks"))
                .unwrap();
        assert!(hook.secret.starts_with("whsec_"));
        let user_id = user_of(&w, &sid);
        assert!(active(&w, &tokens));
        let sessions = w.gh.list_user_sessions(&user_id).unwrap();
        assert_eq!(sessions.len(), 1);
        assert!(sessions[0].revoked_at.is_none());

        w.gh.revoke_session(&op(), &sid, "laptop stolen").unwrap();
        // Inactive at once, before anything is delivered, and the token endpoint paths agree.
        assert!(!active(&w, &tokens), "{engine:?}");
        assert!(w.gh.userinfo(&op(), &tokens.access_token).is_err());
        let listed = w.gh.list_user_sessions(&user_id).unwrap();
        assert_eq!(listed[0].revoked_reason.as_deref(), Some("laptop stolen"));

        let started = Instant::now();
        assert_eq!(w.gh.deliver_due(&op(), 100).unwrap(), 2, "{engine:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));

        // Back-channel logout: a form post whose logout token verifies with the JWKS.
        let bc = w.rx.at("/backchannel");
        assert_eq!(bc.len(), 1, "{engine:?}");
        assert_eq!(
            bc[0].headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        let token = url::form_urlencoded::parse(bc[0].body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .unwrap()
            .1
            .into_owned();
        let jwks =
            oidc_core::jose::Jwks::parse(w.gh.jwks(&op()).unwrap().to_string().as_bytes()).unwrap();
        let verified = oidc_core::jose::verify(
            &token,
            &jwks,
            &[oidc_core::jose::Algorithm::RS256],
            t0(),
            Duration::zero(),
        )
        .unwrap();
        let c = verified.claims();
        assert_eq!(c["iss"], "https://sso.example.com");
        assert_eq!(c["aud"], "app");
        assert_eq!(c["sub"], user_id.as_str());
        assert_eq!(c["sid"], sid.as_str());
        assert_eq!(c["iat"], t0().timestamp());
        assert_eq!(c["exp"], t0().timestamp() + 120);
        assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
        assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
        assert!(c.get("nonce").is_none());

        // Webhook: signed as documented.
        let hooks = w.rx.at("/hooks");
        assert_eq!(hooks.len(), 1);
        let event = verify_webhook(&hook.secret, &hooks[0]);
        assert_eq!(event["type"], "session.revoked");
        assert_eq!(event["tenant_id"], hook.endpoint.tenant_id.clone().unwrap());
        assert_eq!(event["data"]["session_id"], sid.as_str());
        assert_eq!(event["data"]["user_id"], user_id.as_str());
        assert_eq!(event["data"]["reason"], "revoked");

        // Nothing is sent twice; revoking again changes nothing.
        assert_eq!(w.gh.deliver_due(&at(5), 100).unwrap(), 0);
        w.gh.revoke_session(&op(), &sid, "again").unwrap();
        assert_eq!(w.gh.deliver_due(&at(6), 100).unwrap(), 0);
        assert_eq!(w.rx.at("/hooks").len() + w.rx.at("/backchannel").len(), 2);

        // The events API holds the same event, from a cursor; the audit chain has the record.
        let events = w.gh.events_since("acme", 0, 100).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["user.created", "session.revoked"], "{engine:?}");
        assert_eq!(events[1].seq, 2);
        assert_eq!(serde_json::to_value(&events[1]).unwrap(), event);
        assert!(w.gh.events_since("acme", 2, 100).unwrap().is_empty());
        let audit =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("session.terminated".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(w.gh.verify_audit_chain("acme").unwrap().map(|_| ()), Ok(()));
    }
}

#[test]
fn scim_deactivation_revokes_through_the_same_mechanism() {
    for engine in ENGINES {
        let w = world(engine, true);
        let d = w.gh.create_scim_directory(&op(), "acme", "Okta").unwrap();
        let issued = w.gh.issue_scim_token(&op(), &d.id).unwrap();
        let client = w.gh.authenticate_scim(t0(), &d.id, &issued.token).unwrap();
        let scim = Call {
            now: t0(),
            correlation_id: "scim-1".into(),
            actor: client.actor(),
        };
        let created =
            w.gh.scim_create(
                &scim,
                &client,
                ScimKind::User,
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "bob@acme.test",
                    "emails": [{"value": "bob@acme.test", "primary": true}]}),
            )
            .unwrap();
        let bob = created.body.unwrap()["id"].as_str().unwrap().to_owned();
        let (tokens, sid) = login(&w, "bob@acme.test");
        assert_eq!(user_of(&w, &sid), bob, "linked to the SCIM user");
        assert!(active(&w, &tokens));

        let r =
            w.gh.scim_patch(
                &scim,
                &client,
                ScimKind::User,
                &bob,
                &json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
                None,
            )
            .unwrap();
        assert_eq!(r.status, 200);
        assert!(!active(&w, &tokens), "{engine:?}");

        let started = Instant::now();
        assert_eq!(w.gh.deliver_due(&op(), 100).unwrap(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let bc = w.rx.at("/backchannel");
        assert_eq!(bc.len(), 1, "{engine:?}");
        assert!(bc[0].body.starts_with("logout_token="));

        let events = w.gh.events_since("acme", 0, 100).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        // The login brought the IdP's names to the SCIM-made user: `user.updated`.
        assert_eq!(
            types,
            [
                "user.created",
                "user.updated",
                "user.deactivated",
                "session.revoked"
            ],
            "{engine:?}"
        );
        assert_eq!(events[1].data["source"], "login");
        assert_eq!(events[3].data["reason"], "user_deactivated");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        // Paging with the cursor.
        let page = w.gh.events_since("acme", 2, 1).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].event_type, "user.deactivated");
    }
}

fn delivery_rows(w: &World) -> Vec<storage::models::Delivery> {
    let events = w.gh.events_since("acme", 0, 1000).unwrap();
    w.gh.store()
        .transaction(|c| {
            let mut all = Vec::new();
            for e in &events {
                all.extend(storage::outbox::deliveries_of_event(c, &e.id)?);
            }
            Ok::<_, storage::StorageError>(all)
        })
        .unwrap()
}

#[test]
fn a_failing_receiver_is_retried_with_backoff_and_later_events_wait_their_turn() {
    for engine in ENGINES {
        let w = world(engine, false);
        let (_, first) = login(&w, "alice@acme.test");
        login(&w, "alice@acme.test");
        let hook =
            w.gh.create_webhook_endpoint(&op(), None, &w.rx.url("/hooks"))
                .unwrap();
        let user = user_of(&w, &first);
        let ended = w.gh.revoke_user_sessions(&op(), &user, "").unwrap();
        assert_eq!(ended.len(), 2);
        w.rx.fail_next(&[500, 503]);

        // t=0: the first event fails; the second is not attempted (ordering).
        assert_eq!(w.gh.deliver_due(&at(0), 100).unwrap(), 0);
        assert_eq!(w.rx.at("/hooks").len(), 1, "{engine:?}");
        let rows = delivery_rows(&w);
        assert_eq!(rows[0].attempts, 1);
        assert_eq!(rows[0].next_attempt_at, t0().timestamp() + 1);
        assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(rows[1].attempts, 0);
        // Not due yet: nothing happens.
        assert_eq!(w.gh.deliver_due(&at(0), 100).unwrap(), 0);
        assert_eq!(w.rx.at("/hooks").len(), 1);
        // t=1: second failure, next attempt 2 s later.
        assert_eq!(w.gh.deliver_due(&at(1), 100).unwrap(), 0);
        let rows = delivery_rows(&w);
        assert_eq!(rows[0].attempts, 2);
        assert_eq!(rows[0].next_attempt_at, t0().timestamp() + 3);
        assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(w.gh.deliver_due(&at(2), 100).unwrap(), 0);
        // t=3: delivered; only then does the second event go out.
        assert_eq!(w.gh.deliver_due(&at(3), 100).unwrap(), 1);
        assert_eq!(w.gh.deliver_due(&at(3), 100).unwrap(), 1);
        let got: Vec<Value> =
            w.rx.at("/hooks")
                .iter()
                .map(|r| verify_webhook(&hook.secret, r))
                .collect();
        let order: Vec<(&str, &str)> = got
            .iter()
            .map(|e| {
                (
                    e["data"]["session_id"].as_str().unwrap(),
                    e["type"].as_str().unwrap(),
                )
            })
            .collect();
        // Events are numbered in the order the sessions were ended.
        let (a, b) = (ended[0].as_str(), ended[1].as_str());
        assert_eq!(
            order,
            [
                (a, "session.revoked"),
                (a, "session.revoked"),
                (a, "session.revoked"),
                (b, "session.revoked"),
            ],
            "{engine:?}"
        );
        assert!(delivery_rows(&w).iter().all(|d| d.delivered_at.is_some()));
    }
}

#[test]
fn a_delivery_enqueued_before_a_restart_is_delivered_after_it() {
    for engine in ENGINES {
        let w = world(engine, true);
        let (tokens, sid) = login(&w, "alice@acme.test");
        w.gh.revoke_session(&op(), &sid, "").unwrap();
        let World { db, gh, rx, .. } = w;
        drop(gh); // the process dies before the worker ran
        let restarted = facade(&db, 2);
        assert_eq!(restarted.deliver_due(&at(1), 100).unwrap(), 1, "{engine:?}");
        assert_eq!(rx.at("/backchannel").len(), 1);
        let _ = tokens;
    }
}

#[test]
fn a_claimed_delivery_is_not_sent_by_another_replica() {
    for engine in ENGINES {
        let w = world(engine, true);
        let (_, sid) = login(&w, "alice@acme.test");
        w.gh.revoke_session(&op(), &sid, "").unwrap();
        let d = delivery_rows(&w).remove(0);
        // Replica A holds the lease (as if its POST were in flight).
        let now = t0().timestamp();
        assert!(w
            .gh
            .store()
            .transaction(|c| storage::outbox::claim_delivery(c, &d.id, now, now + 30))
            .unwrap());
        let replica = facade(&w.db, 3);
        assert_eq!(replica.deliver_due(&at(1), 100).unwrap(), 0, "{engine:?}");
        assert!(w.rx.at("/backchannel").is_empty());
        // After the lease lapses (A died), B delivers.
        assert_eq!(replica.deliver_due(&at(31), 100).unwrap(), 1);
        assert_eq!(w.rx.at("/backchannel").len(), 1);
    }
}

#[test]
fn webhook_endpoints_are_admin_objects_with_a_secret_shown_once() {
    for engine in ENGINES {
        let w = world(engine, false);
        assert!(w
            .gh
            .create_webhook_endpoint(&op(), Some("acme"), "http://example.com/hook")
            .is_err());
        assert!(matches!(
            w.gh.create_webhook_endpoint(&op(), Some("nope"), "https://example.com/hook"),
            Err(GatehouseError::NotFound { what: "tenant" })
        ));
        let a =
            w.gh.create_webhook_endpoint(&op(), Some("acme"), &w.rx.url("/a"))
                .unwrap();
        let listed = w.gh.list_webhook_endpoints().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, a.endpoint.id);
        assert!(!serde_json::to_string(&listed).unwrap().contains(&a.secret));
        // Deleting drops its pending deliveries: nothing is posted to it afterwards.
        let (_, sid) = login(&w, "alice@acme.test");
        w.gh.revoke_session(&op(), &sid, "").unwrap();
        w.gh.delete_webhook_endpoint(&op(), &a.endpoint.id).unwrap();
        assert_eq!(w.gh.deliver_due(&op(), 100).unwrap(), 0, "{engine:?}");
        assert!(w.rx.at("/a").is_empty());
        assert!(w.gh.list_webhook_endpoints().unwrap().is_empty());
        assert!(matches!(
            w.gh.delete_webhook_endpoint(&op(), &a.endpoint.id),
            Err(GatehouseError::NotFound { .. })
        ));
    }
}

// ---------- role mapping kept true by SCIM; hand-granted roles; group events ----------

/// The claims of a JWT (the signature is verified elsewhere; here only the roles matter).
fn claims(jwt: &str) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn roles_of(tokens: &TokenResponse) -> Value {
    claims(&tokens.id_token)["roles"].clone()
}

struct Scim {
    client: ScimClient,
    call: Call,
}

fn scim(w: &World) -> Scim {
    let d = w.gh.create_scim_directory(&op(), "acme", "Okta").unwrap();
    let issued = w.gh.issue_scim_token(&op(), &d.id).unwrap();
    let client = w.gh.authenticate_scim(t0(), &d.id, &issued.token).unwrap();
    let call = Call {
        now: t0(),
        correlation_id: "scim-1".into(),
        actor: client.actor(),
    };
    Scim { client, call }
}

fn scim_user(w: &World, s: &Scim, user_name: &str, department: &str) -> String {
    let created =
        w.gh.scim_create(
            &s.call,
            &s.client,
            ScimKind::User,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "userName": user_name,
                "emails": [{"value": user_name, "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": department}}),
        )
        .unwrap();
    created.body.unwrap()["id"].as_str().unwrap().to_owned()
}

fn group_patch(w: &World, s: &Scim, group: &str, op: &str, user: &str) {
    let body = match op {
        "add" => json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]}),
        _ => json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]}),
    };
    let r =
        w.gh.scim_patch(&s.call, &s.client, ScimKind::Group, group, &body, None)
            .unwrap();
    assert!(r.status == 200 || r.status == 204, "{}", r.status);
}

const RULES: &str = r#"{
    "version": 1,
    "dimensions": {"market": {}},
    "rules": [
        {"id": "admins", "condition": {"group": {"name": "App Admins"}},
         "grants": [{"role": "admin"}]},
        {"id": "sales-india", "condition": {"attribute": {"name": "department", "value": "Sales"}},
         "grants": [{"role": "sales_representative", "scopes": {"market": "India"}}]}
    ],
    "unmatched_policy": "allow_without_roles"
}"#;

fn event_types(w: &World) -> Vec<String> {
    w.gh.events_since("acme", 0, 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

#[test]
fn scim_group_and_attribute_changes_remap_roles_and_the_next_token_carries_them_without_login() {
    for engine in ENGINES {
        let w = world(engine, false);
        w.gh.set_role_rules(&op(), "acme", RULES).unwrap();
        let s = scim(&w);
        let bob = scim_user(&w, &s, "bob@acme.test", "Engineering");
        let (tokens, sid) = login(&w, "bob@acme.test");
        assert_eq!(user_of(&w, &sid), bob);
        assert_eq!(roles_of(&tokens), json!([]), "{engine:?}");

        // Okta group push: the group is created with bob as a member.
        let group =
            w.gh.scim_create(
                &s.call,
                &s.client,
                ScimKind::Group,
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": "App Admins", "members": [{"value": bob}]}),
            )
            .unwrap();
        let group = group.body.unwrap()["id"].as_str().unwrap().to_owned();
        let refreshed =
            w.gh.refresh(&op(), &secret(&w), &tokens.refresh_token)
                .unwrap();
        assert_eq!(roles_of(&refreshed), json!(["admin"]), "{engine:?}");
        // Introspection and userinfo say the same at once.
        let info = w.gh.userinfo(&op(), &refreshed.access_token).unwrap();
        assert_eq!(info["roles"], json!(["admin"]));

        // An attribute change (department) maps too, with its scope.
        let r =
            w.gh.scim_patch(
                &s.call,
                &s.client,
                ScimKind::User,
                &bob,
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "Replace", "value": {
                          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"}}]}),
                None,
            )
            .unwrap();
        assert_eq!(r.status, 200);
        let refreshed =
            w.gh.refresh(&op(), &secret(&w), &refreshed.refresh_token)
                .unwrap();
        let c = claims(&refreshed.id_token);
        assert_eq!(
            c["roles"],
            json!(["admin", "sales_representative"]),
            "{engine:?}"
        );
        assert_eq!(
            c["grants"][1],
            json!({"role": "sales_representative", "scopes": {"market": "India"}})
        );

        // Removal takes the role away, again without a login.
        group_patch(&w, &s, &group, "remove", &bob);
        let refreshed =
            w.gh.refresh(&op(), &secret(&w), &refreshed.refresh_token)
                .unwrap();
        assert_eq!(
            roles_of(&refreshed),
            json!(["sales_representative"]),
            "{engine:?}"
        );

        // Each change is an audit record with before/after and an app event.
        let changes: Vec<_> =
            w.gh.user_history("acme", &bob)
                .unwrap()
                .into_iter()
                .filter(|r| r.event.event_type() == "user.roles_changed")
                .collect();
        assert_eq!(changes.len(), 3, "{engine:?}");
        let events = w.gh.events_since("acme", 0, 1000).unwrap();
        let role_events: Vec<&Value> = events
            .iter()
            .filter(|e| e.event_type == "user.roles_changed")
            .map(|e| &e.data)
            .collect();
        assert_eq!(role_events.len(), 3);
        assert_eq!(role_events[2]["before"].as_array().unwrap().len(), 2);
        assert_eq!(role_events[2]["grants"].as_array().unwrap().len(), 1);
        // The chain still verifies after all of it.
        assert!(w.gh.verify_audit_chain("acme").unwrap().is_ok());
    }
}

#[test]
fn a_deny_policy_tenant_loses_roles_when_scim_leaves_nothing_matching() {
    for engine in ENGINES {
        let w = world(engine, false);
        w.gh.set_role_rules(&op(), "acme", &RULES.replace("allow_without_roles", "deny"))
            .unwrap();
        let s = scim(&w);
        let carol = scim_user(&w, &s, "carol@acme.test", "Sales");
        let (tokens, _) = login(&w, "carol@acme.test");
        assert_eq!(roles_of(&tokens), json!(["sales_representative"]));
        let r =
            w.gh.scim_patch(
                &s.call,
                &s.client,
                ScimKind::User,
                &carol,
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path":
                          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                          "value": "Support"}]}),
                None,
            )
            .unwrap();
        assert_eq!(r.status, 200);
        let refreshed =
            w.gh.refresh(&op(), &secret(&w), &tokens.refresh_token)
                .unwrap();
        assert_eq!(roles_of(&refreshed), json!([]), "{engine:?}");
        assert_eq!(
            w.gh.user_roles("acme", &carol).unwrap().grants,
            Vec::<Grant>::new()
        );
    }
}

#[test]
fn roles_from_the_idp_cannot_be_edited_by_hand_but_hand_granted_roles_can() {
    for engine in ENGINES {
        // A tenant without rules: roles are granted by hand, audited, and in the next token.
        let w = world(engine, false);
        let (tokens, sid) = login(&w, "dave@acme.test");
        let dave = user_of(&w, &sid);
        assert_eq!(w.gh.user_roles("acme", &dave).unwrap().managed_by, "admin");
        let mut grant = Grant::new("billing_admin");
        grant.scopes.insert("account".into(), "acct-42".into());
        let set =
            w.gh.set_user_roles(&op(), "acme", &dave, vec![grant.clone()])
                .unwrap();
        assert_eq!(set.grants, vec![grant.clone()]);
        let refreshed =
            w.gh.refresh(&op(), &secret(&w), &tokens.refresh_token)
                .unwrap();
        assert_eq!(roles_of(&refreshed), json!(["billing_admin"]), "{engine:?}");
        // Later logins keep them (no rules, nothing to map).
        let (again, _) = login(&w, "dave@acme.test");
        assert_eq!(roles_of(&again), json!(["billing_admin"]));
        let history = w.gh.user_history("acme", &dave).unwrap();
        let change = history
            .iter()
            .find(|r| r.event.event_type() == "user.roles_changed")
            .unwrap();
        assert_eq!(change.actor.key(), "operator:test");
        assert!(event_types(&w).contains(&"user.roles_changed".to_owned()));
        // Bad shapes are refused, another tenant's id is not found.
        assert!(matches!(
            w.gh.set_user_roles(&op(), "acme", &dave, vec![Grant::new("")]),
            Err(GatehouseError::InvalidInput { .. })
        ));
        assert!(matches!(
            w.gh.set_user_roles(&op(), "acme", "usr_nope", vec![]),
            Err(GatehouseError::NotFound { .. })
        ));

        // Once the tenant maps roles from IdP groups, its SSO users' roles belong to the IdP.
        w.gh.set_role_rules(&op(), "acme", RULES).unwrap();
        assert_eq!(
            w.gh.user_roles("acme", &dave).unwrap().managed_by,
            "identity_provider"
        );
        let refused =
            w.gh.set_user_roles(&op(), "acme", &dave, vec![Grant::new("admin")]);
        match refused {
            Err(GatehouseError::ManagedElsewhere { reason }) => {
                assert!(
                    reason.contains("managed by the identity provider"),
                    "{reason}"
                )
            }
            other => panic!("{engine:?}: {other:?}"),
        }
        assert_eq!(w.gh.user_roles("acme", &dave).unwrap().grants, vec![grant]);
    }
}

#[test]
fn group_lifecycle_and_hard_delete_are_events_to_the_app() {
    for engine in ENGINES {
        let w = world(engine, false);
        let s = scim(&w);
        let erin = scim_user(&w, &s, "erin@acme.test", "Ops");
        let frank = scim_user(&w, &s, "frank@acme.test", "Ops");
        let created =
            w.gh.scim_create(
                &s.call,
                &s.client,
                ScimKind::Group,
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": "Ops", "members": [{"value": erin}]}),
            )
            .unwrap();
        let group = created.body.unwrap()["id"].as_str().unwrap().to_owned();
        group_patch(&w, &s, &group, "add", &frank);
        group_patch(&w, &s, &group, "remove", &erin);
        let r =
            w.gh.scim_patch(
                &s.call,
                &s.client,
                ScimKind::Group,
                &group,
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "value": {"displayName": "Operations"}}]}),
                None,
            )
            .unwrap();
        assert_eq!(r.status, 200);
        let r =
            w.gh.scim_delete(&s.call, &s.client, ScimKind::Group, &group, None)
                .unwrap();
        assert_eq!(r.status, 204);
        // Deactivate then hard-delete erin (an admin action).
        w.gh.scim_delete(&s.call, &s.client, ScimKind::User, &erin, None)
            .unwrap();
        w.gh.hard_delete_user(&op(), "acme", &erin).unwrap();

        let events = w.gh.events_since("acme", 0, 1000).unwrap();
        let group_events: Vec<(&str, Value)> = events
            .iter()
            .filter(|e| e.event_type.starts_with("group."))
            .map(|e| (e.event_type.as_str(), e.data["user_ids"].clone()))
            .collect();
        assert_eq!(
            group_events,
            [
                ("group.created", Value::Null),
                ("group.membership_added", json!([erin])),
                ("group.membership_added", json!([frank])),
                ("group.membership_removed", json!([erin])),
                ("group.updated", Value::Null),
                ("group.deleted", Value::Null),
                ("group.membership_removed", json!([frank])),
            ],
            "{engine:?}"
        );
        let renamed = events
            .iter()
            .find(|e| e.event_type == "group.updated")
            .unwrap();
        assert_eq!(renamed.data["display_name"], "Operations");
        let deleted: Vec<&Value> = events
            .iter()
            .filter(|e| e.event_type == "user.deleted")
            .map(|e| &e.data)
            .collect();
        assert_eq!(deleted.len(), 2, "SCIM delete, then the hard delete");
        assert_eq!(deleted[1]["hard_delete"], true);
        assert_eq!(deleted[1]["user_id"], erin.as_str());
    }
}

// ---------- session expiry on record ----------

fn sweep_at(secs: i64) -> Call {
    Call::system(t0() + Duration::seconds(secs))
}

/// Session id → the reasons of its `session.terminated` records, and the actors recording them.
fn terminations(w: &World) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> =
        w.gh.audit_events(&AuditEventFilter {
            tenant: "acme".into(),
            event_type: Some("session.terminated".into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| match r.event {
            audit::AuditEvent::SessionTerminated { session_id, reason } => (
                session_id,
                serde_json::to_value(reason)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r.actor.key(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn expired_sessions_are_recorded_once_each_and_otherwise_left_alone() {
    for engine in ENGINES {
        let w = world(engine, false);
        // Sessions last the tenant's default 900 s from t0.
        let (alice_tokens, alice) = login(&w, "alice@acme.test");
        let (_, bob) = login(&w, "bob@acme.test");
        let (_, carol) = login(&w, "carol@acme.test");
        w.gh.revoke_session(&op(), &carol, "left").unwrap();

        assert_eq!(
            w.gh.record_expired_sessions(&sweep_at(899), 100).unwrap(),
            0,
            "{engine:?}"
        );
        // Bounded: one per call when asked for one.
        assert_eq!(
            w.gh.record_expired_sessions(&sweep_at(900), 1).unwrap(),
            1,
            "{engine:?}"
        );
        assert_eq!(
            w.gh.record_expired_sessions(&sweep_at(901), 100).unwrap(),
            1,
            "{engine:?}"
        );
        assert_eq!(
            w.gh.record_expired_sessions(&sweep_at(960), 100).unwrap(),
            0,
            "{engine:?}"
        );

        let mut expected = vec![
            (
                alice.clone(),
                "expired".to_owned(),
                "system:gatehouse".to_owned(),
            ),
            (
                bob.clone(),
                "expired".to_owned(),
                "system:gatehouse".to_owned(),
            ),
            (
                carol.clone(),
                "revoked".to_owned(),
                "operator:test".to_owned(),
            ),
        ];
        expected.sort();
        assert_eq!(terminations(&w), expected, "{engine:?}");
        let records =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("session.terminated".into()),
                target: Some(user_of(&w, &alice)),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            records.len(),
            1,
            "{engine:?}: the record targets the session's user"
        );

        // The session itself is as it was: not revoked, live until its expiry for every token
        // path, and an operator can still revoke it (which is then recorded as such).
        let listed = w.gh.list_user_sessions(&user_of(&w, &alice)).unwrap();
        assert!(listed[0].revoked_at.is_none(), "{engine:?}");
        let introspect = |secs: i64| {
            w.gh.introspect(&at(secs), &secret(&w), &alice_tokens.access_token)
                .unwrap()["active"]
                .clone()
        };
        assert_eq!(introspect(899), true, "{engine:?}");
        assert_eq!(introspect(900), false, "{engine:?}");
        w.gh.revoke_session(&at(1000), &alice, "cleanup").unwrap();
        assert_eq!(terminations(&w).len(), 4, "{engine:?}");
        assert_eq!(
            w.gh.record_expired_sessions(&sweep_at(2000), 100).unwrap(),
            0
        );
        assert_eq!(w.gh.verify_audit_chain("acme").unwrap().map(|_| ()), Ok(()));
    }
}

#[test]
fn replicas_sweeping_at_once_record_each_expiry_exactly_once() {
    // Several processes write to one database at once only on PostgreSQL.
    let w = world(Engine::Postgres, false);
    let sessions: Vec<String> = (0..6)
        .map(|i| login(&w, &format!("user{i}@acme.test")).1)
        .collect();
    let replicas: Vec<Gatehouse> = (0..4).map(|i| facade(&w.db, 100 + i)).collect();
    let recorded: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = replicas
            .iter()
            .map(|replica| {
                scope.spawn(move || {
                    let mut mine = 0;
                    for _ in 0..10 {
                        mine += replica.record_expired_sessions(&sweep_at(1000), 2).unwrap();
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(recorded, sessions.len());
    let ended: Vec<String> = terminations(&w).into_iter().map(|(id, _, _)| id).collect();
    let mut expected = sessions.clone();
    expected.sort();
    assert_eq!(ended, expected, "each session once");
    assert_eq!(w.gh.verify_audit_chain("acme").unwrap().map(|_| ()), Ok(()));
}
