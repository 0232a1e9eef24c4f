//! PatchOp parsing and application on arbitrary JSON against a fixed User and Group. The first
//! byte picks the resource type; the rest is the request body. Whatever happens, `id` and `meta`
//! must survive untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::{schema, PatchRequest};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let (schema, base) = if selector % 2 == 0 {
        (
            &schema::USER,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "id": "u1",
                "userName": "alice@example.com",
                "name": {"givenName": "Alice"},
                "emails": [{"value": "alice@example.com", "type": "work", "primary": true}],
                "groups": [{"value": "g1"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
                "meta": {"resourceType": "User"}
            }),
        )
    } else {
        (
            &schema::GROUP,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": "g1",
                "displayName": "Eng",
                "members": [{"value": "u1"}, {"value": "u2"}],
                "meta": {"resourceType": "Group"}
            }),
        )
    };
    let Ok(request) = PatchRequest::parse(&body, 64) else {
        return;
    };
    if let Ok(outcome) = request.apply(schema, &base) {
        assert_eq!(outcome.resource.get("id"), base.get("id"));
        assert_eq!(outcome.resource.get("meta"), base.get("meta"));
        // Applying the request again to its own result exercises the "already present" paths.
        let _ = request.apply(schema, &outcome.resource);
    }
});
