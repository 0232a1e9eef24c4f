use expect_test::{expect, Expect};
use scim_model::{schema, PatchRequest, ResourceSchema};
use serde_json::{json, Value};

use crate::{fixture, pretty, render_error};

fn render(schema: &ResourceSchema, base: &Value, request: &Value) -> String {
    let result = PatchRequest::parse(request, 100).and_then(|r| r.apply(schema, base));
    match result {
        Ok(outcome) => {
            // Only the top-level members that differ from the base (null = removed), so each
            // golden shows exactly what the PATCH did; `no_change_patch_is_empty` and the
            // unchanged-members assertions below cover the rest.
            let (old, new) = (
                base.as_object().unwrap(),
                outcome.resource.as_object().unwrap(),
            );
            let mut diff = serde_json::Map::new();
            for key in old.keys().chain(new.keys()) {
                if old.get(key) != new.get(key) {
                    diff.insert(key.clone(), new.get(key).cloned().unwrap_or(Value::Null));
                }
            }
            assert_eq!(
                new.get("meta"),
                old.get("meta"),
                "PATCH must not touch meta"
            );
            assert_eq!(new.get("id"), old.get("id"), "PATCH must not touch id");
            format!(
                "changed: {:?}\nmembers added: {:?}\nmembers removed: {:?}\n{}\n",
                outcome.changes.changed_attributes,
                outcome.changes.members_added,
                outcome.changes.members_removed,
                pretty(&Value::Object(diff))
            )
        }
        Err(e) => render_error(&e),
    }
}

fn check_fixture(name: &str, expect: Expect) {
    let file = name.rsplit('/').next().unwrap();
    let (schema, base) = if file.starts_with("group_") {
        (&schema::GROUP, fixture("base/group.json"))
    } else {
        (&schema::USER, fixture("base/user.json"))
    };
    expect.assert_eq(&render(schema, &base, &fixture(name)));
}

