//! Filter, PATCH-path and attribute-path parsing on arbitrary text; anything that parses is also
//! evaluated and must print back to an equal AST.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::{schema, AttrPath, Filter, PatchPath};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = PatchPath::parse(text);
    let _ = AttrPath::parse(text);
    if let Ok(filter) = Filter::parse(text) {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "alice@example.com",
            "active": true,
            "emails": [{"value": "alice@example.com", "type": "work", "primary": true}],
            "meta": {"created": "2026-01-01T00:00:00Z"}
        });
        let _ = filter.matches(&user, &schema::USER);
        let _ = filter.validate(&schema::USER);
        let _ = filter.attribute_paths();
        let reparsed = Filter::parse(&filter.to_string());
        assert_eq!(reparsed.ok(), Some(filter), "display/parse round trip");
    }
});
