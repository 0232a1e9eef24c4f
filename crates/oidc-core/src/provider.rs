//! Gatehouse as an OpenID Connect **provider** to the downstream app: the discovery document,
//! authorization and token request parsing, token / introspection response documents, ID token
//! and back-channel logout token claims, and the OAuth error values those endpoints return.
//!
//! Everything here is a value or a pure function; the facade owns clients, codes, sessions and
//! the clock, and the server renders these values as HTTP.

mod authorize;
mod discovery;
mod documents;
mod logout;
mod params;
mod token;

pub use crate::claims::{build_logout_token, Audience, IdTokenClaims, LogoutTokenClaims};
pub use authorize::{
    AuthorizeRequest, Prompt, UnverifiedRedirect, MAX_AUTHORIZE_PARAMS, MAX_AUTHORIZE_VALUE_LEN,
};
pub use discovery::{issuer_identifier, DiscoveryDocument, CLAIMS_SUPPORTED};
pub use documents::{ActiveToken, IntrospectionResponse, TokenResponse, MAX_TOKEN_RESPONSE_LEN};
pub use logout::{verify_id_token_hint, EndSessionRequest, VerifiedIdTokenHint, MAX_LOGOUT_PARAMS};
pub use token::{
    ClientAuthentication, ClientSecret, Grant, IntrospectionRequest, TokenRequest,
    MAX_TOKEN_PARAMS, MAX_TOKEN_VALUE_LEN,
};

use crate::OidcError;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use url::Url;

/// The OAuth 2.0 / OpenID Connect `error` codes Gatehouse's endpoints return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Malformed, missing or repeated parameter (RFC 6749 §4.1.2.1, §5.2).
    InvalidRequest,
    /// Client authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// Code or refresh token invalid, expired, revoked, or PKCE failed (RFC 6749 §5.2).
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// `grant_type` is not `authorization_code` or `refresh_token`.
    UnsupportedGrantType,
    /// `response_type` is not `code` (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// Unknown, malformed or excessive scope.
    InvalidScope,
    /// The user or policy denied the request.
    AccessDenied,
    /// Gatehouse failed internally; detail goes to logs only.
    ServerError,
    /// `prompt=none` but the user is not logged in (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none` but interaction is needed (OIDC Core §3.1.2.6).
    InteractionRequired,
    /// The `request` parameter (request objects) is not supported.
    RequestNotSupported,
    /// The `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// A bearer token presented to the userinfo endpoint is invalid (RFC 6750 §3.1).
    InvalidToken,
}

impl ErrorCode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
        }
    }

    /// The HTTP status when the error is returned in a response body (token, introspection and
    /// userinfo endpoints, or an authorization request that cannot be redirected): 401 for
    /// `invalid_client` / `invalid_token` (send `WWW-Authenticate` with it), 500 for
    /// `server_error`, 400 otherwise. Authorization errors for a verified redirect URI are
    /// delivered by redirect instead.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error response: `{"error": ..., "error_description": ...}`.
///
/// The description is shown to the client developer, so it says what was wrong with the request
/// in fixed words and never carries internal detail (that goes to logs and audit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    /// The error code.
    pub error: ErrorCode,
    /// Human-readable explanation for the client developer (may be empty).
    #[serde(rename = "error_description", skip_serializing_if = "str::is_empty")]
    pub description: Cow<'static, str>,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(error: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    /// The HTTP status for a response-body error (see [`ErrorCode::http_status`]).
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }

    /// The error as a JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.error.as_str().into());
        if !self.description.is_empty() {
            body.insert("error_description".into(), self.description.as_ref().into());
        }
        serde_json::Value::Object(body)
    }

    /// The authorization error redirect (RFC 6749 §4.1.2.1) to an already **verified**
    /// `redirect_uri`, echoing `state` and adding `iss` (RFC 9207).
    pub fn redirect_url(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        issuer: &str,
    ) -> Result<Url, OidcError> {
        let mut pairs = vec![("error", self.error.as_str())];
        if !self.description.is_empty() {
            pairs.push(("error_description", self.description.as_ref()));
        }
        response_url(redirect_uri, &pairs, state, issuer)
    }
}

/// The successful authorization response redirect (RFC 6749 §4.1.2): `code`, `state` if the
/// request had one, and `iss` (RFC 9207, so a client talking to several providers can detect
/// mix-up attacks). `redirect_uri` must already be verified with [`redirect_uri_matches`]; its
/// own query parameters are kept.
pub fn authorization_response_url(
    redirect_uri: &str,
    code: &str,
    state: Option<&str>,
    issuer: &str,
) -> Result<Url, OidcError> {
    response_url(redirect_uri, &[("code", code)], state, issuer)
}

fn response_url(
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> Result<Url, OidcError> {
    let mut url = Url::parse(redirect_uri).map_err(|source| OidcError::InvalidUrl {
        what: "redirect_uri",
        source,
    })?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Ok(url)
}

/// Whether `given` is one of the client's registered redirect URIs, compared as exact strings
/// (no normalisation, prefix or wildcard matching: each of those has produced open redirects and
/// code theft elsewhere).
pub fn redirect_uri_matches(registered: &[String], given: &str) -> bool {
    registered.iter().any(|r| r == given)
}

#[cfg(test)]
mod tests;
