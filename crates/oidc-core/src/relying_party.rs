//! Gatehouse as an OpenID Connect **relying party** to a customer's IdP: provider discovery,
//! the authorization URL, the callback, the code exchange request, and ID token / back-channel
//! logout token validation.
//!
//! The network is the caller's: it fetches `discovery_url`, `jwks_uri` and the token endpoint
//! with its own HTTP client and hands the bytes to these functions.

use crate::claims::{IdTokenClaims, LogoutTokenClaims};
use crate::jose::{self, Algorithm, Jwks};
use crate::provider::Prompt;
use crate::{pkce, OidcError};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_types::{random_token, AuthnContext, Entropy, ExternalIdentity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use url::Url;

/// Largest discovery document [`ProviderMetadata::parse`] accepts.
pub const MAX_DISCOVERY_LEN: usize = 64 * 1024;
/// Most parameters [`parse_callback`] accepts.
pub const MAX_CALLBACK_PARAMS: usize = 32;
/// Longest callback parameter value [`parse_callback`] accepts.
pub const MAX_CALLBACK_VALUE_LEN: usize = 4096;

/// `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4.1: appended to the issuer's
/// path, after removing a trailing `/`).
pub fn discovery_url(issuer: &str) -> Result<Url, OidcError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    Url::parse(&url).map_err(|source| OidcError::InvalidUrl {
        what: "issuer",
        source,
    })
}

/// The parts of an upstream provider's discovery document Gatehouse uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// Issuer identifier; equal to the configured issuer (checked by [`ProviderMetadata::parse`]).
    pub issuer: String,
    /// Where to send the browser.
    pub authorization_endpoint: String,
    /// Where to exchange the code.
    pub token_endpoint: String,
    /// Where the provider's signing keys are.
    pub jwks_uri: String,
    /// UserInfo endpoint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// RP-initiated logout endpoint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// Must include `code`.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// Must include an algorithm this crate verifies.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// PKCE methods advertised (informational: S256 is sent regardless, and providers that do
    /// not list it commonly support it).
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Token endpoint client authentication methods advertised.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Whether the provider sends back-channel logout tokens.
    #[serde(default)]
    pub backchannel_logout_supported: bool,
    /// Whether the provider includes `iss` in authorization responses (RFC 9207); if so,
    /// [`parse_callback`] must require it.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl ProviderMetadata {
    /// Parse and check a discovery document fetched from [`discovery_url`]`(expected_issuer)`.
    ///
    /// Refuses documents over [`MAX_DISCOVERY_LEN`], an `issuer` not identical to
    /// `expected_issuer` (OIDC Discovery §4.3: otherwise one provider could impersonate
    /// another), endpoints that are not absolute `https` URLs without fragment (`http` is
    /// allowed only for loopback hosts, for local development), no `code` response type, and
    /// no ID token algorithm in common with this crate.
    pub fn parse(bytes: &[u8], expected_issuer: &str) -> Result<Self, OidcError> {
        if bytes.len() > MAX_DISCOVERY_LEN {
            return Err(OidcError::TooLarge {
                what: "discovery document",
                len: bytes.len(),
                max: MAX_DISCOVERY_LEN,
            });
        }
        let metadata: ProviderMetadata =
            serde_json::from_slice(bytes).map_err(|source| OidcError::Json {
                what: "discovery document",
                source,
            })?;
        if metadata.issuer != expected_issuer {
            return Err(OidcError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                actual: metadata.issuer.chars().take(256).collect(),
            });
        }
        check_endpoint(&metadata.issuer, "issuer")?;
        check_endpoint(&metadata.authorization_endpoint, "authorization_endpoint")?;
        check_endpoint(&metadata.token_endpoint, "token_endpoint")?;
        check_endpoint(&metadata.jwks_uri, "jwks_uri")?;
        if let Some(url) = &metadata.userinfo_endpoint {
            check_endpoint(url, "userinfo_endpoint")?;
        }
        if let Some(url) = &metadata.end_session_endpoint {
            check_endpoint(url, "end_session_endpoint")?;
        }
        if !metadata
            .response_types_supported
            .iter()
            .any(|r| r == "code")
        {
            return Err(OidcError::InvalidDiscovery {
                field: "response_types_supported",
                reason: "code flow not supported",
            });
        }
        if metadata.supported_algorithms().is_empty() {
            return Err(OidcError::InvalidDiscovery {
                field: "id_token_signing_alg_values_supported",
                reason: "no algorithm in common",
            });
        }
        Ok(metadata)
    }

    /// The advertised ID token algorithms this crate can verify (never `none` or `HS*`): the
    /// default allow-list for [`RelyingParty::new`].
    pub fn supported_algorithms(&self) -> Vec<Algorithm> {
        let mut algs = Vec::new();
        for name in &self.id_token_signing_alg_values_supported {
            if let Ok(alg) = Algorithm::parse(name) {
                if !algs.contains(&alg) {
                    algs.push(alg);
                }
            }
        }
        algs
    }
}

