//! `/oauth/logout` (OpenID Connect RP-Initiated Logout 1.0) request parsing and `id_token_hint`
//! verification.

use super::params::{invalid, Params};
use super::OAuthError;
use crate::claims::{Audience, IdTokenClaims};
use crate::jose::{self, Algorithm, Jwks};
use crate::OidcError;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use url::Url;

/// Most parameters accepted in one logout request.
pub const MAX_LOGOUT_PARAMS: usize = 32;

/// A syntactically valid RP-initiated logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndSessionRequest {
    /// An ID token Gatehouse issued, identifying the user and client (check it with
    /// [`verify_id_token_hint`]).
    pub id_token_hint: Option<String>,
    /// Who the client thinks is logging out.
    pub logout_hint: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// Where to send the browser afterwards; must exactly match one the client registered.
    pub post_logout_redirect_uri: Option<String>,
    /// Opaque client state to echo on that redirect.
    pub state: Option<String>,
}

impl EndSessionRequest {
    /// Parse a logout request's query or form pairs. A `post_logout_redirect_uri` needs
    /// `client_id` or `id_token_hint`, since otherwise no registration can vouch for it.
    pub fn parse<I, K, V>(pairs: I) -> Result<EndSessionRequest, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut params = Params::collect(pairs, MAX_LOGOUT_PARAMS, |name| {
            if name == "id_token_hint" {
                jose::MAX_TOKEN_LEN
            } else {
                super::MAX_AUTHORIZE_VALUE_LEN
            }
        })?;
        let request = EndSessionRequest {
            id_token_hint: params.take("id_token_hint"),
            logout_hint: params.take("logout_hint"),
            client_id: params.take("client_id"),
            post_logout_redirect_uri: params.take("post_logout_redirect_uri"),
            state: params.take("state"),
        };
        if let Some(uri) = &request.post_logout_redirect_uri {
            if request.client_id.is_none() && request.id_token_hint.is_none() {
                return Err(invalid(
                    "post_logout_redirect_uri requires client_id or id_token_hint",
                ));
            }
            match Url::parse(uri) {
                Ok(url) if url.fragment().is_none() => {}
                _ => {
                    return Err(invalid(
                        "post_logout_redirect_uri must be an absolute URI without fragment",
                    ))
                }
            }
        }
        Ok(request)
    }
}

/// An `id_token_hint` that Gatehouse itself issued. Only [`verify_id_token_hint`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdTokenHint {
    sub: String,
    aud: Audience,
    sid: Option<String>,
}

impl VerifiedIdTokenHint {
    /// The user.
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The client(s) it was issued to; compare with the request's `client_id`.
    pub fn aud(&self) -> &Audience {
        &self.aud
    }
    /// The session it was issued in.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
}

/// Check an `id_token_hint`: an RS256 signature by one of Gatehouse's published keys and
/// `iss` equal to `issuer`. Expiry is relaxed as RP-Initiated Logout §2 asks (a user often logs
/// out after the ID token expired), but not abolished: the token may be at most
/// `max_expired_for` past its `exp`, and its `iat` may not be in the future.
pub fn verify_id_token_hint(
    token: &str,
    jwks: &Jwks,
    issuer: &str,
    now: DateTime<Utc>,
    max_expired_for: TimeDelta,
) -> Result<VerifiedIdTokenHint, OidcError> {
    let verified = jose::verify_signature(token, jwks, &[Algorithm::RS256])?;
    let claims: IdTokenClaims = serde_json::from_value(Value::Object(verified.into_claims()))
        .map_err(|source| OidcError::Json {
            what: "id_token_hint claims",
            source,
        })?;
    if claims.iss != issuer {
        return Err(OidcError::IssuerMismatch {
            expected: issuer.to_owned(),
            actual: claims.iss.chars().take(256).collect(),
        });
    }
    let now = now.timestamp();
    if now
        >= claims
            .exp
            .saturating_add(max_expired_for.num_seconds().max(0))
    {
        return Err(OidcError::Expired {
            exp: claims.exp,
            now,
        });
    }
    if claims.iat > now {
        return Err(OidcError::IssuedInFuture {
            iat: claims.iat,
            now,
        });
    }
    Ok(VerifiedIdTokenHint {
        sub: claims.sub,
        aud: claims.aud,
        sid: claims.sid,
    })
}
