//! `/oauth/authorize` request parsing (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636 §4.3).

use super::params::{invalid, parse_scope, Params};
use super::{ErrorCode, OAuthError};
use crate::pkce;
use serde::{Deserialize, Serialize};
use url::Url;

/// Most parameters accepted in one authorization request.
pub const MAX_AUTHORIZE_PARAMS: usize = 64;
/// Longest value accepted for any authorization parameter except `id_token_hint`.
pub const MAX_AUTHORIZE_VALUE_LEN: usize = 2048;

fn max_len(name: &str) -> usize {
    if name == "id_token_hint" {
        crate::jose::MAX_TOKEN_LEN
    } else {
        MAX_AUTHORIZE_VALUE_LEN
    }
}

/// One `prompt` value (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No UI: fail with `login_required` / `interaction_required` instead.
    None,
    /// Re-authenticate even with a live session.
    Login,
    /// Ask for consent again.
    Consent,
    /// Let the user pick an account.
    SelectAccount,
}

impl Prompt {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::None => "none",
            Prompt::Login => "login",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Prompt::None),
            "login" => Some(Prompt::Login),
            "consent" => Some(Prompt::Consent),
            "select_account" => Some(Prompt::SelectAccount),
            _ => None,
        }
    }
}

/// The three values needed to decide whether an authorization error may be redirected, read
/// before they are checked. The facade verifies `client_id` and `redirect_uri` against the
/// client's registration; only then may errors go to `redirect_uri` (with `state`), otherwise
/// they are shown to the user (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedRedirect {
    /// The claimed client.
    pub client_id: String,
    /// The claimed redirect URI.
    pub redirect_uri: String,
    /// The client's `state`, to echo.
    pub state: Option<String>,
}

/// A syntactically valid authorization request. The facade still checks the client, the
/// redirect URI against its registration, and the routing selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The client.
    pub client_id: String,
    /// Redirect URI as sent; compare with [`super::redirect_uri_matches`].
    pub redirect_uri: String,
    /// Requested scopes, de-duplicated, always including `openid`.
    pub scopes: Vec<String>,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// Nonce to put in the ID token.
    pub nonce: Option<String>,
    /// PKCE `S256` challenge (the method is always `S256`; `plain` is refused). The facade
    /// requires it for public clients.
    pub code_challenge: Option<String>,
    /// Who the client thinks is logging in (often an e-mail, used for home-realm discovery).
    pub login_hint: Option<String>,
    /// `prompt` values (`none` never combined with others).
    pub prompt: Vec<Prompt>,
    /// Maximum authentication age in seconds.
    pub max_age: Option<u64>,
    /// Requested authentication context classes, in preference order.
    pub acr_values: Vec<String>,
    /// A previously issued ID token, as a hint about the current session (unverified).
    pub id_token_hint: Option<String>,
    /// Gatehouse selector: tenant slug.
    pub tenant: Option<String>,
    /// Gatehouse selector: explicit connection id.
    pub connection: Option<String>,
    /// Gatehouse selector: e-mail domain to route by.
    pub domain_hint: Option<String>,
}