fn check_endpoint(value: &str, field: &'static str) -> Result<(), OidcError> {
    let url = Url::parse(value).map_err(|_| OidcError::InvalidDiscovery {
        field,
        reason: "not an absolute URL",
    })?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(OidcError::InvalidDiscovery {
                field,
                reason: "not https",
            })
        }
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(OidcError::InvalidDiscovery {
            field,
            reason: "has a fragment or credentials",
        });
    }
    Ok(())
}

/// The per-login values kept server-side between the redirect and the callback.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginSecrets {
    /// Binds the callback to this browser's login (CSRF).
    pub state: String,
    /// Binds the ID token to this login (replay).
    pub nonce: String,
    /// PKCE verifier, sent only with the code exchange.
    pub code_verifier: String,
}

impl fmt::Debug for LoginSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSecrets")
            .field("state", &self.state)
            .field("nonce", &"<redacted>")
            .field("code_verifier", &"<redacted>")
            .finish()
    }
}

impl LoginSecrets {
    /// Fresh `state` and `nonce` (32 random bytes each, as hex) and a PKCE verifier.
    pub fn generate(entropy: &mut dyn Entropy) -> Self {
        LoginSecrets {
            state: random_token(entropy, 32),
            nonce: random_token(entropy, 32),
            code_verifier: pkce::generate_verifier(entropy),
        }
    }
}

/// What the facade chooses for one upstream login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationParams {
    /// Gatehouse's client id at the provider.
    pub client_id: String,
    /// Gatehouse's callback URL, as registered at the provider.
    pub redirect_uri: String,
    /// Scopes; `openid` is added first if missing.
    pub scopes: Vec<String>,
    /// `prompt` values to pass on.
    pub prompt: Vec<Prompt>,
    /// Maximum authentication age to request; pass the same value to
    /// [`IdTokenExpectations::max_age`].
    pub max_age: Option<u64>,
    /// Requested authentication context classes.
    pub acr_values: Vec<String>,
    /// Login hint (usually the e-mail the user typed).
    pub login_hint: Option<String>,
}

/// The provider's authorization URL for one login: `response_type=code`, scopes, `state`,
/// `nonce`, PKCE `S256`, and the optional parameters. The endpoint's own query is kept.
pub fn authorization_url(
    metadata: &ProviderMetadata,
    params: &AuthorizationParams,
    secrets: &LoginSecrets,
) -> Result<Url, OidcError> {
    let mut url =
        Url::parse(&metadata.authorization_endpoint).map_err(|source| OidcError::InvalidUrl {
            what: "authorization_endpoint",
            source,
        })?;
    let mut scopes: Vec<&str> = vec!["openid"];
    scopes.extend(
        params
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| *s != "openid"),
    );
    let challenge = pkce::challenge_s256(&secrets.code_verifier)?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &params.client_id)
            .append_pair("redirect_uri", &params.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &secrets.state)
            .append_pair("nonce", &secrets.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", pkce::METHOD_S256);
        if !params.prompt.is_empty() {
            let prompt: Vec<&str> = params.prompt.iter().map(|p| p.as_str()).collect();
            query.append_pair("prompt", &prompt.join(" "));
        }
        if let Some(max_age) = params.max_age {
            query.append_pair("max_age", &max_age.to_string());
        }
        if !params.acr_values.is_empty() {
            query.append_pair("acr_values", &params.acr_values.join(" "));
        }
        if let Some(hint) = &params.login_hint {
            query.append_pair("login_hint", hint);
        }
    }
    Ok(url)
}

