//! `/oauth/token` request parsing: grant and client authentication (RFC 6749 §2.3, §4.1.3, §6).

use super::params::{invalid, parse_scope, Params};
use super::{ErrorCode, OAuthError};
use crate::pkce;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use std::fmt;

/// Most form parameters accepted in one token request.
pub const MAX_TOKEN_PARAMS: usize = 32;
/// Longest form value (codes, refresh tokens, secrets) or `Authorization` header accepted.
pub const MAX_TOKEN_VALUE_LEN: usize = 4096;

/// A client secret as presented. `Debug` never shows it; compare it (constant-time, against a
/// stored hash) through [`ClientSecret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The secret's text, for verification only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// How the client authenticated (exactly one method per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic {
        /// The client id.
        client_id: String,
        /// The secret.
        client_secret: ClientSecret,
    },
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost {
        /// The client id.
        client_id: String,
        /// The secret.
        client_secret: ClientSecret,
    },
    /// A public client: `client_id` only; PKCE is mandatory for its code exchanges.
    None {
        /// The client id.
        client_id: String,
    },
}

impl ClientAuthentication {
    /// The claimed client id.
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuthentication::ClientSecretBasic { client_id, .. }
            | ClientAuthentication::ClientSecretPost { client_id, .. }
            | ClientAuthentication::None { client_id } => client_id,
        }
    }

    /// The method's discovery name, to compare with the client's registered method.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuthentication::ClientSecretBasic { .. } => "client_secret_basic",
            ClientAuthentication::ClientSecretPost { .. } => "client_secret_post",
            ClientAuthentication::None { .. } => "none",
        }
    }
}

/// The grant being exchanged. `Debug` redacts the refresh token (long-lived, unlike a code).
#[derive(Clone, PartialEq, Eq)]
pub enum Grant {
    /// `authorization_code`.
    AuthorizationCode {
        /// The code.
        code: String,
        /// Must equal the authorization request's `redirect_uri` (the facade checks).
        redirect_uri: String,
        /// PKCE verifier, syntax-checked; always present for public clients.
        code_verifier: Option<String>,
    },
    /// `refresh_token`.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// A narrowed scope, if requested (the facade checks it is a subset).
        scopes: Option<Vec<String>>,
    },
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => f
                .debug_struct("AuthorizationCode")
                .field("code", code)
                .field("redirect_uri", redirect_uri)
                .field("code_verifier", code_verifier)
                .finish(),
            Grant::RefreshToken { scopes, .. } => f
                .debug_struct("RefreshToken")
                .field("refresh_token", &"<redacted>")
                .field("scopes", scopes)
                .finish(),
        }
    }
}

/// A syntactically valid token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Client authentication as presented (not yet checked against the registration).
    pub client: ClientAuthentication,
    /// The grant.
    pub grant: Grant,
}

impl TokenRequest {
    /// Parse the form body and the `Authorization` header of a token request.
    ///
    /// Refuses: unsupported `grant_type` (`unsupported_grant_type`); missing or repeated
    /// parameters; two authentication methods at once, or a body `client_id` different from
    /// the Basic one (`invalid_request`); `client_assertion` (`private_key_jwt` is not
    /// supported), a non-Basic `Authorization` scheme, malformed Basic credentials or no
    /// client identification (`invalid_client`); a public client's code exchange without
    /// `code_verifier` (`invalid_request`).
    pub fn parse<I, K, V>(form: I, authorization: Option<&str>) -> Result<TokenRequest, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut params = Params::collect(form, MAX_TOKEN_PARAMS, |_| MAX_TOKEN_VALUE_LEN)?;
        let client = client_authentication(&mut params, authorization)?;

        let grant = match params.take("grant_type").as_deref() {
            None => return Err(invalid("grant_type is required")),
            Some("authorization_code") => {
                let code = params.require("code", "code is required")?;
                let redirect_uri = params.require("redirect_uri", "redirect_uri is required")?;
                let code_verifier = params.take("code_verifier");
                // Whether a verifier is required is decided by the provider, which knows the
                // client: a request without a secret may be a confidential client that forgot
                // it (`invalid_client`, not a PKCE complaint), and a public client's code is
                // burnt by its presentation even when the verifier is missing.
                if code_verifier
                    .as_deref()
                    .is_some_and(|v| !pkce::is_valid_verifier(v))
                {
                    return Err(invalid("malformed code_verifier"));
                }
                Grant::AuthorizationCode {
                    code,
                    redirect_uri,
                    code_verifier,
                }
            }
            Some("refresh_token") => {
                let refresh_token = params.require("refresh_token", "refresh_token is required")?;
                let scopes = match params.take("scope") {
                    None => None,
                    Some(scope) => Some(parse_scope(&scope).ok_or_else(|| {
                        OAuthError::new(ErrorCode::InvalidScope, "malformed scope")
                    })?),
                };
                Grant::RefreshToken {
                    refresh_token,
                    scopes,
                }
            }
            Some(_) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    "grant_type must be authorization_code or refresh_token",
                ))
            }
        };
        Ok(TokenRequest { client, grant })
    }
}

