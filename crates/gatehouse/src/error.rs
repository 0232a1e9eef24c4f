//! The facade's one error type.

use saml_core::SamlError;
use storage::StorageError;

/// Why a facade operation failed.
///
/// The server maps each variant to an HTTP response in exactly one place; the `Display` text is
/// for logs. Variants that reach an end user carry a correlation id, never the detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatehouseError {
    /// The named object does not exist (or belongs to another tenant: callers cannot tell).
    #[error("{what} not found")]
    NotFound {
        /// Kind of object.
        what: &'static str,
    },
    /// The object already exists (duplicate slug, domain, ...).
    #[error("{what} already exists")]
    Conflict {
        /// What clashed.
        what: String,
    },
    /// The change is refused because another system owns the data (e.g. roles the tenant's
    /// identity provider manages through role mapping). The reason is safe to show an operator.
    #[error("refused: {reason}")]
    ManagedElsewhere {
        /// Why, naming the owner.
        reason: String,
    },
    /// An argument is invalid.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input.
        field: &'static str,
        /// Why, in words safe to show an operator.
        reason: String,
    },
    /// Missing or wrong operator credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// An OAuth/OIDC protocol error to return to the app as-is (RFC 6749 §5.2 wire code).
    #[error("oauth error {error}: {description}")]
    OAuth {
        /// The wire code (`invalid_grant`, `invalid_client`, ...).
        error: &'static str,
        /// Human-readable description safe to show the app developer.
        description: String,
    },
    /// An OAuth/OIDC error that must be delivered by redirecting the browser back to the app.
    #[error("oauth error {error} for redirect")]
    OAuthRedirect {
        /// The app's (already validated) redirect URI.
        redirect_uri: String,
        /// The wire code.
        error: &'static str,
        /// Description.
        description: String,
        /// The app's `state`, echoed.
        state: Option<String>,
    },
    /// A sign-in failed. The user sees only the correlation id; the reason went to the logs and
    /// to a `login.failed` audit record.
    #[error("login failed ({reason_code}), correlation id {correlation_id}")]
    LoginFailed {
        /// Stable reason code (also in the audit record).
        reason_code: &'static str,
        /// Correlation id shown to the user.
        correlation_id: String,
    },
    /// A SCIM protocol error, returned to the directory client as an RFC 7644 §3.12 error body.
    #[error("SCIM {status}: {detail}")]
    Scim {
        /// HTTP status.
        status: u16,
        /// The RFC's `scimType`, when one applies.
        scim_type: Option<&'static str>,
        /// Text safe to show the IdP's provisioning log (names attributes, never values).
        detail: String,
    },
    /// A SAML document given by an operator (metadata) was unusable.
    #[error("SAML: {0}")]
    Saml(#[from] SamlError),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(StorageError),
    /// A server-side invariant failed (bad stored key, crypto library error).
    #[error("internal: {detail}")]
    Internal {
        /// Detail for the logs.
        detail: String,
    },
}

impl GatehouseError {
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        GatehouseError::Internal {
            detail: detail.to_string(),
        }
    }

    pub(crate) fn oauth(error: &'static str, description: impl Into<String>) -> Self {
        GatehouseError::OAuth {
            error,
            description: description.into(),
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        GatehouseError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

impl From<openssl::error::ErrorStack> for GatehouseError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        GatehouseError::internal(e)
    }
}

/// Result alias of the facade.
pub type Result<T, E = GatehouseError> = std::result::Result<T, E>;

impl From<StorageError> for GatehouseError {
    /// A value the database cannot store (a NUL on PostgreSQL) is the caller's input, refused
    /// like any other invalid input on every surface; everything else is the database's failure.
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unstorable { .. } => GatehouseError::InvalidInput {
                field: "value",
                reason: "contains a character that cannot be stored (NUL)".into(),
            },
            other => GatehouseError::Storage(other),
        }
    }
}
