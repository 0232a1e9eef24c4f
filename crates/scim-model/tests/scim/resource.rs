use chrono::{TimeZone, Utc};
use expect_test::{expect, Expect};
use scim_model::resource::{Group, User};
use scim_model::{
    replace_resource, schema, set_server_attributes, validate_resource, Meta, ResourceSchema,
};
use serde_json::{json, Value};

use crate::{fixture, pretty, render_error};

fn check(schema: &ResourceSchema, input: &Value, expect: Expect) {
    let out = match validate_resource(schema, input) {
        Ok(v) => pretty(&v),
        Err(e) => render_error(&e),
    };
    expect.assert_eq(&out);
}

#[test]
fn okta_create_drops_password_and_read_only_groups() {
    check(
        &schema::USER,
        &fixture("okta/user_create.json"),
        expect![[r#"
        {
          "active": true,
          "displayName": "Carol Danvers",
          "emails": [
            {
              "primary": true,
              "type": "work",
              "value": "carol@acme.example"
            }
          ],
          "externalId": "00ujl29u0le5T6Aj10h7",
          "locale": "en-US",
          "name": {
            "familyName": "Danvers",
            "givenName": "Carol"
          },
          "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User"
          ],
          "userName": "carol@acme.example"
        }"#]],
    );
}

#[test]
fn entra_create_keeps_extensions_and_wraps_manager() {
    check(
        &schema::USER,
        &fixture("entra/user_create.json"),
        expect![[r#"
        {
          "active": true,
          "emails": [
            {
              "primary": true,
              "type": "work",
              "value": "Test_User_fd0ea13b@testuser.com"
            }
          ],
          "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
          "name": {
            "familyName": "familyName",
            "formatted": "givenName familyName",
            "givenName": "givenName"
          },
          "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
          ],
          "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {
            "worksiteId": "180"
          },
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Sales",
            "manager": {
              "value": "2819c223-7f76-453a-919d-413861904646"
            }
          },
          "userName": "Test_User_ab6490ee@testuser.com"
        }"#]],
    );
}

#[test]
fn attribute_names_are_case_insensitive_and_canonicalised() {
    check(
        &schema::USER,
        &json!({
            "SCHEMAS": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],
            "USERNAME": "bob",
            "Name": {"GIVENNAME": "Bob"},
            "Emails": [{"VALUE": "bob@x", "Primary": "true"}],
            "id": "client-chosen",
            "unknownCoreAttribute": 1,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"
        }),
        expect![[r#"
            {
              "emails": [
                {
                  "primary": true,
                  "value": "bob@x"
                }
              ],
              "name": {
                "givenName": "Bob"
              },
              "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
              ],
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Ops"
              },
              "userName": "bob"
            }"#]],
    );
}

#[test]
fn invalid_resources() {
    let cases = [
        json!([]),
        json!({"userName": "x"}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x"}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": ""}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 7}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "active": "yes"}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "name": "flat"}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x",
               "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": " \t "}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x".repeat(1025)}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x",
               "externalId": "é".repeat(513)}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x",
               "emails": [{"value": "x".repeat(1025)}]}),
        // At the bound: accepted.
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x".repeat(1024)}),
    ];
    let out: Vec<String> = cases
        .iter()
        .map(|c| match validate_resource(&schema::USER, c) {
            Ok(_) => "ok".to_string(),
            Err(e) => render_error(&e),
        })
        .collect();
    expect![[r#"
        [
            "error 400 invalidSyntax",
            "error 400 invalidSyntax",
            "error 400 invalidSyntax",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "ok",
        ]
    "#]]
    .assert_debug_eq(&out);
}

#[test]
fn put_keeps_server_owned_attributes() {
    let existing = fixture("base/user.json");
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "ignored",
        "userName": "alice@acme.example",
        "groups": [{"value": "forged"}],
        "active": false
    });
    let new = replace_resource(&schema::USER, &existing, &body).unwrap();
    assert_eq!(new["id"], existing["id"]);
    assert_eq!(new["meta"], existing["meta"]);
    assert_eq!(new["groups"], existing["groups"]);
    assert_eq!(new["active"], json!(false));
    // PUT replaces: attributes not sent are gone.
    assert!(new.get("title").is_none());
    assert!(new
        .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        .is_none());
}

#[test]
fn typed_views() {
    let user = User::from_resource(&fixture("base/user.json")).unwrap();
    assert_eq!(user.user_name, "alice@acme.example");
    assert_eq!(user.primary_email(), Some("alice@acme.example"));
    assert_eq!(user.active, Some(true));
    assert_eq!(
        user.enterprise.and_then(|e| e.department).as_deref(),
        Some("Engineering")
    );
    let group = Group::from_resource(&fixture("base/group.json")).unwrap();
    let ids: Vec<&str> = group.members.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(
        ids,
        [
            "2819c223-7f76-453a-919d-413861904646",
            "902c246b-6245-4190-8e05-00816be7344a"
        ]
    );
    assert!(User::from_resource(&json!({"userName": 1})).is_err());
}

#[test]
fn meta_is_server_stamped() {
    let mut group = validate_resource(
        &schema::GROUP,
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops",
                "meta": {"resourceType": "Forged"}}),
    )
    .unwrap();
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let meta = Meta::new(
        &schema::GROUP,
        "https://gh.example/scim/v2/",
        "g-1",
        t,
        t,
        Some("W/\"1\"".into()),
    );
    set_server_attributes(&mut group, "g-1", &meta);
    expect![[r#"
        {
          "displayName": "Ops",
          "id": "g-1",
          "meta": {
            "created": "2026-03-01T12:00:00.000Z",
            "lastModified": "2026-03-01T12:00:00.000Z",
            "location": "https://gh.example/scim/v2/Groups/g-1",
            "resourceType": "Group",
            "version": "W/\"1\""
          },
          "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:Group"
          ]
        }"#]]
    .assert_eq(&pretty(&group));
}
