//! The crate's single error type and its mapping onto SCIM wire errors (RFC 7644 §3.12).

use serde_json::{json, Value};

/// The SCIM error response schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` detail codes of RFC 7644 §3.12 table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScimType {
    /// The filter syntax was invalid or the filter used an unsupported operator.
    InvalidFilter,
    /// The request would return or process more results than the server allows.
    TooMany,
    /// A value violates a uniqueness constraint.
    Uniqueness,
    /// The change is incompatible with an attribute's mutability.
    Mutability,
    /// The request body is not valid SCIM (wrong structure, schema or JSON).
    InvalidSyntax,
    /// A `path` attribute was invalid or malformed.
    InvalidPath,
    /// A `path` did not yield an attribute or value that could be operated on.
    NoTarget,
    /// A required value was missing or a value was incompatible with its attribute type.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request carried sensitive data in the URL (for example a filter with a secret).
    Sensitive,
}

impl ScimType {
    /// The wire spelling used in the `scimType` member.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// Everything that can go wrong in this crate.
///
/// Messages name attributes, positions and limits but never echo attribute *values*, so the
/// `Display` text is safe to put in a SCIM `detail` (which IdPs show in their provisioning logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScimError {
    /// A filter (or a filter inside a PATCH path) could not be parsed or exceeds a bound.
    #[error("invalid filter at byte {position}: {reason}")]
    InvalidFilter {
        /// Byte offset into the filter text where the problem was detected.
        position: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A request exceeds a server limit (operation count, result count).
    #[error("too many {what}: the limit is {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The configured limit.
        limit: usize,
    },
    /// A value collides with an existing resource; raised by the storage layer, defined here so
    /// the wire mapping lives in one place.
    #[error("attribute {attribute} must be unique")]
    Uniqueness {
        /// Canonical attribute name.
        attribute: String,
    },
    /// The operation is incompatible with the attribute's mutability.
    #[error("attribute {attribute} cannot be modified: {reason}")]
    Mutability {
        /// Canonical attribute path.
        attribute: String,
        /// Why (`readOnly`, `immutable`).
        reason: &'static str,
    },
    /// The request body does not have the structure SCIM requires.
    #[error("invalid request syntax: {reason}")]
    InvalidSyntax {
        /// What was wrong.
        reason: String,
    },
    /// A PATCH `path` (or an `attributes` list entry) is malformed or names no known attribute.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as sent (bounded by the parser's input limit).
        path: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A PATCH path selected nothing to operate on.
    #[error("path {path:?} matched no value")]
    NoTarget {
        /// The path as sent.
        path: String,
    },
    /// A value is missing or has the wrong type for its attribute.
    #[error("invalid value for {attribute}: {reason}")]
    InvalidValue {
        /// Canonical attribute path.
        attribute: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// The client asked for a protocol version this server does not speak.
    #[error("unsupported SCIM version")]
    InvalidVersion,
    /// The request put sensitive information where it must not be (RFC 7644 §7.5.2).
    #[error("sensitive information in request: {reason}")]
    Sensitive {
        /// What was wrong.
        reason: &'static str,
    },
    /// The body exceeds the configured maximum size (bulk `maxPayloadSize`).
    #[error("the payload exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The size in bytes, where it is known (a streamed body is cut at the limit).
        size: Option<usize>,
        /// The configured limit.
        limit: usize,
    },
    /// A bulk (or PATCH) request has more operations than the server takes at once: RFC 7644
    /// §3.7.4 answers an exceeded bulk limit with `413`, and one PATCH is held to the same rule.
    #[error("the request has more than {limit} operations")]
    TooManyOperations {
        /// The limit (bulk `maxOperations`, or the PATCH limit).
        limit: usize,
    },
    /// A query parameter a discovery endpoint refuses (RFC 7644 §4: a `filter` there is `403`,
    /// so that no client mistakes the whole document for the matches of its filter).
    #[error("the discovery endpoints do not support filtering")]
    DiscoveryFilter,
    /// The addressed resource does not exist (raised by the server, mapped here).
    #[error("resource not found")]
    NotFound,
    /// The `If-Match` version did not match the current resource version.
    #[error("resource version mismatch")]
    PreconditionFailed,
}

impl ScimError {
    /// The `scimType` of this error, if the RFC defines one for it.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimError::InvalidFilter { .. } => Some(ScimType::InvalidFilter),
            ScimError::TooMany { .. } => Some(ScimType::TooMany),
            ScimError::Uniqueness { .. } => Some(ScimType::Uniqueness),
            ScimError::Mutability { .. } => Some(ScimType::Mutability),
            ScimError::InvalidSyntax { .. } => Some(ScimType::InvalidSyntax),
            ScimError::InvalidPath { .. } => Some(ScimType::InvalidPath),
            ScimError::NoTarget { .. } => Some(ScimType::NoTarget),
            ScimError::InvalidValue { .. } => Some(ScimType::InvalidValue),
            ScimError::InvalidVersion => Some(ScimType::InvalidVers),
            ScimError::Sensitive { .. } => Some(ScimType::Sensitive),
            ScimError::PayloadTooLarge { .. }
            | ScimError::TooManyOperations { .. }
            | ScimError::DiscoveryFilter
            | ScimError::NotFound
            | ScimError::PreconditionFailed => None,
        }
    }

    /// The HTTP status RFC 7644 §3.12 assigns to this error.
    pub fn status(&self) -> u16 {
        match self {
            ScimError::Uniqueness { .. } => 409,
            ScimError::Sensitive { .. } | ScimError::DiscoveryFilter => 403,
            ScimError::PayloadTooLarge { .. } | ScimError::TooManyOperations { .. } => 413,
            ScimError::NotFound => 404,
            ScimError::PreconditionFailed => 412,
            ScimError::InvalidFilter { .. }
            | ScimError::TooMany { .. }
            | ScimError::Mutability { .. }
            | ScimError::InvalidSyntax { .. }
            | ScimError::InvalidPath { .. }
            | ScimError::NoTarget { .. }
            | ScimError::InvalidValue { .. }
            | ScimError::InvalidVersion => 400,
        }
    }

    /// The RFC 7644 §3.12 error response body for this error.
    pub fn to_response(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            // RFC 7644 §3.12 spells the status as a string.
            "status": self.status().to_string(),
            "detail": self.to_string(),
        });
        if let (Some(t), Some(obj)) = (self.scim_type(), body.as_object_mut()) {
            obj.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = ScimError> = std::result::Result<T, E>;