/// Check the provider's redirect back to Gatehouse and return the authorization code.
///
/// In order: `state` must equal `expected_state` (constant-time), else
/// [`OidcError::StateMismatch`]; `iss` (RFC 9207), if present, must equal `issuer`, and must be
/// present when `iss_required` (pass
/// [`ProviderMetadata::authorization_response_iss_parameter_supported`]); an `error` becomes
/// [`OidcError::ProviderError`]; otherwise `code` must be present.
pub fn parse_callback<I, K, V>(
    pairs: I,
    expected_state: &str,
    issuer: &str,
    iss_required: bool,
) -> Result<String, OidcError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut params: BTreeMap<&'static str, String> = BTreeMap::new();
    for (count, (name, value)) in pairs.into_iter().enumerate() {
        if count >= MAX_CALLBACK_PARAMS {
            return Err(OidcError::TooLarge {
                what: "callback parameter count",
                len: count + 1,
                max: MAX_CALLBACK_PARAMS,
            });
        }
        let key = match name.as_ref() {
            "code" => "code",
            "state" => "state",
            "iss" => "iss",
            "error" => "error",
            "error_description" => "error_description",
            _ => continue,
        };
        let value = value.as_ref();
        if value.len() > MAX_CALLBACK_VALUE_LEN {
            return Err(OidcError::TooLarge {
                what: "callback parameter",
                len: value.len(),
                max: MAX_CALLBACK_VALUE_LEN,
            });
        }
        if params.insert(key, value.to_owned()).is_some() {
            return Err(OidcError::InvalidClaim {
                claim: key,
                reason: "parameter repeated",
            });
        }
    }
    let state = params
        .get("state")
        .map(String::as_bytes)
        .unwrap_or_default();
    if state.len() != expected_state.len()
        || expected_state.is_empty()
        || !openssl::memcmp::eq(state, expected_state.as_bytes())
    {
        return Err(OidcError::StateMismatch);
    }
    match params.get("iss") {
        Some(iss) if iss != issuer => {
            return Err(OidcError::IssuerMismatch {
                expected: issuer.to_owned(),
                actual: iss.chars().take(256).collect(),
            })
        }
        None if iss_required => return Err(OidcError::MissingClaim { claim: "iss" }),
        _ => {}
    }
    if let Some(error) = params.get("error") {
        return Err(OidcError::ProviderError {
            error: error.chars().take(64).collect(),
            description: params
                .get("error_description")
                .map(|d| d.chars().take(256).collect()),
        });
    }
    params
        .remove("code")
        .filter(|c| !c.is_empty())
        .ok_or(OidcError::MissingClaim { claim: "code" })
}

/// How Gatehouse authenticates to an upstream token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum UpstreamClientAuth {
    /// HTTP Basic with form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic(String),
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost(String),
    /// Public client (PKCE only).
    None,
}

impl fmt::Debug for UpstreamClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpstreamClientAuth::ClientSecretBasic(_) => "ClientSecretBasic(<redacted>)",
            UpstreamClientAuth::ClientSecretPost(_) => "ClientSecretPost(<redacted>)",
            UpstreamClientAuth::None => "None",
        })
    }
}

/// A token request for the caller's HTTP client to POST (form-encoded) to `token_endpoint`.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeExchange {
    /// Form body pairs.
    pub form: Vec<(&'static str, String)>,
    /// `Authorization` header value, for `client_secret_basic`.
    pub authorization: Option<String>,
}

impl fmt::Debug for CodeExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.form.iter().map(|(n, _)| *n).collect();
        f.debug_struct("CodeExchange")
            .field("form_names", &names)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The `authorization_code` token request for `code`, with the login's PKCE verifier.
pub fn code_exchange(
    code: &str,
    params: &AuthorizationParams,
    secrets: &LoginSecrets,
    auth: &UpstreamClientAuth,
) -> CodeExchange {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", params.redirect_uri.clone()),
        ("code_verifier", secrets.code_verifier.clone()),
    ];
    let mut authorization = None;
    match auth {
        UpstreamClientAuth::ClientSecretBasic(secret) => {
            let credentials = format!(
                "{}:{}",
                form_urlencode(&params.client_id),
                form_urlencode(secret)
            );
            authorization = Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ));
        }
        UpstreamClientAuth::ClientSecretPost(secret) => {
            form.push(("client_id", params.client_id.clone()));
            form.push(("client_secret", secret.clone()));
        }
        UpstreamClientAuth::None => form.push(("client_id", params.client_id.clone())),
    }
    CodeExchange {
        form,
        authorization,
    }
}

