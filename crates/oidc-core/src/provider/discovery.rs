//! The OpenID Provider configuration document served at `/.well-known/openid-configuration`.

use crate::OidcError;
use serde::Serialize;
use url::Url;

/// The issuer identifier Gatehouse uses everywhere (discovery `issuer`, token `iss`): the URL
/// without a trailing `/`, so `https://sso.example.com` and `https://sso.example.com/` name the
/// same issuer. Refuses anything but `https` (OIDC Discovery §3; plain `http` only for a
/// loopback host, for local development — the same rule Gatehouse's relying party applies),
/// credentials, queries and fragments.
pub fn issuer_identifier(issuer: &Url) -> Result<String, OidcError> {
    let loopback = matches!(issuer.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match issuer.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(OidcError::InvalidIssuer {
                reason: "scheme is not https",
            })
        }
    }
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(OidcError::InvalidIssuer {
            reason: "issuer has a query or fragment",
        });
    }
    if !issuer.username().is_empty() || issuer.password().is_some() {
        return Err(OidcError::InvalidIssuer {
            reason: "issuer has credentials",
        });
    }
    if issuer.host_str().is_none() {
        return Err(OidcError::InvalidIssuer {
            reason: "issuer has no host",
        });
    }
    Ok(issuer.as_str().trim_end_matches('/').to_owned())
}

/// Gatehouse's provider metadata (OIDC Discovery 1.0 §3, RFC 8414, RFC 7662, Back-Channel
/// Logout 1.0, RFC 9207). Fields serialize in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveryDocument {
    /// Issuer identifier (see [`issuer_identifier`]).
    pub issuer: String,
    /// `{issuer}/oauth/authorize`.
    pub authorization_endpoint: String,
    /// `{issuer}/oauth/token`.
    pub token_endpoint: String,
    /// `{issuer}/oauth/userinfo`.
    pub userinfo_endpoint: String,
    /// `{issuer}/oauth/jwks`.
    pub jwks_uri: String,
    /// `{issuer}/oauth/introspect` (RFC 7662).
    pub introspection_endpoint: String,
    /// `{issuer}/oauth/logout` (OpenID Connect RP-Initiated Logout 1.0). Optional in the type
    /// so an embedder that does not serve it can leave it out: discovery only advertises what
    /// works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// Scopes clients may request.
    pub scopes_supported: &'static [&'static str],
    /// Only the authorization code flow.
    pub response_types_supported: &'static [&'static str],
    /// Only `query` (no implicit/hybrid, so no `fragment`; no `form_post`).
    pub response_modes_supported: &'static [&'static str],
    /// Authorization code and refresh token grants.
    pub grant_types_supported: &'static [&'static str],
    /// `sub` is the same for every client.
    pub subject_types_supported: &'static [&'static str],
    /// ID tokens are RS256.
    pub id_token_signing_alg_values_supported: &'static [&'static str],
    /// Client authentication at the token endpoint (`none` = public client with PKCE).
    pub token_endpoint_auth_methods_supported: &'static [&'static str],
    /// Client authentication at the introspection endpoint (confidential clients only).
    pub introspection_endpoint_auth_methods_supported: &'static [&'static str],
    /// PKCE methods: `S256` only.
    pub code_challenge_methods_supported: &'static [&'static str],
    /// `prompt` values understood.
    pub prompt_values_supported: &'static [&'static str],
    /// Claims ID tokens and userinfo may carry.
    pub claims_supported: &'static [&'static str],
    /// Back-channel logout tokens are sent to clients that register a URI.
    pub backchannel_logout_supported: bool,
    /// Logout tokens carry `sid`.
    pub backchannel_logout_session_supported: bool,
    /// The `claims` request parameter is ignored.
    pub claims_parameter_supported: bool,
    /// Request objects are refused.
    pub request_parameter_supported: bool,
    /// `request_uri` is refused (stated because the spec's default is `true`).
    pub request_uri_parameter_supported: bool,
    /// Authorization responses carry `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
}

/// Every claim Gatehouse may put in an ID token or userinfo response.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "email",
    "email_verified",
    "given_name",
    "family_name",
    "name",
    "tenant",
    "idp",
    "amr",
    "acr",
    "auth_time",
    "groups",
    "roles",
    "scopes",
    "sid",
];

impl DiscoveryDocument {
    /// The document for `issuer`; endpoint URLs extend the issuer's path, so an issuer with a
    /// path prefix (`https://example.com/sso`) keeps it.
    pub fn new(issuer: &Url) -> Result<Self, OidcError> {
        let issuer = issuer_identifier(issuer)?;
        let endpoint = |path: &str| format!("{issuer}{path}");
        Ok(DiscoveryDocument {
            authorization_endpoint: endpoint("/oauth/authorize"),
            token_endpoint: endpoint("/oauth/token"),
            userinfo_endpoint: endpoint("/oauth/userinfo"),
            jwks_uri: endpoint("/oauth/jwks"),
            introspection_endpoint: endpoint("/oauth/introspect"),
            end_session_endpoint: Some(endpoint("/oauth/logout")),
            issuer,
            scopes_supported: &["openid", "profile", "email"],
            response_types_supported: &["code"],
            response_modes_supported: &["query"],
            grant_types_supported: &["authorization_code", "refresh_token"],
            subject_types_supported: &["public"],
            id_token_signing_alg_values_supported: &["RS256"],
            token_endpoint_auth_methods_supported: &[
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            introspection_endpoint_auth_methods_supported: &[
                "client_secret_basic",
                "client_secret_post",
            ],
            code_challenge_methods_supported: &["S256"],
            prompt_values_supported: &["none", "login", "consent", "select_account"],
            claims_supported: CLAIMS_SUPPORTED,
            // Revoking a session posts a logout token (with `sid`) to the app's registered
            // back-channel logout URI (gatehouse::events).
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            authorization_response_iss_parameter_supported: true,
        })
    }

    /// The document as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        // Strings, string lists and booleans always serialize; never panic in a handler.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
