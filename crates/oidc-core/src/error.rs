//! The crate's one error enum for everything that is not an OAuth wire error
//! (those are [`crate::provider::OAuthError`], whose codes are fixed by RFC 6749).

/// Why a key, token, document or PKCE value was refused.
///
/// The variants carry structured detail for logs and audit; none of it is meant to be shown to
/// an end user (design.md § Practices 5).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// An input was larger than this crate accepts for it.
    #[error("{what} is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Which input (`"JWS"`, `"JWKS"`, `"discovery document"`, ...).
        what: &'static str,
        /// Its size in bytes.
        len: usize,
        /// The bound it exceeded.
        max: usize,
    },
    /// A compact JWS was not three base64url segments with JSON header and payload.
    #[error("malformed JWS: {reason}")]
    MalformedToken {
        /// Which structural rule it broke.
        reason: &'static str,
    },
    /// The JWS header named an algorithm this crate never accepts (`none`, `HS*`, unknown).
    #[error("unsupported JWS algorithm {alg:?}")]
    UnsupportedAlgorithm {
        /// The `alg` header value as received.
        alg: String,
    },
    /// The algorithm is supported but not in the caller's allow-list.
    #[error("JWS algorithm {alg:?} is not allowed here")]
    AlgorithmNotAllowed {
        /// The `alg` header value as received.
        alg: String,
    },
    /// A verifier was asked to run with an empty algorithm allow-list (fail closed).
    #[error("the algorithm allow-list is empty")]
    EmptyAlgorithmAllowList,
    /// The JWS header used `crit`, whose extensions this crate does not implement.
    #[error("JWS header uses critical extensions")]
    CriticalHeader,
    /// No published key matches the token's `kid` and algorithm.
    #[error("no verification key for kid {kid:?}")]
    UnknownKey {
        /// The `kid` header value, if the token had one.
        kid: Option<String>,
    },
    /// The signature did not verify with any candidate key.
    #[error("JWS signature does not verify")]
    BadSignature,
    /// A key is unusable (wrong type, too short, bad encoding).
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token's `exp` is past (after leeway).
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The `exp` claim, seconds since the epoch.
        exp: i64,
        /// The `now` the caller passed, seconds since the epoch.
        now: i64,
    },
    /// The token's `nbf` is in the future (after leeway).
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The `nbf` claim, seconds since the epoch.
        nbf: i64,
        /// The `now` the caller passed, seconds since the epoch.
        now: i64,
    },
    /// The token's `iat` is in the future (after leeway).
    #[error("token issued in the future at {iat} (now {now})")]
    IssuedInFuture {
        /// The `iat` claim, seconds since the epoch.
        iat: i64,
        /// The `now` the caller passed, seconds since the epoch.
        now: i64,
    },
    /// A required claim or field is absent.
    #[error("missing claim {claim}")]
    MissingClaim {
        /// The claim or field name.
        claim: &'static str,
    },
    /// A claim or field is present but has the wrong type or value.
    #[error("invalid claim {claim}: {reason}")]
    InvalidClaim {
        /// The claim or field name.
        claim: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `iss` of a token or discovery document is not the expected issuer.
    #[error("issuer {actual:?} is not the expected {expected:?}")]
    IssuerMismatch {
        /// The issuer configured for this provider.
        expected: String,
        /// The issuer found in the token or document.
        actual: String,
    },
    /// The token is not addressed to this client (`aud` / `azp`).
    #[error("token audience does not include {expected:?}")]
    AudienceMismatch {
        /// This client's `client_id`.
        expected: String,
    },
    /// The ID token's `nonce` is not the one this login sent.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// The user authenticated longer ago than the requested `max_age`.
    #[error("authentication at {auth_time} is older than max_age {max_age}s (now {now})")]
    AuthenticationTooOld {
        /// The `auth_time` claim, seconds since the epoch.
        auth_time: i64,
        /// The `max_age` this login requested, seconds.
        max_age: u64,
        /// The `now` the caller passed, seconds since the epoch.
        now: i64,
    },
    /// The `state` returned to the redirect URI is not the one this login sent (CSRF or a
    /// mixed-up browser tab).
    #[error("state mismatch")]
    StateMismatch,
    /// The upstream provider answered the authorization request with an OAuth error.
    #[error("provider returned error {error:?}")]
    ProviderError {
        /// The `error` code it sent (truncated to 64 characters).
        error: String,
        /// Its `error_description`, if any (truncated to 256 characters).
        description: Option<String>,
    },
    /// A PKCE `code_verifier` is not 43–128 characters of `[A-Za-z0-9-._~]`.
    #[error("invalid PKCE code_verifier")]
    InvalidCodeVerifier,
    /// A provider discovery document or a URL in it is unacceptable.
    #[error("invalid discovery document field {field}: {reason}")]
    InvalidDiscovery {
        /// The metadata field name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An issuer URL is unusable (wrong scheme, query, fragment).
    #[error("invalid issuer URL: {reason}")]
    InvalidIssuer {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A URL could not be parsed.
    #[error("invalid URL in {what}")]
    InvalidUrl {
        /// Which value held it.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: url::ParseError,
    },
    /// A JSON document did not parse or did not have the expected shape.
    #[error("invalid JSON in {what}")]
    Json {
        /// Which document.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// OpenSSL failed (key parsing, signing, key generation).
    #[error("cryptographic operation failed")]
    Crypto {
        /// OpenSSL's error queue.
        #[source]
        source: openssl::error::ErrorStack,
    },
}

impl From<openssl::error::ErrorStack> for OidcError {
    fn from(source: openssl::error::ErrorStack) -> Self {
        OidcError::Crypto { source }
    }
}
