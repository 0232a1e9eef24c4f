//! SCIM 2.0 (RFC 7643 / RFC 7644) as pure data and functions: resource validation, schema and
//! discovery documents, the filter grammar and its reference evaluator, PATCH semantics
//! (including the Microsoft Entra ID and Okta dialects), list/search/projection, bulk, errors.
//!
//! Nothing here does storage or HTTP: the server parses requests into these types, calls these
//! functions with the stored resource JSON, and persists what comes back. Resources are
//! `serde_json::Value` objects in canonical form (see [`resource`]); schemas are static data
//! ([`schema::USER`], [`schema::GROUP`]) that drive every operation.
//!
//! ```
//! use scim_model::{schema, Filter, PatchRequest};
//! use serde_json::json;
//!
//! let user = scim_model::validate_resource(&schema::USER, &json!({
//!     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
//!     "userName": "alice@acme.example",
//!     "emails": [{"value": "alice@acme.example", "type": "work", "primary": true}],
//!     "active": true,
//! }))?;
//!
//! let filter = Filter::parse(r#"userName eq "ALICE@acme.example" and emails[type eq "work"]"#)?;
//! assert!(filter.matches(&user, &schema::USER));
//!
//! // Entra ID disables a user with a capitalised op and a string boolean.
//! let patch = PatchRequest::parse(&json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
//! }), 100)?;
//! let outcome = patch.apply(&schema::USER, &user)?;
//! assert_eq!(outcome.resource["active"], json!(false));
//! assert_eq!(outcome.changes.changed_attributes, vec!["active".to_string()]);
//! # Ok::<(), scim_model::ScimError>(())
//! ```

pub mod body;
pub mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resource;
pub mod schema;

pub use body::parse_body;
pub use bulk::{
    BulkLimits, BulkMethod, BulkOperation, BulkOperationResult, BulkRequest, BulkResponse,
};
pub use error::{ScimError, ScimType};
pub use filter::{AttrPath, CompValue, CompareOp, Filter};
pub use list::{ListResponse, Pagination, PaginationLimits, Projection, SearchRequest, SortOrder};
pub use patch::{
    ChangeSummary, PatchOpKind, PatchOperation, PatchOutcome, PatchPath, PatchRequest,
};
pub use resource::{replace_resource, set_server_attributes, validate_resource, Meta};
pub use schema::{AttributeDef, ResourceSchema, SchemaDef};
