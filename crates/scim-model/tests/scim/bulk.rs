use std::collections::BTreeMap;

use expect_test::expect;
use scim_model::bulk::{bulk_id_references, resolve_bulk_ids, resolve_bulk_path};
use scim_model::{
    BulkLimits, BulkMethod, BulkOperationResult, BulkRequest, BulkResponse, ScimError,
};
use serde_json::json;

use crate::{pretty, render_error};

const LIMITS: BulkLimits = BulkLimits {
    max_operations: 3,
    max_payload_size: 4096,
};

fn body(ops: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 1,
        "Operations": ops,
    }))
    .unwrap()
}

#[test]
fn parse_order_and_resolve_forward_references() {
    // The group is listed first but references the user created later (RFC 7644 §3.7.2).
    let raw = body(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "grp",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
                  "members": [{"type": "User", "value": "bulkId:usr"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "usr",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u"}},
        {"method": "PATCH", "path": "/Groups/bulkId:grp",
         "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "displayName", "value": "G2"}]}}
    ]));
    let req = BulkRequest::parse(&raw, LIMITS).unwrap();
    assert_eq!(req.fail_on_errors, Some(1));
    assert_eq!(req.execution_order().unwrap(), vec![1, 0, 2]);

    let mut data = req.operations[0].data.clone().unwrap();
    assert_eq!(bulk_id_references(&data), vec!["usr".to_string()]);
    let resolved = BTreeMap::from([
        ("usr".to_string(), "u-1".to_string()),
        ("grp".to_string(), "g-1".to_string()),
    ]);
    resolve_bulk_ids(&mut data, &resolved).unwrap();
    assert_eq!(data["members"][0]["value"], "u-1");
    assert_eq!(
        resolve_bulk_path(&req.operations[2].path, &resolved).unwrap(),
        "/Groups/g-1"
    );
    let (rt, id) = req.operations[2].target().unwrap();
    assert_eq!((rt.name, id), ("Group", Some("bulkId:grp")));

    let mut unresolved = json!({"value": "bulkId:nope"});
    assert_eq!(
        render_error(&resolve_bulk_ids(&mut unresolved, &resolved).unwrap_err()),
        "error 400 invalidValue"
    );
}

#[test]
fn limits_and_malformed_requests() {
    let big = vec![b' '; 5000];
    assert_eq!(
        render_error(&BulkRequest::parse(&big, LIMITS).unwrap_err()),
        "error 413 -"
    );
    let four = body(serde_json::Value::Array(vec![
        json!({"method": "DELETE", "path": "/Users/a"});
        4
    ]));
    assert_eq!(
        render_error(&BulkRequest::parse(&four, LIMITS).unwrap_err()),
        "error 413 -"
    );
    let cases = [
        json!([{"method": "POST", "path": "/Users", "data": {}}]),
        json!([{"method": "GET", "path": "/Users/a"}]),
        json!([{"method": "DELETE", "path": "/Widgets/a"}]),
        json!([{"method": "DELETE", "path": "/Users"}]),
        json!([{"method": "POST", "bulkId": "x", "path": "/Users/a", "data": {}}]),
        json!([{"method": "PUT", "path": "/Users/a"}]),
        json!([{"method": "POST", "bulkId": "x", "path": "/Users", "data": {}},
               {"method": "POST", "bulkId": "x", "path": "/Users", "data": {}}]),
    ];
    let out: Vec<String> = cases
        .iter()
        .map(|ops| match BulkRequest::parse(&body(ops.clone()), LIMITS) {
            Ok(_) => "ok".into(),
            Err(e) => render_error(&e),
        })
        .collect();
    expect![[r#"
        [
            "error 400 invalidSyntax",
            "error 400 invalidSyntax",
            "error 400 invalidPath",
            "error 400 invalidPath",
            "error 400 invalidPath",
            "error 400 invalidSyntax",
            "error 400 invalidSyntax",
        ]
    "#]]
    .assert_debug_eq(&out);

    let cycle = body(json!([
        {"method": "POST", "bulkId": "a", "path": "/Groups", "data": {"members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "bulkId": "b", "path": "/Groups", "data": {"members": [{"value": "bulkId:a"}]}}
    ]));
    let req = BulkRequest::parse(&cycle, LIMITS).unwrap();
    assert!(matches!(
        req.execution_order(),
        Err(ScimError::InvalidValue { .. })
    ));
}

#[test]
fn response_document() {
    let req = BulkRequest::parse(
        &body(
            json!([{"method": "POST", "bulkId": "q", "path": "/Users", "data": {"userName": "x"}}]),
        ),
        LIMITS,
    )
    .unwrap();
    let resp = BulkResponse {
        operations: vec![
            BulkOperationResult {
                method: BulkMethod::Post,
                bulk_id: Some("ok1".into()),
                version: Some("W/\"1\"".into()),
                location: Some("https://gh.example/scim/v2/Users/u-1".into()),
                status: 201,
                response: None,
            },
            BulkOperationResult::failed(
                &req.operations[0],
                &ScimError::Uniqueness {
                    attribute: "userName".into(),
                },
            ),
        ],
    };
    expect![[r#"
        {
          "Operations": [
            {
              "bulkId": "ok1",
              "location": "https://gh.example/scim/v2/Users/u-1",
              "method": "POST",
              "status": "201",
              "version": "W/\"1\""
            },
            {
              "bulkId": "q",
              "method": "POST",
              "response": {
                "detail": "attribute userName must be unique",
                "schemas": [
                  "urn:ietf:params:scim:api:messages:2.0:Error"
                ],
                "scimType": "uniqueness",
                "status": "409"
              },
              "status": "409"
            }
          ],
          "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
          ]
        }"#]]
    .assert_eq(&pretty(&resp.to_json()));
}
