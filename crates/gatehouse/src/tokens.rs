//! The app-facing OpenID Connect provider: token endpoint (authorization code + PKCE), userinfo,
//! introspection (RFC 7662), JWKS with rotation, discovery.
//!
//! Access tokens are opaque random strings stored as hashes and bound to a session, so revoking
//! the session makes introspection and userinfo answer "inactive" at once on every replica.

use crate::admin::rfc3339;
use crate::error::{GatehouseError, Result};
use crate::util::{constant_time_eq, parse_json_list, token_hash};
use crate::{Call, Gatehouse};
use oidc_core::jose::{Jwks, SigningKey};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use storage::{models, queries};

/// How long after its expiry a used authorization code is still recognised when presented
/// again (and then ends the session it was issued for, RFC 6749 §4.1.2); after that it is
/// purged and unknown. Codes live 60 s; an intercepted code is replayed within seconds.
pub const AUTH_CODE_REUSE_WINDOW_SECS: i64 = 600;

/// How an app authenticated at the token or introspection endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic` or `client_secret_post`.
    Secret {
        /// `client_id`.
        client_id: String,
        /// `client_secret`.
        secret: String,
    },
    /// A public client (`none`): PKCE is then mandatory.
    Public {
        /// `client_id`.
        client_id: String,
    },
}

impl From<&oidc_core::provider::ClientAuthentication> for ClientAuth {
    fn from(auth: &oidc_core::provider::ClientAuthentication) -> Self {
        use oidc_core::provider::ClientAuthentication as A;
        match auth {
            A::ClientSecretBasic {
                client_id,
                client_secret,
            }
            | A::ClientSecretPost {
                client_id,
                client_secret,
            } => ClientAuth::Secret {
                client_id: client_id.clone(),
                secret: client_secret.expose().to_owned(),
            },
            A::None { client_id } => ClientAuth::Public {
                client_id: client_id.clone(),
            },
        }
    }
}

impl ClientAuth {
    fn client_id(&self) -> &str {
        match self {
            ClientAuth::Secret { client_id, .. } | ClientAuth::Public { client_id } => client_id,
        }
    }
}

/// The token endpoint's success response.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// Opaque bearer token for userinfo / introspection.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token (and the session) expire.
    pub expires_in: i64,
    /// The signed ID token.
    pub id_token: String,
    /// Granted scope.
    pub scope: String,
    /// Single-use refresh token (rotated on every use), valid while the session lives.
    pub refresh_token: String,
}

/// Parsed signing keys, cached by `kid` (parsing and decrypting a PEM per token would dominate
/// the token endpoint's cost).
#[derive(Default)]
pub(crate) struct KeyCache {
    keys: Mutex<HashMap<String, SigningKey>>,
    /// Which key signs, and when that was read: re-read at most every
    /// [`ACTIVE_KEY_RECHECK_SECS`] instead of listing every key for every token. A rotation made
    /// on another replica is picked up within that time; meanwhile this one signs with the key
    /// just retired, which stays published in the JWKS for a day, so its tokens still verify.
    active: Mutex<Option<(String, i64)>>,
}

/// How long a replica keeps signing with the key it last saw active.
const ACTIVE_KEY_RECHECK_SECS: i64 = 30;

/// A token-signing key as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SigningKeyView {
    /// Key id.
    pub kid: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Whether it signs new tokens.
    pub active: bool,
    /// Published in the JWKS until (RFC 3339), for retired keys.
    pub publish_until: Option<String>,
}

/// The longest a token can live: retired keys stay published this long.
const MAX_TOKEN_LIFETIME_SECS: i64 = 86_400;

