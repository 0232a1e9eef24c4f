//! Filter parse/evaluate and PATCH apply throughput.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use scim_model::{schema, Filter, PatchRequest};
use serde_json::{json, Value};

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "alice@acme.example",
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "active": true,
        "emails": [{"value": "alice@acme.example", "type": "work", "primary": true},
                   {"value": "alice@home.example", "type": "home"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engineering"},
    })
}

const FILTER: &str = r#"userName eq "ALICE@acme.example" and (emails[type eq "work" and value ew "acme.example"] or title pr) and not (active eq false) and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "eng""#;

fn bench(c: &mut Criterion) {
    c.bench_function("filter_parse", |b| {
        b.iter(|| Filter::parse(black_box(FILTER)))
    });

    let filter = Filter::parse(FILTER).unwrap_or_else(|e| unreachable!("{e}"));
    let user = user();
    c.bench_function("filter_matches", |b| {
        b.iter(|| black_box(&filter).matches(black_box(&user), &schema::USER))
    });

    let members: Vec<Value> = (0..5_000)
        .map(|i| json!({"value": format!("member-{i}")}))
        .collect();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g", "displayName": "Big", "members": members,
    });
    let patch = PatchRequest::parse(
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": "new-1"}, {"value": "member-5"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "member-7"}]},
                {"op": "remove", "path": "members[value eq \"member-9\"]"},
                {"op": "replace", "value": {"displayName": "Bigger"}}
            ]
        }),
        100,
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    c.bench_function("patch_apply_group_5000_members", |b| {
        b.iter(|| patch.apply(&schema::GROUP, black_box(&group)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