fn ops(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn check_user(operations: Value, expect: Expect) {
    expect.assert_eq(&render(
        &schema::USER,
        &fixture("base/user.json"),
        &ops(operations),
    ));
}

fn check_group(operations: Value, expect: Expect) {
    expect.assert_eq(&render(
        &schema::GROUP,
        &fixture("base/group.json"),
        &ops(operations),
    ));
}

#[test]
fn okta_user_deactivate() {
    check_fixture(
        "okta/user_deactivate.json",
        expect![[r#"
        changed: ["active"]
        members added: []
        members removed: []
        {
          "active": false
        }
    "#]],
    );
}

#[test]
fn okta_group_rename_repeats_id() {
    check_fixture(
        "okta/group_rename.json",
        expect![[r#"
        changed: ["displayName"]
        members added: []
        members removed: []
        {
          "displayName": "Platform Engineering"
        }
    "#]],
    );
}

#[test]
fn okta_group_add_members_is_idempotent_for_existing() {
    check_fixture(
        "okta/group_add_members.json",
        expect![[r#"
            changed: ["members"]
            members added: ["5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11"]
            members removed: []
            {
              "members": [
                {
                  "display": "alice@acme.example",
                  "value": "2819c223-7f76-453a-919d-413861904646"
                },
                {
                  "display": "bob@acme.example",
                  "value": "902c246b-6245-4190-8e05-00816be7344a"
                },
                {
                  "value": "5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11"
                }
              ]
            }
        "#]],
    );
}

#[test]
fn okta_group_remove_member_by_filter() {
    check_fixture(
        "okta/group_remove_member.json",
        expect![[r#"
        changed: ["members"]
        members added: []
        members removed: ["902c246b-6245-4190-8e05-00816be7344a"]
        {
          "members": [
            {
              "display": "alice@acme.example",
              "value": "2819c223-7f76-453a-919d-413861904646"
            }
          ]
        }
    "#]],
    );
}

#[test]
fn entra_user_replace_attributes() {
    check_fixture(
        "entra/user_replace_attributes.json",
        expect![[r#"
        changed: ["emails", "name"]
        members added: []
        members removed: []
        {
          "emails": [
            {
              "primary": true,
              "type": "work",
              "value": "updatedEmail@acme.example"
            },
            {
              "type": "home",
              "value": "alice@home.example"
            }
          ],
          "name": {
            "familyName": "updatedFamilyName",
            "givenName": "Alice"
          }
        }
    "#]],
    );
}

#[test]
fn entra_user_disable_with_string_boolean() {
    check_fixture(
        "entra/user_disable.json",
        expect![[r#"
        changed: ["active"]
        members added: []
        members removed: []
        {
          "active": false
        }
    "#]],
    );
}

#[test]
fn entra_user_pathless_replace_with_dotted_and_urn_keys() {
    check_fixture(
        "entra/user_pathless_replace.json",
        expect![[r#"
        changed: ["displayName", "name", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]
        members added: []
        members removed: []
        {
          "displayName": "Alice Pleasance Liddell",
          "name": {
            "familyName": "Liddell",
            "givenName": "Alicia"
          },
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "costCenter": "CC-42",
            "department": "Research",
            "employeeNumber": "1001"
          }
        }
    "#]],
    );
}

#[test]
fn entra_user_add_work_email_updates_existing() {
    check_fixture(
        "entra/user_add_work_email.json",
        expect![[r#"
        changed: ["emails", "title"]
        members added: []
        members removed: []
        {
          "emails": [
            {
              "primary": true,
              "type": "work",
              "value": "alice.liddell@acme.example"
            },
            {
              "type": "home",
              "value": "alice@home.example"
            }
          ],
          "title": "Senior Engineer"
        }
    "#]],
    );
}

#[test]
fn entra_user_add_work_email_creates_missing() {
    let mut base = fixture("base/user.json");
    base.as_object_mut().unwrap().remove("emails");
    expect![[r#"
        changed: ["emails", "title"]
        members added: []
        members removed: []
        {
          "emails": [
            {
              "type": "work",
              "value": "alice.liddell@acme.example"
            }
          ],
          "title": "Senior Engineer"
        }
    "#]]
    .assert_eq(&render(
        &schema::USER,
        &base,
        &fixture("entra/user_add_work_email.json"),
    ));
}

#[test]
fn entra_user_manager_as_plain_string() {
    check_fixture(
        "entra/user_manager_add.json",
        expect![[r#"
        changed: ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"]
        members added: []
        members removed: []
        {
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Engineering",
            "employeeNumber": "1001",
            "manager": {
              "value": "902c246b-6245-4190-8e05-00816be7344a"
            }
          }
        }
    "#]],
    );
}

#[test]
fn entra_user_manager_remove() {
    let base = fixture("base/user.json");
    let with_manager = PatchRequest::parse(&fixture("entra/user_manager_add.json"), 10)
        .unwrap()
        .apply(&schema::USER, &base)
        .unwrap()
        .resource;
    expect![[r#"
        changed: ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"]
        members added: []
        members removed: []
        {
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Engineering",
            "employeeNumber": "1001"
          }
        }
    "#]]
    .assert_eq(&render(
        &schema::USER,
        &with_manager,
        &fixture("entra/user_manager_remove.json"),
    ));
}

#[test]
fn entra_user_custom_extension_is_kept() {
    check_fixture(
        "entra/user_custom_extension_add.json",
        expect![[r#"
        changed: ["urn:ietf:params:scim:schemas:extension:custom:2.0:User:department_ids"]
        members added: []
        members removed: []
        {
          "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
          ],
          "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {
            "department_ids": [
              {
                "value": "1"
              }
            ]
          }
        }
    "#]],
    );
}

#[test]
fn entra_app_role_with_string_boolean_filter() {
    check_fixture(
        "entra/user_app_role.json",
        expect![[r#"
        changed: ["roles"]
        members added: []
        members removed: []
        {
          "roles": [
            {
              "primary": true,
              "value": "Auditor"
            }
          ]
        }
    "#]],
    );
}

#[test]
fn entra_group_add_members() {
    check_fixture(
        "entra/group_add_members.json",
        expect![[r#"
        changed: ["members"]
        members added: ["5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11"]
        members removed: []
        {
          "members": [
            {
              "display": "alice@acme.example",
              "value": "2819c223-7f76-453a-919d-413861904646"
            },
            {
              "display": "bob@acme.example",
              "value": "902c246b-6245-4190-8e05-00816be7344a"
            },
            {
              "value": "5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11"
            }
          ]
        }
    "#]],
    );
}

#[test]
fn entra_group_remove_only_listed_members() {
    check_fixture(
        "entra/group_remove_members.json",
        expect![[r#"
        changed: ["members"]
        members added: []
        members removed: ["902c246b-6245-4190-8e05-00816be7344a"]
        {
          "members": [
            {
              "display": "alice@acme.example",
              "value": "2819c223-7f76-453a-919d-413861904646"
            }
          ]
        }
    "#]],
    );
}

#[test]
fn entra_group_replace_display_name() {
    check_fixture(
        "entra/group_replace_display_name.json",
        expect![[r#"
        changed: ["displayName"]
        members added: []
        members removed: []
        {
          "displayName": "Engineering (all)"
        }
    "#]],
    );
}

#[test]
fn read_only_and_immutable_targets_are_mutability_errors() {
    for operations in [
        json!([{"op": "replace", "path": "id", "value": "other"}]),
        json!([{"op": "replace", "value": {"id": "other"}}]),
        json!([{"op": "remove", "path": "meta"}]),
        json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
        json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "Boss"}]),
    ] {
        let out = render(
            &schema::USER,
            &fixture("base/user.json"),
            &ops(operations.clone()),
        );
        assert_eq!(out, "error 400 mutability", "{operations}");
    }
    let out = render(
        &schema::GROUP,
        &fixture("base/group.json"),
        &ops(
            json!([{"op": "replace", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].value", "value": "x"}]),
        ),
    );
    assert_eq!(out, "error 400 mutability");
    // The same identity change through a value-filter merge.
    let out = render(
        &schema::GROUP,
        &fixture("base/group.json"),
        &ops(
            json!([{"op": "replace", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]", "value": {"value": "x"}}]),
        ),
    );
    assert_eq!(out, "error 400 mutability");
    // A member's `display` is readOnly (the server shows the member's own name): a value
    // carrying one is accepted and the `display` ignored, as readOnly values on POST/PUT are.
    let out = render(
        &schema::GROUP,
        &fixture("base/group.json"),
        &ops(
            json!([{"op": "replace", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]",
                     "value": {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Bob"}}]),
        ),
    );
    assert_eq!(
        out,
        "changed: []\nmembers added: []\nmembers removed: []\n{}\n"
    );
}

#[test]
fn error_cases() {
    check_user(
        json!([{"op": "remove", "path": "userName"}]),
        expect!["error 400 invalidValue"],
    );
    check_group(
        json!([{"op": "replace", "path": "displayName", "value": null}]),
        expect!["error 400 invalidValue"],
    );
    check_user(json!([{"op": "remove"}]), expect!["error 400 noTarget"]);
    check_user(
        json!([{"op": "replace", "path": "nonsense", "value": 1}]),
        expect!["error 400 invalidPath"],
    );
    check_user(
        json!([{"op": "replace", "path": "name.nonsense", "value": 1}]),
        expect!["error 400 invalidPath"],
    );
    check_user(
        json!([{"op": "replace", "path": "emails[type eq", "value": 1}]),
        expect!["error 400 invalidFilter"],
    );
    check_user(
        json!([{"op": "replace", "path": "title[value eq \"x\"]", "value": "x"}]),
        expect!["error 400 invalidPath"],
    );
    check_user(
        json!([{"op": "replace", "path": "emails[type co \"w\"].value", "value": "x@y"}]),
        expect![[r#"
        changed: ["emails"]
        members added: []
        members removed: []
        {
          "emails": [
            {
              "primary": true,
              "type": "work",
              "value": "x@y"
            },
            {
              "type": "home",
              "value": "alice@home.example"
            }
          ]
        }
    "#]],
    );
    // A filter that cannot describe a new value and matches nothing has no target.
    check_user(
        json!([{"op": "replace", "path": "emails[type co \"zzz\"].value", "value": "x@y"}]),
        expect!["error 400 noTarget"],
    );
    check_user(
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        expect!["error 400 invalidValue"],
    );
    check_user(
        json!([{"op": "replace", "path": "title", "value": {"a": 1}}]),
        expect!["error 400 invalidValue"],
    );
    check_user(
        json!([{"op": "move", "path": "title", "value": "x"}]),
        expect!["error 400 invalidSyntax"],
    );
    check_user(
        json!([{"op": "add", "path": "title"}]),
        expect!["error 400 invalidSyntax"],
    );
    check_user(
        json!([{"op": "replace", "path": "emails.value", "value": "x@y"}]),
        expect!["error 400 invalidPath"],
    );
    check_user(
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@b", "primary": true}, {"value": "c@d", "primary": true}]}]),
        expect!["error 400 invalidValue"],
    );
    let not_patch =
        json!({"schemas": ["urn:x"], "Operations": [{"op": "remove", "path": "title"}]});
    expect!["error 400 invalidSyntax"].assert_eq(&render(
        &schema::USER,
        &fixture("base/user.json"),
        &not_patch,
    ));
    let too_many = ops(Value::Array(vec![
        json!({"op": "remove", "path": "title"});
        101
    ]));
    expect!["error 413 -"].assert_eq(&render(
        &schema::USER,
        &fixture("base/user.json"),
        &too_many,
    ));
}

#[test]
fn rfc_7644_examples() {
    check_user(
        json!([
            {"op": "add", "path": "emails", "value": [{"value": "alice@new.example", "type": "other", "primary": true}]},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "replace", "path": "name", "value": {"givenName": "Al", "middleName": "P"}},
            {"op": "add", "value": {"nickName": "Ali", "emails": [{"value": "ALICE@acme.example", "display": "Alice"}]}},
            {"op": "remove", "path": "emails[type eq \"nonexistent\"]"},
            {"op": "replace", "path": "phoneNumbers", "value": [{"value": "+1 555 0100", "type": "mobile"}]},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"division": "R&D"}},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}
        ]),
        expect![[r#"
            changed: ["emails", "name", "nickName", "phoneNumbers", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]
            members added: []
            members removed: []
            {
              "emails": [
                {
                  "display": "Alice",
                  "primary": false,
                  "type": "work",
                  "value": "ALICE@acme.example"
                },
                {
                  "primary": true,
                  "type": "other",
                  "value": "alice@new.example"
                }
              ],
              "name": {
                "familyName": "Liddell",
                "givenName": "Al",
                "middleName": "P"
              },
              "nickName": "Ali",
              "phoneNumbers": [
                {
                  "type": "mobile",
                  "value": "+1 555 0100"
                }
              ],
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Engineering",
                "division": "R&D"
              }
            }
        "#]],
    );
}

#[test]
fn removing_all_extension_attributes_drops_the_schema() {
    check_user(
        json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"},
               {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]),
        expect![[r#"
            changed: ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]
            members added: []
            members removed: []
            {
              "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User"
              ],
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": null
            }
        "#]],
    );
}

#[test]
fn removing_a_whole_extension_by_its_urn() {
    // Found by scim2-tester (`check_remove_attribute` on the extension's URN): the remove used
    // to be read as a path-less operation and refused for lacking an object value.
    check_user(
        json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]),
        expect![[r#"
            changed: ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]
            members added: []
            members removed: []
            {
              "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User"
              ],
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": null
            }
        "#]],
    );
}

#[test]
fn group_replace_members_reports_both_directions() {
    check_group(
        json!([{"op": "replace", "path": "members", "value": [
            {"value": "902c246b-6245-4190-8e05-00816be7344a"},
            {"value": "5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11"}
        ]}]),
        expect![[r#"
            changed: ["members"]
            members added: ["5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11"]
            members removed: ["2819c223-7f76-453a-919d-413861904646"]
            {
              "members": [
                {
                  "value": "902c246b-6245-4190-8e05-00816be7344a"
                },
                {
                  "value": "5d48a0a8-e8f4-4a4f-8a0c-6d0e4a0e0c11"
                }
              ]
            }
        "#]],
    );
    check_group(
        json!([{"op": "remove", "path": "members"}]),
        expect![[r#"
        changed: ["members"]
        members added: []
        members removed: ["2819c223-7f76-453a-919d-413861904646", "902c246b-6245-4190-8e05-00816be7344a"]
        {
          "members": null
        }
    "#]],
    );
}

#[test]
fn no_change_patch_is_empty() {
    let base = fixture("base/group.json");
    let out = PatchRequest::parse(
        &ops(json!([{"op": "add", "path": "members", "value": [{"value": "902c246b-6245-4190-8e05-00816be7344a"}]}])),
        10,
    )
    .unwrap()
    .apply(&schema::GROUP, &base)
    .unwrap();
    assert!(out.changes.is_empty(), "{:?}", out.changes);
    assert_eq!(out.resource, base);
}

/// A member is its id: one sent without `value` is refused rather than dropped (which answered
/// success for a change that did nothing), and `value` cannot be removed from members.
#[test]
fn members_need_their_value() {
    let group = fixture("base/group.json");
    for operations in [
        json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
        json!([{"op": "add", "value": {"members": [{"display": "x", "type": "User"}]}}]),
        json!([{"op": "replace", "path": "members", "value": [{"$ref": "https://x/Users/1"}]}]),
        json!([{"op": "remove", "path": "members.value"}]),
        json!([{"op": "remove", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].value"}]),
    ] {
        let out = render(&schema::GROUP, &group, &ops(operations.clone()));
        assert_eq!(out, "error 400 invalidValue", "{operations}");
    }
    // An empty object names nothing and changes nothing; it is not a member without an id.
    let out = render(
        &schema::GROUP,
        &group,
        &ops(json!([{"op": "add", "path": "members", "value": [{}]}])),
    );
    assert_eq!(
        out,
        "changed: []\nmembers added: []\nmembers removed: []\n{}\n"
    );
}

/// The value rules (not blank, indexed values at most 1024 bytes) judge what a request brings,
/// not what was stored before them: an old record that breaks one must stay deactivatable.
#[test]
fn value_rules_judge_what_changes() {
    let mut old = fixture("base/user.json");
    old["userName"] = json!("   ");
    old["emails"] = json!([{"value": format!("{}@x", "a".repeat(1100))}]);
    let deactivate = ops(json!([{"op": "replace", "value": {"active": false}}]));
    let outcome = PatchRequest::parse(&deactivate, 100)
        .and_then(|p| p.apply(&schema::USER, &old))
        .unwrap();
    assert_eq!(outcome.resource["active"], json!(false));
    for operations in [
        json!([{"op": "replace", "path": "userName", "value": " \t"}]),
        json!([{"op": "add", "path": "emails", "value": [{"value": "b".repeat(1025)}]}]),
    ] {
        let out = render(
            &schema::USER,
            &fixture("base/user.json"),
            &ops(operations.clone()),
        );
        assert_eq!(out, "error 400 invalidValue", "{operations}");
    }
}
