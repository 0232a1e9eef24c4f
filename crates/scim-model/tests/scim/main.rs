//! Integration tests for `scim-model`, built as one test binary (design.md § Practices 10).

// Helpers outside `#[test]` functions are test code too; clippy's test allowances do not reach
// them in an integration-test crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bulk;
mod discovery;
mod errors;
mod filter;
mod list;
mod no_panic;
mod patch;
mod resource;

use std::path::PathBuf;

use serde_json::Value;

/// Reads a JSON file under `fixtures/scim/`.
pub fn fixture(rel: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scim")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Pretty JSON for golden output.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// A compact, prose-free rendering of an error: wire code and status.
pub fn render_error(e: &scim_model::ScimError) -> String {
    format!(
        "error {} {}",
        e.status(),
        e.scim_type().map_or("-", |t| t.as_str())
    )
}