impl Gatehouse {
    pub(crate) fn parsed_key(&self, row: &models::SigningKey) -> Result<SigningKey> {
        if let Ok(cache) = self.key_cache.keys.lock() {
            if let Some(k) = cache.get(&row.kid) {
                return Ok(k.clone());
            }
        }
        let pem = self.config.secrets.open(&row.private_key)?;
        let key = SigningKey::from_pem(&pem).map_err(GatehouseError::internal)?;
        if let Ok(mut cache) = self.key_cache.keys.lock() {
            cache.insert(row.kid.clone(), key.clone());
        }
        Ok(key)
    }

    /// Make sure a signing key exists (first start); returns its kid.
    pub fn ensure_signing_key(&self, call: &Call) -> Result<String> {
        let keys = self.store.transaction(queries::list_signing_keys)?;
        if let Some(active) = keys.iter().find(|k| k.retired_at.is_none()) {
            return Ok(active.kid.clone());
        }
        self.rotate_signing_key(call)
    }

    /// Start signing with a new key; the previous one stays in the JWKS until every token it
    /// signed has expired.
    pub fn rotate_signing_key(&self, call: &Call) -> Result<String> {
        let key = SigningKey::generate(2048).map_err(GatehouseError::internal)?;
        let pem = key.to_pem().map_err(GatehouseError::internal)?;
        let sealed = self.with_entropy(|e| self.config.secrets.seal(&pem, e))?;
        let kid = key.kid().to_owned();
        let now = call.now.timestamp();
        self.transaction(|conn| {
            for old in queries::list_signing_keys(conn)?
                .iter()
                .filter(|k| k.retired_at.is_none())
            {
                queries::retire_signing_key(conn, &old.kid, now, now + MAX_TOKEN_LIFETIME_SECS)?;
            }
            queries::insert_signing_key(
                conn,
                &models::SigningKey {
                    kid: kid.clone(),
                    private_key: sealed,
                    created_at: now,
                    retired_at: None,
                    publish_until: None,
                },
            )?;
            self.audit(
                conn,
                call,
                crate::audit_log::SYSTEM_TENANT,
                Some(&kid),
                audit::AuditEvent::AdminAction {
                    action: "keys.rotate".into(),
                    summary: format!("new signing key {kid}"),
                },
            )
        })?;
        // This replica signs with the new key from now on.
        if let Ok(mut active) = self.key_cache.active.lock() {
            *active = None;
        }
        Ok(kid)
    }

    /// Signing keys, newest first.
    pub fn list_signing_keys(&self) -> Result<Vec<SigningKeyView>> {
        let rows = self.store.transaction(queries::list_signing_keys)?;
        Ok(rows
            .into_iter()
            .map(|r| SigningKeyView {
                kid: r.kid,
                created_at: rfc3339(r.created_at),
                active: r.retired_at.is_none(),
                publish_until: r.publish_until.map(rfc3339),
            })
            .collect())
    }

    /// The JWKS document: the active key and retired keys still within their publish window.
    pub fn jwks(&self, call: &Call) -> Result<Value> {
        let rows = self.store.transaction(queries::list_signing_keys)?;
        let now = call.now.timestamp();
        let keys = rows
            .iter()
            .filter(|r| r.publish_until.is_none_or(|until| until > now))
            .map(|r| self.parsed_key(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Jwks::from_signing_keys(keys.iter()).to_json())
    }

    pub(crate) fn active_signing_key(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
    ) -> Result<SigningKey> {
        let now = call.now.timestamp();
        let recent = match self.key_cache.active.lock() {
            Ok(active) => active
                .as_ref()
                .filter(|(_, read_at)| (0..ACTIVE_KEY_RECHECK_SECS).contains(&(now - read_at)))
                .map(|(kid, _)| kid.clone()),
            Err(_) => None,
        };
        if let Some(kid) = recent {
            if let Ok(cache) = self.key_cache.keys.lock() {
                if let Some(k) = cache.get(&kid) {
                    return Ok(k.clone());
                }
            }
        }
        let rows = queries::list_signing_keys(conn)?;
        let row = rows
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| {
                GatehouseError::internal("no active signing key; run `gatehouse keys rotate`")
            })?;
        let key = self.parsed_key(row)?;
        if let Ok(mut active) = self.key_cache.active.lock() {
            *active = Some((row.kid.clone(), now));
        }
        Ok(key)
    }