/// An RFC 7662 introspection request: the caller's client authentication and the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionRequest {
    /// How the resource server / app authenticated.
    pub client: ClientAuthentication,
    /// The token to introspect (required by RFC 7662 §2.1; an unknown one is simply inactive).
    pub token: String,
}

impl IntrospectionRequest {
    /// Parse the form body and `Authorization` header of an introspection request, with the
    /// same client-authentication rules as the token endpoint.
    pub fn parse<I, K, V>(
        form: I,
        authorization: Option<&str>,
    ) -> Result<IntrospectionRequest, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut params = Params::collect(form, MAX_TOKEN_PARAMS, |_| MAX_TOKEN_VALUE_LEN)?;
        let client = client_authentication(&mut params, authorization)?;
        let token = params.require("token", "token is required")?;
        Ok(IntrospectionRequest { client, token })
    }
}

fn invalid_client(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

fn client_authentication(
    params: &mut Params,
    authorization: Option<&str>,
) -> Result<ClientAuthentication, OAuthError> {
    if params.contains("client_assertion") || params.contains("client_assertion_type") {
        // Refused rather than ignored: ignoring it would make the request look like a public
        // client's, and the only thing standing between that and a token would be the facade.
        return Err(invalid_client("client assertions are not supported"));
    }
    let body_id = params.take("client_id");
    let body_secret = params.take("client_secret");
    match authorization {
        Some(header) => {
            if body_secret.is_some() {
                return Err(invalid("use only one client authentication method"));
            }
            let (client_id, client_secret) = parse_basic(header)?;
            if body_id.as_ref().is_some_and(|id| *id != client_id) {
                return Err(invalid("client_id does not match the Authorization header"));
            }
            Ok(ClientAuthentication::ClientSecretBasic {
                client_id,
                client_secret: ClientSecret(client_secret),
            })
        }
        None => match (body_id, body_secret) {
            (Some(client_id), Some(secret)) => Ok(ClientAuthentication::ClientSecretPost {
                client_id,
                client_secret: ClientSecret(secret),
            }),
            (Some(client_id), None) => Ok(ClientAuthentication::None { client_id }),
            (None, _) => Err(invalid_client("client authentication is required")),
        },
    }
}

/// Standard base64; padding optional because some clients omit it.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `Basic base64(urlencode(id) ":" urlencode(secret))` → (id, secret).
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    if header.len() > MAX_TOKEN_VALUE_LEN {
        return Err(invalid_client("malformed Authorization header"));
    }
    let (scheme, credentials) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| invalid_client("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client(
            "only HTTP Basic client authentication is supported",
        ));
    }
    let decoded = BASIC
        .decode(credentials.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    let (id, secret) = (form_urldecode(id), form_urldecode(secret));
    match (id, secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            if id.chars().chain(secret.chars()).any(char::is_control) {
                return Err(invalid_client("malformed Basic credentials"));
            }
            Ok((id, secret))
        }
        _ => Err(invalid_client("malformed Basic credentials")),
    }
}

/// Decode `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte), as RFC 6749
/// §2.3.1 requires for Basic credentials. `None` on a bad escape or non-UTF-8 result.
fn form_urldecode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // Checked first because `from_str_radix` would accept a sign (`%+1`).
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::form_urldecode;

    #[test]
    fn form_urldecode_handles_plus_escapes_and_errors() {
        assert_eq!(form_urldecode("a+b%3Ac%25").as_deref(), Some("a b:c%"));
        assert_eq!(form_urldecode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_urldecode("%"), None);
        assert_eq!(form_urldecode("%4"), None);
        assert_eq!(form_urldecode("%zz"), None);
        assert_eq!(form_urldecode("%+1"), None);
        assert_eq!(form_urldecode("%FF"), None);
        assert_eq!(form_urldecode("").as_deref(), Some(""));
    }
}
