//! The one error type of this crate.

/// Why a SAML message was refused or could not be produced.
///
/// The `Display` text is for logs and audit records (it never contains assertion bodies or key
/// material); what an end user sees is decided by the caller and is always generic.
/// [`SamlError::reason_code`] gives a stable machine-readable code for audit records.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SamlError {
    /// The input exceeded a size, depth or count bound.
    #[error("input exceeds limit: {limit}")]
    TooLarge {
        /// Which bound was hit.
        limit: &'static str,
    },
    /// The bytes are not well-formed XML, or contain a DTD / entity / processing instruction.
    #[error("malformed XML: {detail}")]
    MalformedXml {
        /// Parser detail (no document content).
        detail: String,
    },
    /// A base64 / DEFLATE / URL encoding layer was invalid.
    #[error("bad encoding: {detail}")]
    BadEncoding {
        /// Which layer failed.
        detail: String,
    },
    /// The document does not have the SAML structure we require.
    #[error("unexpected document structure: {detail}")]
    Structure {
        /// What was wrong.
        detail: String,
    },
    /// No acceptable signature covers the assertion.
    #[error("assertion is not signed by a trusted key")]
    Unsigned,
    /// A signature was present but did not verify, or was shaped in a way we refuse
    /// (wrong reference, foreign transforms, several references, ...).
    #[error("signature rejected: {detail}")]
    BadSignature {
        /// What failed.
        detail: String,
    },
    /// The signature or digest algorithm is not on the allow-list.
    #[error("algorithm not allowed: {algorithm}")]
    AlgorithmNotAllowed {
        /// The algorithm URI.
        algorithm: String,
    },
    /// The top-level StatusCode was not Success.
    #[error("IdP returned status {status}")]
    Status {
        /// The StatusCode value (and the second-level code, if any).
        status: String,
    },
    /// The IdP answered a passive request (`IsPassive="true"`, OIDC `prompt=none`) with the
    /// second-level status `NoPassive`: it has no session and would have had to prompt. Only
    /// returned for a refusal that is attributable to our request (see
    /// [`crate::response::validate_response`]).
    #[error("IdP could not authenticate passively (NoPassive)")]
    NoPassive,
    /// Issuer differs from the configured IdP entity ID.
    #[error("wrong issuer")]
    WrongIssuer,
    /// Audience restriction does not name our SP entity ID.
    #[error("wrong audience")]
    WrongAudience,
    /// Destination or SubjectConfirmationData Recipient is not our ACS URL.
    #[error("wrong destination or recipient")]
    WrongRecipient,
    /// The assertion is expired or not yet valid (beyond the allowed skew).
    #[error("assertion outside its validity window")]
    Expired,
    /// InResponseTo does not match the request bound to this browser flow.
    #[error("InResponseTo mismatch")]
    InResponseToMismatch,
    /// An IdP-initiated (unsolicited) response arrived where none is allowed.
    #[error("unsolicited response not allowed")]
    UnsolicitedNotAllowed,
    /// Encrypted assertion could not be decrypted (deliberately uninformative).
    #[error("assertion decryption failed")]
    DecryptionFailed,
    /// Key or certificate material could not be loaded.
    #[error("bad key material: {detail}")]
    BadKey {
        /// What was wrong.
        detail: String,
    },
    /// A configuration value given to a constructor is unusable (e.g. empty allow-list).
    #[error("invalid configuration: {detail}")]
    Config {
        /// What was wrong.
        detail: String,
    },
}

impl SamlError {
    /// A stable, low-cardinality code for audit records and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            SamlError::TooLarge { .. } => "too_large",
            SamlError::MalformedXml { .. } => "malformed_xml",
            SamlError::BadEncoding { .. } => "bad_encoding",
            SamlError::Structure { .. } => "bad_structure",
            SamlError::Unsigned => "unsigned",
            SamlError::BadSignature { .. } => "bad_signature",
            SamlError::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            SamlError::Status { .. } => "idp_status",
            SamlError::NoPassive => "no_passive",
            SamlError::WrongIssuer => "wrong_issuer",
            SamlError::WrongAudience => "wrong_audience",
            SamlError::WrongRecipient => "wrong_recipient",
            SamlError::Expired => "expired",
            SamlError::InResponseToMismatch => "in_response_to_mismatch",
            SamlError::UnsolicitedNotAllowed => "unsolicited_not_allowed",
            SamlError::DecryptionFailed => "decryption_failed",
            SamlError::BadKey { .. } => "bad_key",
            SamlError::Config { .. } => "config",
        }
    }
}
