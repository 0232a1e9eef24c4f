//! Small helpers shared by the facade modules.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::sha::sha256;

/// SHA-256 of a high-entropy token, base64url. Tokens (client secrets, codes, access tokens,
/// operator tokens) are 256-bit random values, so a plain hash is as strong as a password hash
/// here and lets the database look them up by index.
pub(crate) fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(token.as_bytes()))
}

/// Constant-time equality for secrets compared outside the database.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

pub(crate) fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn parse_json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A name shown to people (tenant display name, app, connection or directory name): trimmed,
/// 1 to 200 bytes, no control characters. NUL above all: PostgreSQL cannot store it and SQLite
/// would, so refusing it here keeps both engines' answers the same.
pub(crate) fn label(field: &'static str, value: &str) -> crate::error::Result<String> {
    let value = value.trim();
    if value.is_empty() || value.len() > 200 {
        return Err(crate::error::GatehouseError::invalid(
            field,
            "1-200 characters",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(crate::error::GatehouseError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(value.to_owned())
}