fn form_urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What the ID token of one login must satisfy beyond signature, issuer and audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdTokenExpectations<'a> {
    /// The nonce this login sent ([`LoginSecrets::nonce`]).
    pub nonce: &'a str,
    /// The `max_age` this login requested, if any: then `auth_time` is required and checked.
    pub max_age: Option<u64>,
}

/// An ID token that passed every check of OIDC Core §3.1.3.7. Only
/// [`RelyingParty::validate_id_token`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIdToken {
    claims: IdTokenClaims,
    raw: Map<String, Value>,
}

impl VerifiedIdToken {
    /// The standard claims.
    pub fn claims(&self) -> &IdTokenClaims {
        &self.claims
    }

    /// Every claim as received (for attribute mapping).
    pub fn raw_claims(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The normalised identity: names, e-mail and groups from their standard claims, every
    /// other string / number / boolean claim (or list of them) as an attribute, and the
    /// authentication context from `acr`, `amr`, `auth_time` and `sid`. Token mechanics
    /// (`exp`, `iat`, `nbf`, `jti`, `nonce`, `at_hash`, `c_hash`) are not user attributes and
    /// are left out.
    pub fn external_identity(&self) -> ExternalIdentity {
        let mut attributes = BTreeMap::new();
        for (name, value) in &self.raw {
            if matches!(
                name.as_str(),
                "exp" | "iat" | "nbf" | "jti" | "nonce" | "at_hash" | "c_hash"
            ) {
                continue;
            }
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
                other => scalar_text(other).into_iter().collect(),
            };
            if !values.is_empty() {
                attributes.insert(name.clone(), values);
            }
        }
        let c = &self.claims;
        ExternalIdentity {
            subject: c.sub.clone(),
            email: c.email.clone(),
            first_name: c.given_name.clone(),
            last_name: c.family_name.clone(),
            groups: c.groups.clone(),
            attributes,
            authn: AuthnContext {
                acr: c.acr.clone(),
                amr: c.amr.clone(),
                auth_time: c.auth_time.and_then(|t| DateTime::from_timestamp(t, 0)),
                session_index: c.sid.clone(),
            },
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A back-channel logout token that passed Back-Channel Logout 1.0 §2.6. The caller must still
/// reject a `jti` it has seen before (replay), which needs storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutToken {
    claims: LogoutTokenClaims,
}

impl VerifiedLogoutToken {
    /// The claims.
    pub fn claims(&self) -> &LogoutTokenClaims {
        &self.claims
    }
    /// The session to end, if named.
    pub fn sid(&self) -> Option<&str> {
        self.claims.sid.as_deref()
    }
    /// The user whose sessions to end, if named.
    pub fn sub(&self) -> Option<&str> {
        self.claims.sub.as_deref()
    }
    /// The token id, for the replay check.
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }
}

/// Gatehouse's trust in one upstream provider: issuer, its client id there, the provider's
/// keys and the algorithms accepted. Constructing one requires keys and a non-empty allow-list
/// (there is no "skip the check" configuration).
#[derive(Debug, Clone)]
pub struct RelyingParty {
    issuer: String,
    client_id: String,
    jwks: Jwks,
    allowed_algs: Vec<Algorithm>,
    leeway: TimeDelta,
}

impl RelyingParty {
    /// Trust `jwks` (fetched from the provider's `jwks_uri`) for tokens from `issuer` to
    /// `client_id`, signed with one of `allowed_algs`, with `leeway` clock skew tolerance.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        jwks: Jwks,
        allowed_algs: Vec<Algorithm>,
        leeway: TimeDelta,
    ) -> Result<Self, OidcError> {
        if allowed_algs.is_empty() {
            return Err(OidcError::EmptyAlgorithmAllowList);
        }
        if jwks.keys.is_empty() {
            return Err(OidcError::InvalidKey {
                reason: "the provider's key set is empty",
            });
        }
        let (issuer, client_id) = (issuer.into(), client_id.into());
        if issuer.is_empty() || client_id.is_empty() {
            return Err(OidcError::MissingClaim {
                claim: if issuer.is_empty() { "iss" } else { "aud" },
            });
        }
        Ok(RelyingParty {
            issuer,
            client_id,
            jwks,
            allowed_algs,
            leeway,
        })
    }

