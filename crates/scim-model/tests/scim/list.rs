use expect_test::{expect, Expect};
use scim_model::{
    schema, ListResponse, Pagination, PaginationLimits, Projection, SearchRequest, SortOrder,
};
use serde_json::json;

use crate::{fixture, pretty, render_error};

const LIMITS: PaginationLimits = PaginationLimits {
    default_count: 100,
    max_count: 200,
};

#[test]
fn pagination_parameters() {
    let cases: [(Option<&str>, Option<&str>); 8] = [
        (None, None),
        (Some("0"), Some("-5")),
        (Some("-3"), Some("10")),
        (Some("7"), Some("1000")),
        (Some(" 2 "), Some("0")),
        (Some("x"), None),
        (None, Some("1.5")),
        (Some("99999999999999999999"), None),
    ];
    let out: Vec<String> = cases
        .iter()
        .map(|(s, c)| match Pagination::from_params(*s, *c, LIMITS) {
            Ok(p) => format!(
                "start={} count={} offset={}",
                p.start_index,
                p.count,
                p.offset()
            ),
            Err(e) => render_error(&e),
        })
        .collect();
    expect![[r#"
        [
            "start=1 count=100 offset=0",
            "start=1 count=0 offset=0",
            "start=1 count=10 offset=0",
            "start=7 count=200 offset=6",
            "start=2 count=0 offset=1",
            "error 400 invalidValue",
            "error 400 invalidValue",
            "error 400 invalidValue",
        ]
    "#]]
    .assert_debug_eq(&out);
}

fn check_projection(attributes: Option<&str>, excluded: Option<&str>, expect: Expect) {
    let p = Projection::parse(attributes, excluded).unwrap();
    expect.assert_eq(&pretty(&p.apply(&schema::USER, &fixture("base/user.json"))));
}

#[test]
fn projection_attributes() {
    check_projection(
        Some("userName, name.givenName,emails.value,EMAILS.type,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        None,
        expect![[r#"
            {
              "emails": [
                {
                  "type": "work",
                  "value": "alice@acme.example"
                },
                {
                  "type": "home",
                  "value": "alice@home.example"
                }
              ],
              "id": "2819c223-7f76-453a-919d-413861904646",
              "name": {
                "givenName": "Alice"
              },
              "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
              ],
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Engineering"
              },
              "userName": "alice@acme.example"
            }"#]],
    );
}

#[test]
fn projection_excluded_attributes() {
    check_projection(
        None,
        Some("emails,id,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,meta,groups"),
        expect![[r#"
            {
              "active": true,
              "displayName": "Alice Liddell",
              "externalId": "00u1a2b3c4d5e6f7g8h9",
              "id": "2819c223-7f76-453a-919d-413861904646",
              "name": {
                "givenName": "Alice"
              },
              "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
              ],
              "title": "Engineer",
              "userName": "alice@acme.example"
            }"#]],
    );
}

#[test]
fn projection_rejects_bad_paths() {
    let err = Projection::parse(Some("emails[type eq \"work\"]"), None).unwrap_err();
    assert_eq!(render_error(&err), "error 400 invalidPath");
    let many = vec!["a"; 129].join(",");
    assert_eq!(
        render_error(&Projection::parse(Some(&many), None).unwrap_err()),
        "error 400 tooMany"
    );
}

#[test]
fn search_request_from_json_and_query() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["displayName", "userName"],
        "excludedAttributes": null,
        "filter": "displayName sw \"smith\"",
        "sortBy": "name.familyName",
        "sortOrder": "descending",
        "startIndex": 0,
        "count": 10
    });
    let req = SearchRequest::from_json(&body, LIMITS).unwrap();
    assert_eq!(req.sort_order, SortOrder::Descending);
    assert_eq!(
        req.pagination,
        Pagination {
            start_index: 1,
            count: 10
        }
    );
    assert_eq!(req.projection.attributes.len(), 2);
    assert_eq!(
        req.filter.as_ref().map(ToString::to_string).as_deref(),
        Some("displayName sw \"smith\"")
    );
    assert_eq!(
        req.sort_by.map(|p| p.canonical(&schema::USER)).as_deref(),
        Some("name.familyName")
    );

    let q = SearchRequest::from_query(
        [
            ("filter", "userName eq \"a\""),
            ("startIndex", "3"),
            ("count", "2"),
            ("excludedAttributes", "emails"),
        ],
        LIMITS,
    )
    .unwrap();
    assert_eq!(
        q.pagination,
        Pagination {
            start_index: 3,
            count: 2
        }
    );
    assert_eq!(q.projection.excluded.len(), 1);

    for bad in [
        json!({"schemas": [], "filter": "a pr"}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "a eq"}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": "ten"}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "sortOrder": "up"}),
    ] {
        assert!(SearchRequest::from_json(&bad, LIMITS).is_err(), "{bad}");
    }
}

#[test]
fn list_response_document() {
    let page = ListResponse {
        total_results: 3,
        start_index: 2,
        resources: vec![json!({"id": "b"}), json!({"id": "c"})],
    };
    expect![[r#"
        {
          "Resources": [
            {
              "id": "b"
            },
            {
              "id": "c"
            }
          ],
          "itemsPerPage": 2,
          "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
          ],
          "startIndex": 2,
          "totalResults": 3
        }"#]]
    .assert_eq(&pretty(&page.to_json()));
}

#[test]
fn sort_reference_ordering() {
    use scim_model::list::compare_resources;
    use scim_model::AttrPath;
    let users = [
        json!({"id": "1", "userName": "bob", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}],
               "meta": {"created": "2026-01-02T00:00:00Z"}}),
        json!({"id": "2", "userName": "Alice", "emails": [{"value": "m@x"}],
               "meta": {"created": "2026-01-01T12:00:00+14:00"}}),
        json!({"id": "3", "meta": {"created": "2025-12-31T00:00:00Z"}}),
        json!({"id": "4", "userName": "carol", "emails": [{"value": "B@x"}]}),
    ];
    let order = |path: &str, dir: SortOrder| {
        let path = AttrPath::parse(path).unwrap();
        let mut v: Vec<&serde_json::Value> = users.iter().collect();
        v.sort_by(|a, b| compare_resources(&schema::USER, &path, dir, a, b));
        v.iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    };
    let table = [
        ("userName", SortOrder::Ascending),
        ("userName", SortOrder::Descending),
        ("emails", SortOrder::Ascending),
        ("emails.value", SortOrder::Descending),
        ("meta.created", SortOrder::Ascending),
        ("nickName", SortOrder::Ascending),
    ]
    .map(|(p, d)| format!("{p} {d:?}: {}", order(p, d)));
    expect![[r#"
        [
            "userName Ascending: 2,1,4,3",
            "userName Descending: 4,1,2,3",
            "emails Ascending: 1,4,2,3",
            "emails.value Descending: 2,4,1,3",
            "meta.created Ascending: 3,2,1,4",
            "nickName Ascending: 1,2,3,4",
        ]
    "#]]
    .assert_debug_eq(&table);
}
