//! Request bodies: JSON, and no string anywhere in it (key or value) may contain a NUL
//! character.
//!
//! NUL is refused at the door because no store treats it the same: PostgreSQL's `text` cannot
//! hold it at all (the insert fails, which would surface as a server error the IdP retries
//! forever), and SQLite stores it but its `LIKE` stops matching at it, so a `co`/`sw`/`ew`
//! filter would match too much. Refused here, the same request gets the same `400
//! invalidValue` on either engine. (Filter string literals are checked by the filter parser.)

use crate::error::{Result, ScimError};
use serde_json::Value;

/// Parse a request body as JSON (`400 invalidSyntax` if it is not) and refuse NUL characters
/// in any string (`400 invalidValue`). Nesting is bounded by `serde_json`'s recursion limit.
pub fn parse_body(body: &[u8]) -> Result<Value> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ScimError::InvalidSyntax {
        reason: "the body is not valid JSON".into(),
    })?;
    match nul_in(&value) {
        Some(attribute) => Err(ScimError::InvalidValue {
            attribute,
            reason: "NUL characters are not allowed in strings",
        }),
        None => Ok(value),
    }
}

/// The name of the innermost object key under which a string contains NUL (`"body"` at the
/// top level), if any string does. Only key names are reported, never values.
fn nul_in(value: &Value) -> Option<String> {
    fn walk(value: &Value, key: &str) -> Option<String> {
        match value {
            Value::String(s) if s.contains('\0') => Some(key.to_owned()),
            Value::Array(items) => items.iter().find_map(|v| walk(v, key)),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                if k.contains('\0') {
                    Some(key.to_owned())
                } else {
                    walk(v, k)
                }
            }),
            _ => None,
        }
    }
    walk(value, "body")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_anywhere_is_refused_and_named_by_its_key_only() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"userName":"a\u0000b"}"#, "userName"),
            (br#"{"emails":[{"value":"x\u0000@y"}]}"#, "value"),
            (br#"{"a\u0000":1}"#, "body"),
            (br#"["\u0000"]"#, "body"),
        ];
        for (body, key) in cases {
            match parse_body(body) {
                Err(ScimError::InvalidValue { attribute, .. }) => assert_eq!(attribute, *key),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn other_bodies_parse_or_are_invalid_syntax() {
        assert_eq!(
            parse_body(br#"{"userName":"a\u0001b"}"#).unwrap()["userName"],
            "a\u{1}b"
        );
        assert!(matches!(
            parse_body(b"{\"userName\":"),
            Err(ScimError::InvalidSyntax { .. })
        ));
    }
}
