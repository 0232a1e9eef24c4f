//! Token endpoint (RFC 6749 §5.1) and introspection (RFC 7662 §2.2) response documents.

use crate::claims::Audience;
use crate::OidcError;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Largest token response [`TokenResponse::parse`] accepts.
pub const MAX_TOKEN_RESPONSE_LEN: usize = 64 * 1024;

/// A successful token response. Serve it with `Cache-Control: no-store`. `Debug` redacts
/// the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer` when Gatehouse issues it.
    pub token_type: String,
    /// Access token lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Refresh token, when `offline_access` was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The ID token (compact JWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Granted scopes, space-separated, when they differ from those requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { "<redacted>" } else { "<none>" };
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &redacted(self.refresh_token.is_some()))
            .field("id_token", &redacted(self.id_token.is_some()))
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenResponse {
    /// A bearer token response with the given lifetime and nothing else.
    pub fn bearer(access_token: impl Into<String>, expires_in: u64) -> Self {
        TokenResponse {
            access_token: access_token.into(),
            token_type: "Bearer".to_owned(),
            expires_in: Some(expires_in),
            refresh_token: None,
            id_token: None,
            scope: None,
        }
    }

    /// Parse an upstream provider's token response (relying-party side), bounded in size.
    /// `token_type` must be `Bearer` (case-insensitive, RFC 6749 §5.1).
    pub fn parse(bytes: &[u8]) -> Result<Self, OidcError> {
        if bytes.len() > MAX_TOKEN_RESPONSE_LEN {
            return Err(OidcError::TooLarge {
                what: "token response",
                len: bytes.len(),
                max: MAX_TOKEN_RESPONSE_LEN,
            });
        }
        let response: TokenResponse =
            serde_json::from_slice(bytes).map_err(|source| OidcError::Json {
                what: "token response",
                source,
            })?;
        if !response.token_type.eq_ignore_ascii_case("bearer") {
            return Err(OidcError::InvalidClaim {
                claim: "token_type",
                reason: "not Bearer",
            });
        }
        Ok(response)
    }
}

/// What introspection says about an active token (RFC 7662 §2.2 members plus Gatehouse's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActiveToken {
    /// Granted scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Human-readable user identifier (e-mail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not-before, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Gatehouse tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Granted roles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Granted permission scopes (role-mapper output, distinct from OAuth `scope`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Login session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// An introspection response. An inactive token renders as exactly `{"active":false}`: RFC 7662
/// §2.2 lets the server say nothing more, and saying more (expired? revoked? whose?) would leak
/// to whoever holds a stolen token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntrospectionResponse {
    /// Unknown, expired, revoked, or not for this caller.
    Inactive,
    /// Active, with its claims.
    Active(Box<ActiveToken>),
}

impl Serialize for IntrospectionResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IntrospectionResponse::Inactive => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("active", &false)?;
                map.end()
            }
            IntrospectionResponse::Active(token) => {
                #[derive(Serialize)]
                struct Active<'a> {
                    active: bool,
                    #[serde(flatten)]
                    token: &'a ActiveToken,
                }
                Active {
                    active: true,
                    token,
                }
                .serialize(serializer)
            }
        }
    }
}

impl IntrospectionResponse {
    /// The response as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({ "active": false }))
    }
}