    /// Validate an ID token from the code exchange (OIDC Core §3.1.3.7): signature with an
    /// allowed algorithm and a published key; `exp` (required), `iat` (required) and `nbf`
    /// against `now`; `iss` exactly the issuer; `aud` exactly this client (no additional
    /// audiences are trusted); `azp`, if present, this client; `nonce` equal to the login's;
    /// `sub` 1–255 characters; and `auth_time` within `max_age` when it was requested.
    pub fn validate_id_token(
        &self,
        token: &str,
        expected: &IdTokenExpectations<'_>,
        now: DateTime<Utc>,
    ) -> Result<VerifiedIdToken, OidcError> {
        let verified = jose::verify(token, &self.jwks, &self.allowed_algs, now, self.leeway)?;
        let raw = verified.into_claims();
        if !raw.contains_key("iat") {
            return Err(OidcError::MissingClaim { claim: "iat" });
        }
        let claims: IdTokenClaims =
            serde_json::from_value(Value::Object(raw.clone())).map_err(|source| {
                OidcError::Json {
                    what: "ID token claims",
                    source,
                }
            })?;
        self.check_issuer(&claims.iss)?;
        if claims.aud.0.is_empty() || claims.aud.0.iter().any(|a| *a != self.client_id) {
            return Err(OidcError::AudienceMismatch {
                expected: self.client_id.clone(),
            });
        }
        if claims
            .azp
            .as_ref()
            .is_some_and(|azp| *azp != self.client_id)
        {
            return Err(OidcError::AudienceMismatch {
                expected: self.client_id.clone(),
            });
        }
        let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
            !expected.nonce.is_empty()
                && n.len() == expected.nonce.len()
                && openssl::memcmp::eq(n.as_bytes(), expected.nonce.as_bytes())
        });
        if !nonce_ok {
            return Err(OidcError::NonceMismatch);
        }
        if claims.sub.is_empty() || claims.sub.len() > 255 {
            return Err(OidcError::InvalidClaim {
                claim: "sub",
                reason: "must be 1 to 255 characters",
            });
        }
        if let Some(max_age) = expected.max_age {
            let auth_time = claims
                .auth_time
                .ok_or(OidcError::MissingClaim { claim: "auth_time" })?;
            let limit = auth_time
                .saturating_add(i64::try_from(max_age).unwrap_or(i64::MAX))
                .saturating_add(self.leeway.num_seconds().max(0));
            if now.timestamp() > limit {
                return Err(OidcError::AuthenticationTooOld {
                    auth_time,
                    max_age,
                    now: now.timestamp(),
                });
            }
        }
        Ok(VerifiedIdToken { claims, raw })
    }

    /// Validate a back-channel logout token (Back-Channel Logout 1.0 §2.6): signature, `exp`,
    /// `iat` and `nbf` as for ID tokens; `iss`; `aud` containing this client; the logout event
    /// with an object value; `sid` and/or `sub`; a `jti`; and **no** `nonce` (so an ID token
    /// can never be replayed as a logout token).
    pub fn validate_logout_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLogoutToken, OidcError> {
        let verified = jose::verify(token, &self.jwks, &self.allowed_algs, now, self.leeway)?;
        let raw = verified.into_claims();
        if raw.contains_key("nonce") {
            return Err(OidcError::InvalidClaim {
                claim: "nonce",
                reason: "logout tokens must not carry a nonce",
            });
        }
        let claims: LogoutTokenClaims =
            serde_json::from_value(Value::Object(raw)).map_err(|source| OidcError::Json {
                what: "logout token claims",
                source,
            })?;
        self.check_issuer(&claims.iss)?;
        if !claims.aud.contains(&self.client_id) {
            return Err(OidcError::AudienceMismatch {
                expected: self.client_id.clone(),
            });
        }
        claims.check()?;
        Ok(VerifiedLogoutToken { claims })
    }

    fn check_issuer(&self, iss: &str) -> Result<(), OidcError> {
        if iss == self.issuer {
            Ok(())
        } else {
            Err(OidcError::IssuerMismatch {
                expected: self.issuer.clone(),
                actual: iss.chars().take(256).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests;
