use expect_test::expect;
use scim_model::ScimError;

#[test]
fn status_and_scim_type_mapping() {
    let errors = [
        ScimError::InvalidFilter {
            position: 3,
            reason: "x",
        },
        ScimError::TooMany {
            what: "results",
            limit: 10,
        },
        ScimError::Uniqueness {
            attribute: "userName".into(),
        },
        ScimError::Mutability {
            attribute: "id".into(),
            reason: "readOnly",
        },
        ScimError::InvalidSyntax { reason: "x".into() },
        ScimError::InvalidPath {
            path: "p".into(),
            reason: "x",
        },
        ScimError::NoTarget { path: "p".into() },
        ScimError::InvalidValue {
            attribute: "a".into(),
            reason: "x",
        },
        ScimError::InvalidVersion,
        ScimError::Sensitive { reason: "x" },
        ScimError::PayloadTooLarge {
            size: Some(2),
            limit: 1,
        },
        ScimError::TooManyOperations { limit: 1000 },
        ScimError::DiscoveryFilter,
        ScimError::NotFound,
        ScimError::PreconditionFailed,
    ];
    let table: Vec<String> = errors
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.status(),
                e.scim_type().map_or("-", |t| t.as_str())
            )
        })
        .collect();
    expect![[r#"
        [
            "400 invalidFilter",
            "400 tooMany",
            "409 uniqueness",
            "400 mutability",
            "400 invalidSyntax",
            "400 invalidPath",
            "400 noTarget",
            "400 invalidValue",
            "400 invalidVers",
            "403 sensitive",
            "413 -",
            "413 -",
            "403 -",
            "404 -",
            "412 -",
        ]
    "#]]
    .assert_debug_eq(&table);
}

#[test]
fn error_response_document() {
    let e = ScimError::Uniqueness {
        attribute: "userName".into(),
    };
    // The detail is prose for humans; the golden pins the document's shape, not its wording.
    let mut doc = e.to_response();
    let detail = doc.as_object_mut().unwrap().remove("detail").unwrap();
    assert!(detail.as_str().is_some_and(|d| d.contains("userName")));
    expect![[r#"
        {
          "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:Error"
          ],
          "scimType": "uniqueness",
          "status": "409"
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&doc).unwrap());
    let body = ScimError::NotFound.to_response();
    assert!(body.get("scimType").is_none());
    assert_eq!(body["status"], "404");
}