    /// The OpenID Provider discovery document.
    pub fn discovery_document(&self) -> Result<Value> {
        let doc = oidc_core::provider::DiscoveryDocument::new(&self.config.public_url)
            .map_err(GatehouseError::internal)?;
        Ok(doc.to_json())
    }

    /// Forget what only mattered for a while: replay-cache entries and login flows past their
    /// expiry, and authorization codes past the reuse window. The server's background worker
    /// runs it every minute; run it from a scheduler when embedding. Returns how many rows went.
    pub fn purge_expired(&self, call: &Call) -> Result<usize> {
        let now = call.now.timestamp();
        self.transaction(|conn| {
            Ok(queries::purge_expired(
                conn,
                now,
                now - AUTH_CODE_REUSE_WINDOW_SECS,
            )?)
        })
    }

    /// The token endpoint, from a request parsed by `oidc-core`.
    pub fn token(
        &self,
        call: &Call,
        request: &oidc_core::provider::TokenRequest,
    ) -> Result<TokenResponse> {
        use oidc_core::provider::Grant;
        let auth = ClientAuth::from(&request.client);
        match &request.grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => self.exchange_code(call, &auth, code, redirect_uri, code_verifier.as_deref()),
            Grant::RefreshToken { refresh_token, .. } => self.refresh(call, &auth, refresh_token),
        }
    }

    fn authenticate_client(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        auth: &ClientAuth,
    ) -> Result<models::OidcClient> {
        let invalid = || GatehouseError::oauth("invalid_client", "client authentication failed");
        let client = self
            .cached_client(conn, auth.client_id(), call.now)?
            .ok_or_else(invalid)?;
        match (auth, &client.secret_hash) {
            (ClientAuth::Secret { secret, .. }, Some(current)) => {
                let presented = token_hash(secret);
                let previous_ok = match (
                    &client.previous_secret_hash,
                    client.previous_secret_expires_at,
                ) {
                    (Some(prev), Some(until)) if until > call.now.timestamp() => {
                        constant_time_eq(prev.as_bytes(), presented.as_bytes())
                    }
                    _ => false,
                };
                if constant_time_eq(current.as_bytes(), presented.as_bytes()) || previous_ok {
                    Ok(client)
                } else {
                    Err(invalid())
                }
            }
            (ClientAuth::Public { .. }, None) => Ok(client),
            // A confidential client must authenticate; a public one has nothing to present.
            _ => Err(invalid()),
        }
    }

    /// Exchange an authorization code (single use, short-lived, bound to client, redirect URI
    /// and PKCE challenge) for tokens.
    pub fn exchange_code(
        &self,
        call: &Call,
        auth: &ClientAuth,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<TokenResponse> {
        let access_token = format!("gha_{}", self.random_hex(32));
        // The outer result is the transaction's: once the client has authenticated and the code
        // has been taken, the code stays used even if a later check fails (a code presented with
        // the wrong redirect URI or verifier may have been intercepted; it must not work later).
        let outcome: Result<Result<TokenResponse>> = self.transaction(|conn| {
            let client = self.authenticate_client(conn, call, auth)?;
            let bad_grant = |why: &str| GatehouseError::oauth("invalid_grant", why.to_owned());
            if code.len() > 200 {
                return Ok(Err(bad_grant("unknown code")));
            }
            let code_hash = token_hash(code);
            let Some(stored) = queries::take_auth_code(conn, &code_hash)? else {
                // A used code presented again may have been intercepted: the tokens already
                // issued from it end with its session (RFC 6749 §4.1.2), through the one
                // revocation mechanism (audited, announced, back-channel logout).
                // Only the client the code was issued to, and only soon after: a used code
                // found later in a log or a browser history must not let anyone end the session.
                let reused = queries::find_used_auth_code(conn, &code_hash)?.filter(|used| {
                    used.client_id == client.id
                        && call.now.timestamp() <= used.expires_at + AUTH_CODE_REUSE_WINDOW_SECS
                });
                if let Some(used) = reused {
                    if let Some(session) = queries::find_session(conn, &used.session_id)? {
                        self.end_sessions(
                            conn,
                            call,
                            vec![session],
                            audit::SessionEndReason::AuthorizationCodeReuse,
                            "authorization_code_reuse",
                        )?;
                    }
                    tracing::warn!(correlation_id = %call.correlation_id, session_id = %used.session_id, "used authorization code presented again; session revoked");
                }
                return Ok(Err(bad_grant("unknown or used code")));
            };
            Ok(self.issue_tokens(
                conn,
                call,
                &client,
                &stored,
                redirect_uri,
                code_verifier,
                &access_token,
            ))
        });
        outcome?
    }

    #[allow(clippy::too_many_arguments)]
    fn issue_tokens(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &models::OidcClient,
        stored: &models::AuthCode,
        redirect_uri: &str,
        code_verifier: Option<&str>,
        access_token: &str,
    ) -> Result<TokenResponse> {
        let bad_grant = |why: &str| GatehouseError::oauth("invalid_grant", why.to_owned());
        if stored.client_id != client.id || stored.redirect_uri != redirect_uri {
            return Err(bad_grant(
                "code was issued to another client or redirect_uri",
            ));
        }
        if stored.expires_at <= call.now.timestamp() {
            return Err(bad_grant("code expired"));
        }
        match (&stored.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) => {
                if !oidc_core::pkce::verify_s256(verifier, challenge) {
                    return Err(bad_grant("PKCE verification failed"));
                }
            }
            (Some(_), None) => return Err(bad_grant("code_verifier required")),
            (None, Some(_)) => {
                return Err(bad_grant(
                    "no code_challenge was sent with the authorization request",
                ))
            }
            (None, None) if client.secret_hash.is_none() => {
                return Err(bad_grant("PKCE is required for public clients"))
            }
            (None, None) => {}
        }
        self.mint_tokens(
            conn,
            call,
            &client.id,
            &stored.session_id,
            stored.nonce.as_deref(),
            &stored.scope,
            access_token,
        )
    }

    /// Issue an ID token, an access token and a refresh token for a live session.
    #[allow(clippy::too_many_arguments)]
    fn mint_tokens(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client_id: &str,
        session_id: &str,
        nonce: Option<&str>,
        scope: &str,
        access_token: &str,
    ) -> Result<TokenResponse> {
        let (session, user, tenant) = self
            .live_session(conn, call, session_id)?
            .ok_or_else(|| GatehouseError::oauth("invalid_grant", "session ended"))?;
        let key = self.active_signing_key(conn, call)?;
        // Grants are read now, so a refresh carries roles changed since the login.
        let grants = crate::roles::user_grants(conn, &user.id)?;
        let id_claims =
            self.id_token_claims(&grants, &session, &user, &tenant, client_id, nonce, call);
        let id_token = key
            .sign(&Value::Object(id_claims))
            .map_err(GatehouseError::internal)?;
        queries::insert_access_token(
            conn,
            &models::AccessToken {
                token_hash: token_hash(access_token),
                session_id: session.id.clone(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                issued_at: call.now.timestamp(),
                expires_at: session.expires_at,
            },
        )?;
        let refresh_token = format!("ghr_{}", self.random_hex(32));
        queries::insert_refresh_token(
            conn,
            &models::RefreshToken {
                token_hash: token_hash(&refresh_token),
                session_id: session.id.clone(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                issued_at: call.now.timestamp(),
                used: false,
            },
        )?;
        Ok(TokenResponse {
            access_token: access_token.to_owned(),
            token_type: "Bearer",
            expires_in: session.expires_at - call.now.timestamp(),
            id_token,
            scope: scope.to_owned(),
            refresh_token,
        })
    }

    /// The refresh grant: only while the user is active and the session is live. Refresh tokens
    /// rotate; presenting a rotated one again means it was copied, so the session ends.
    pub fn refresh(
        &self,
        call: &Call,
        auth: &ClientAuth,
        refresh_token: &str,
    ) -> Result<TokenResponse> {
        let access_token = format!("gha_{}", self.random_hex(32));
        let bad_grant = |why: &str| GatehouseError::oauth("invalid_grant", why.to_owned());
        let outcome: Result<Result<TokenResponse>> = self.transaction(|conn| {
            let client = self.authenticate_client(conn, call, auth)?;
            if refresh_token.len() > 200 {
                return Ok(Err(bad_grant("unknown refresh token")));
            }
            let Some((row, fresh)) = queries::use_refresh_token(conn, &token_hash(refresh_token))? else {
                return Ok(Err(bad_grant("unknown refresh token")));
            };
            if row.client_id != client.id {
                return Ok(Err(bad_grant("refresh token was issued to another client")));
            }
            if !fresh {
                // Through the one revocation mechanism: audited, announced, back-channel logout.
                if let Some(session) = queries::find_session(conn, &row.session_id)? {
                    self.end_sessions(conn, call, vec![session], audit::SessionEndReason::RefreshTokenReuse, "refresh_token_reuse")?;
                }
                tracing::warn!(correlation_id = %call.correlation_id, session_id = %row.session_id, "rotated refresh token presented again; session revoked");
                return Ok(Err(bad_grant("refresh token already used")));
            }
            let minted = self.mint_tokens(conn, call, &client.id, &row.session_id, None, &row.scope, &access_token);
            if minted.is_ok() {
                if let Some(session) = queries::find_session(conn, &row.session_id)? {
                    self.audit(
                        conn,
                        call,
                        &session.tenant_id,
                        Some(&session.user_id),
                        audit::AuditEvent::SessionRefreshed {
                            session_id: session.id.clone(),
                            expires_at: chrono::DateTime::from_timestamp(session.expires_at, 0)
                                .unwrap_or(call.now),
                        },
                    )?;
                }
            }
            Ok(minted)
        });
        outcome?
    }

    /// A session with its user and tenant, if it is still live (not expired, not revoked, user
    /// active). This is the one check every token path goes through.
    pub(crate) fn live_session(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        session_id: &str,
    ) -> Result<Option<(models::Session, models::User, models::Tenant)>> {
        let Some((session, user, tenant)) = queries::find_session_user_tenant(conn, session_id)?
        else {
            return Ok(None);
        };
        if session.revoked_at.is_some()
            || session.expires_at <= call.now.timestamp()
            || !user.active
        {
            return Ok(None);
        }
        Ok(Some((session, user, tenant)))
    }

    fn profile_claims(
        &self,
        session: &models::Session,
        user: &models::User,
        tenant: &models::Tenant,
        grants: &[role_mapper::Grant],
    ) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("sub".into(), json!(user.id));
        if let Some(email) = &user.email {
            c.insert("email".into(), json!(email));
        }
        if let Some(v) = &user.first_name {
            c.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.last_name {
            c.insert("family_name".into(), json!(v));
        }
        let name = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            c.insert("name".into(), json!(name));
        }
        c.insert("tenant".into(), json!(tenant.slug));
        c.insert("tenant_id".into(), json!(tenant.id));
        c.insert("idp".into(), json!(session.connection_id));
        c.insert("groups".into(), json!(parse_json_list(&user.groups)));
        c.insert("amr".into(), json!(parse_json_list(&session.amr)));
        if let Some(acr) = &session.acr {
            c.insert("acr".into(), json!(acr));
        }
        c.insert("sid".into(), json!(session.id));
        // `roles`: the distinct role names, for apps that only check roles; `grants`: each role
        // with its scope dimensions (market=India, team=...), for apps that scope data.
        let mut roles: Vec<&str> = grants.iter().map(|g| g.role.as_str()).collect();
        roles.dedup();
        c.insert("roles".into(), json!(roles));
        c.insert("grants".into(), json!(grants));
        c
    }

    #[allow(clippy::too_many_arguments)]
    fn id_token_claims(
        &self,
        grants: &[role_mapper::Grant],
        session: &models::Session,
        user: &models::User,
        tenant: &models::Tenant,
        client_id: &str,
        nonce: Option<&str>,
        call: &Call,
    ) -> Map<String, Value> {
        let mut c = self.profile_claims(session, user, tenant, grants);
        c.insert("iss".into(), json!(self.issuer()));
        c.insert("aud".into(), json!(client_id));
        c.insert("iat".into(), json!(call.now.timestamp()));
        c.insert("exp".into(), json!(session.expires_at));
        c.insert("auth_time".into(), json!(session.auth_time));
        if let Some(n) = nonce {
            c.insert("nonce".into(), json!(n));
        }
        c
    }

    /// The issuer identifier (the public URL without a trailing slash).
    pub fn issuer(&self) -> String {
        self.config
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// The userinfo endpoint: claims for a live access token.
    pub fn userinfo(&self, call: &Call, access_token: &str) -> Result<Value> {
        let invalid = || GatehouseError::oauth("invalid_token", "the access token is not active");
        if access_token.len() > 200 {
            return Err(invalid());
        }
        self.transaction(|conn| {
            let (token, _) =
                queries::find_access_token(conn, &token_hash(access_token))?.ok_or_else(invalid)?;
            if token.expires_at <= call.now.timestamp() {
                return Err(invalid());
            }
            let (session, user, tenant) = self
                .live_session(conn, call, &token.session_id)?
                .ok_or_else(invalid)?;
            let grants = crate::roles::user_grants(conn, &user.id)?;
            Ok(Value::Object(
                self.profile_claims(&session, &user, &tenant, &grants),
            ))
        })
    }

    /// RFC 7662 introspection, for confidential apps that authenticate with their secret.
    /// Anything but a live token of a live session is `{"active": false}` with nothing else.
    pub fn introspect(&self, call: &Call, auth: &ClientAuth, token: &str) -> Result<Value> {
        // RFC 7662 §2.1: the caller must authenticate. A public client has no secret, and its
        // id ships inside every copy of the app, so it proves nothing.
        if matches!(auth, ClientAuth::Public { .. }) {
            return Err(GatehouseError::oauth(
                "invalid_client",
                "introspection requires client authentication",
            ));
        }
        self.transaction(|conn| {
            self.authenticate_client(conn, call, auth)?;
            let inactive = json!({ "active": false });
            if token.len() > 200 {
                return Ok(inactive);
            }
            let Some((access, _)) = queries::find_access_token(conn, &token_hash(token))? else {
                return Ok(inactive);
            };
            if access.expires_at <= call.now.timestamp() {
                return Ok(inactive);
            }
            let Some((session, user, tenant)) =
                self.live_session(conn, call, &access.session_id)?
            else {
                return Ok(inactive);
            };
            let grants = crate::roles::user_grants(conn, &user.id)?;
            let mut c = self.profile_claims(&session, &user, &tenant, &grants);
            c.insert("active".into(), json!(true));
            c.insert("client_id".into(), json!(access.client_id));
            c.insert("scope".into(), json!(access.scope));
            c.insert("token_type".into(), json!("Bearer"));
            c.insert("iat".into(), json!(access.issued_at));
            c.insert("exp".into(), json!(access.expires_at));
            c.insert("iss".into(), json!(self.issuer()));
            if let Some(email) = &user.email {
                c.insert("username".into(), json!(email));
            }
            Ok(Value::Object(c))
        })
    }
}