impl AuthorizeRequest {
    /// Read `client_id`, `redirect_uri` and `state` without validating anything else; `None`
    /// if `client_id` or `redirect_uri` is missing, repeated or out of bounds.
    pub fn unverified_redirect<I, K, V>(pairs: I) -> Option<UnverifiedRedirect>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut client_id = None;
        let mut redirect_uri = None;
        let mut state = None;
        let mut repeated = false;
        for (name, value) in pairs.into_iter().take(MAX_AUTHORIZE_PARAMS) {
            let slot = match name.as_ref() {
                "client_id" => &mut client_id,
                "redirect_uri" => &mut redirect_uri,
                "state" => &mut state,
                _ => continue,
            };
            let value = value.as_ref();
            if value.len() > MAX_AUTHORIZE_VALUE_LEN || value.chars().any(char::is_control) {
                return None;
            }
            repeated |= slot.replace(value.to_owned()).is_some();
        }
        if repeated {
            return None;
        }
        Some(UnverifiedRedirect {
            client_id: client_id.filter(|c| !c.is_empty())?,
            redirect_uri: redirect_uri.filter(|r| !r.is_empty())?,
            state: state.filter(|s| !s.is_empty()),
        })
    }

    /// Parse and check an authorization request's query pairs.
    ///
    /// Errors are `invalid_request` unless a more specific code applies:
    /// `unsupported_response_type` (not `code`), `invalid_scope` (no `openid`, bad syntax),
    /// `request_not_supported` / `request_uri_not_supported`. Unknown parameters are ignored
    /// (RFC 6749 §3.1).
    pub fn parse<I, K, V>(pairs: I) -> Result<AuthorizeRequest, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut params = Params::collect(pairs, MAX_AUTHORIZE_PARAMS, max_len)?;

        let client_id = params.require("client_id", "client_id is required")?;
        let redirect_uri = params.require("redirect_uri", "redirect_uri is required")?;
        match Url::parse(&redirect_uri) {
            Ok(url) if url.fragment().is_none() => {}
            _ => {
                return Err(invalid(
                    "redirect_uri must be an absolute URI without fragment",
                ))
            }
        }

        if params.contains("request") {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if params.contains("request_uri") {
            return Err(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }

        match params.take("response_type").as_deref() {
            Some("code") => {}
            None => return Err(invalid("response_type is required")),
            Some(_) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ))
            }
        }
        match params.take("response_mode").as_deref() {
            None | Some("query") => {}
            Some(_) => return Err(invalid("only response_mode=query is supported")),
        }

        let scope = params.require("scope", "scope is required")?;
        let scopes = parse_scope(&scope)
            .ok_or_else(|| OAuthError::new(ErrorCode::InvalidScope, "malformed scope"))?;
        if !scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "scope must include openid",
            ));
        }

        let code_challenge = params.take("code_challenge");
        let method = params.take("code_challenge_method");
        match (&code_challenge, method.as_deref()) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(invalid("code_challenge_method without code_challenge"));
            }
            // A missing method means `plain` (RFC 7636 §4.3), which is refused like an explicit one.
            (Some(_), None) => return Err(invalid("code_challenge_method must be S256")),
            (Some(challenge), Some(method)) => {
                if pkce::parse_method(method).is_none() {
                    return Err(invalid("code_challenge_method must be S256"));
                }
                if !pkce::is_valid_s256_challenge(challenge) {
                    return Err(invalid("malformed code_challenge"));
                }
            }
        }

        let prompt = match params.take("prompt") {
            None => Vec::new(),
            Some(value) => parse_prompt(&value)?,
        };
        let max_age = match params.take("max_age") {
            None => None,
            Some(value) => Some(parse_max_age(&value)?),
        };
        let acr_values = match params.take("acr_values") {
            None => Vec::new(),
            Some(value) => {
                let values: Vec<String> = value
                    .split(' ')
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect();
                if values.len() > 16 {
                    return Err(invalid("too many acr_values"));
                }
                values
            }
        };

        Ok(AuthorizeRequest {
            client_id,
            redirect_uri,
            scopes,
            state: params.take("state"),
            nonce: params.take("nonce"),
            code_challenge,
            login_hint: params.take("login_hint"),
            prompt,
            max_age,
            acr_values,
            id_token_hint: params.take("id_token_hint"),
            tenant: bounded_selector(params.take("tenant"))?,
            connection: bounded_selector(params.take("connection"))?,
            domain_hint: bounded_selector(params.take("domain_hint"))?,
        })
    }

    /// Whether the request asked for `prompt=none` (no interaction allowed).
    pub fn is_prompt_none(&self) -> bool {
        self.prompt.contains(&Prompt::None)
    }
}

fn parse_prompt(value: &str) -> Result<Vec<Prompt>, OAuthError> {
    let mut prompts = Vec::new();
    for token in value.split(' ').filter(|t| !t.is_empty()) {
        let prompt = Prompt::parse(token).ok_or_else(|| invalid("unsupported prompt value"))?;
        if !prompts.contains(&prompt) {
            prompts.push(prompt);
        }
    }
    // OIDC Core §3.1.2.1: `none` with any other value is an error.
    if prompts.contains(&Prompt::None) && prompts.len() > 1 {
        return Err(invalid("prompt=none cannot be combined with other values"));
    }
    Ok(prompts)
}

fn parse_max_age(value: &str) -> Result<u64, OAuthError> {
    // Digits only (no sign, no spaces) and at most ten of them: ~317 years is plenty.
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("max_age must be a non-negative integer"));
    }
    value
        .parse()
        .map_err(|_| invalid("max_age must be a non-negative integer"))
}

/// Routing selectors are identifiers or domains, not free text: 255 bytes of visible ASCII.
fn bounded_selector(value: Option<String>) -> Result<Option<String>, OAuthError> {
    match value {
        Some(v) if v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(invalid("malformed tenant, connection or domain_hint"))
        }
        other => Ok(other),
    }
}
