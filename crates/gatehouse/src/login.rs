//! The browser login: the app's authorize request → routing to the tenant's IdP → SAML
//! AuthnRequest → ACS → user (just-in-time) → session → authorization code back to the app.

use crate::error::{GatehouseError, Result};
use crate::util::{json_list, parse_json_list, token_hash};
use crate::{Call, Gatehouse};
use audit::AuditEvent;
use base64::Engine as _;
use openssl::pkey::{PKey, Private};
use saml_core::attribute_mapping::{self, AttributeMapping};
use saml_core::authn_request::{
    self, AuthnRequest, RedirectSigner, RequestId, RequestedAuthnContext,
};
use saml_core::dsig::{AlgorithmPolicy, TrustedKeys};
use saml_core::response::{self, ExpectedRequest, ValidationRequest};
use saml_core::SamlError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use storage::{models, queries};

pub use oidc_core::provider::AuthorizeRequest;
use oidc_core::provider::{OAuthError, Prompt};

/// What the browser should do next after `/oauth/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Go to the IdP (HTTP-Redirect binding URL).
    Redirect(String),
    /// Auto-submit this HTML form to the IdP (HTTP-POST binding). Serve it with a CSP that
    /// allows only `saml_core::authn_request::post_form_script_csp_hash()`.
    PostForm(String),
    /// Nothing selects a tenant: ask the user for their e-mail address, then retry with
    /// `login_hint`.
    AskForEmail,
}

/// Where the browser goes after a successful ACS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCompleted {
    /// The app's redirect URI with `code` and `state`.
    pub redirect_to: String,
    /// Session id (for logs).
    pub session_id: String,
}

/// A connection's keys and settings, parsed once and cached until the row changes.
pub(crate) struct ConnectionRuntime {
    pub(crate) row: models::SamlConnection,
    pub(crate) trusted_keys: TrustedKeys,
    decryption_keys: Vec<PKey<Private>>,
    pub(crate) request_signer: RedirectSigner,
    pub(crate) request_signing_key: PKey<Private>,
    pub(crate) request_signing_cert: openssl::x509::X509,
    mapping: AttributeMapping,
}

#[derive(Default)]
pub(crate) struct RuntimeCache {
    by_id: Mutex<HashMap<String, Arc<ConnectionRuntime>>>,
}

const MAX_SAML_RESPONSE_BASE64: usize = 512 * 1024;

impl Gatehouse {
    pub(crate) fn connection_runtime(
        &self,
        row: models::SamlConnection,
    ) -> Result<Arc<ConnectionRuntime>> {
        if let Ok(cache) = self.runtime_cache.by_id.lock() {
            if let Some(rt) = cache.get(&row.id) {
                // Compare the whole row: a change within the same second must not be missed.
                if rt.row == row {
                    return Ok(rt.clone());
                }
            }
        }
        let certs = crate::connections::certs_from_json(&row.idp_certificates)?;
        let ders: Vec<&[u8]> = certs.iter().map(|c| c.der.as_slice()).collect();
        let trusted_keys = TrustedKeys::from_der_certificates(&ders)?;
        let open_key = |sealed: &str| -> Result<PKey<Private>> {
            Ok(PKey::private_key_from_pem(
                &self.config.secrets.open(sealed)?,
            )?)
        };
        let rt = Arc::new(ConnectionRuntime {
            trusted_keys,
            decryption_keys: vec![open_key(&row.sp_encryption_key)?],
            request_signer: RedirectSigner::new(open_key(&row.sp_signing_key)?)?,
            request_signing_key: open_key(&row.sp_signing_key)?,
            request_signing_cert: openssl::x509::X509::from_pem(row.sp_signing_cert.as_bytes())?,
            mapping: serde_json::from_str(&row.attribute_mapping)
                .map_err(GatehouseError::internal)?,
            row,
        });
        if let Ok(mut cache) = self.runtime_cache.by_id.lock() {
            cache.insert(rt.row.id.clone(), rt.clone());
        }
        Ok(rt)
    }

    /// Handle `/oauth/authorize` from its raw query (or form) pairs: parse with `oidc-core`, and
    /// deliver a parse error to the app's redirect URI only once that URI is known to be
    /// registered for the client (RFC 6749 §4.1.2.1); otherwise it is shown to the user.
    pub fn authorize_pairs(
        &self,
        call: &Call,
        pairs: &[(String, String)],
    ) -> Result<AuthorizeOutcome> {
        match AuthorizeRequest::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Ok(request) => self.authorize(call, &request),
            Err(error) => {
                let claimed = AuthorizeRequest::unverified_redirect(
                    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                );
                let registered = match &claimed {
                    Some(c) => self
                        .store
                        .transaction(|conn| queries::find_client(conn, &c.client_id))?
                        .is_some_and(|client| {
                            oidc_core::provider::redirect_uri_matches(
                                &parse_json_list(&client.redirect_uris),
                                &c.redirect_uri,
                            )
                        }),
                    None => false,
                };
                match claimed {
                    Some(c) if registered => Err(GatehouseError::OAuthRedirect {
                        redirect_uri: c.redirect_uri,
                        error: error.error.as_str(),
                        description: error.description.into_owned(),
                        state: c.state,
                    }),
                    _ => Err(oauth_error(error)),
                }
            }
        }
    }

    /// Handle `/oauth/authorize`: check the app and redirect URI, pick the tenant's connection,
    /// remember the flow server-side and send the browser to the IdP.
    pub fn authorize(&self, call: &Call, req: &AuthorizeRequest) -> Result<AuthorizeOutcome> {
        let redirect_error =
            |error: &'static str, description: &str| GatehouseError::OAuthRedirect {
                redirect_uri: req.redirect_uri.clone(),
                error,
                description: description.to_owned(),
                state: req.state.clone(),
            };
        let flow_id = self.random_hex(24);
        let request_id = self.with_entropy(RequestId::generate);
        self.transaction(|conn| {
            // Until the redirect URI is known good, errors are shown, never redirected.
            let client = self
                .cached_client(conn, &req.client_id, call.now)?
                .ok_or_else(|| GatehouseError::oauth("invalid_request", "unknown client_id"))?;
            if !oidc_core::provider::redirect_uri_matches(
                &parse_json_list(&client.redirect_uris),
                &req.redirect_uri,
            ) {
                return Err(GatehouseError::oauth(
                    "invalid_request",
                    "redirect_uri is not registered for this client",
                ));
            }
            if client.secret_hash.is_none() && req.code_challenge.is_none() {
                return Err(redirect_error(
                    "invalid_request",
                    "PKCE (S256) is required for public clients",
                ));
            }
            let Some(connection) = self.route(conn, req)? else {
                if req.is_prompt_none() {
                    // Asking for an e-mail address is a prompt.
                    return Err(redirect_error(
                        "login_required",
                        "the user must sign in interactively",
                    ));
                }
                return Ok(AuthorizeOutcome::AskForEmail);
            };
            if !connection.enabled {
                return Err(redirect_error(
                    "access_denied",
                    "the sign-in connection is disabled",
                ));
            }
            let rt = self.connection_runtime(connection)?;
            let authn = AuthnRequest {
                id: request_id.clone(),
                issue_instant: call.now,
                destination: rt.row.sso_url.clone(),
                acs_url: self.acs_url(&rt.row.id),
                sp_entity_id: rt.row.sp_entity_id.clone(),
                // Gatehouse keeps no browser session of its own, so it cannot know how old the
                // IdP's session is: any max_age asks for a fresh authentication (unless the app
                // asked for a silent one), and the AuthnInstant is checked on the way back.
                force_authn: req.prompt.contains(&Prompt::Login)
                    || (req.max_age.is_some() && !req.is_prompt_none()),
                is_passive: req.prompt.contains(&Prompt::None),
                requested_authn_context: (!req.acr_values.is_empty()).then(|| {
                    RequestedAuthnContext {
                        comparison: authn_request::AuthnContextComparison::Exact,
                        class_refs: req.acr_values.clone(),
                    }
                }),
                name_id_format: None,
            };
            queries::insert_login_flow(
                conn,
                &models::LoginFlow {
                    id: flow_id.clone(),
                    client_id: client.id.clone(),
                    redirect_uri: req.redirect_uri.clone(),
                    state: req.state.clone(),
                    nonce: req.nonce.clone(),
                    code_challenge: req.code_challenge.clone(),
                    scope: req.scopes.join(" "),
                    tenant_id: rt.row.tenant_id.clone(),
                    connection_id: rt.row.id.clone(),
                    saml_request_id: request_id.as_str().to_owned(),
                    created_at: call.now.timestamp(),
                    expires_at: (call.now + self.config.login_flow_ttl).timestamp(),
                    consumed: false,
                    prompt_none: req.is_prompt_none(),
                    max_age: req.max_age.map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
                    acr_values: json_list(&req.acr_values),
                },
            )?;
            if crate::connections::SsoBinding::parse(&rt.row.sso_binding)
                == crate::connections::SsoBinding::Post
            {
                let mut xml = authn.to_xml();
                if rt.row.sign_requests {
                    xml = saml_core::dsig::sign_enveloped(
                        &xml,
                        request_id.as_str(),
                        &rt.request_signing_key,
                        Some(&rt.request_signing_cert),
                        &Default::default(),
                    )?;
                }
                let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
                return Ok(AuthorizeOutcome::PostForm(authn_request::post_form_html(
                    &rt.row.sso_url,
                    authn_request::MessageKind::Request,
                    &b64,
                    Some(&flow_id),
                )));
            }
            let signer = rt.row.sign_requests.then_some(&rt.request_signer);
            let url = authn_request::redirect_url(
                &rt.row.sso_url,
                &authn.to_xml(),
                Some(&flow_id),
                signer,
            )?;
            Ok(AuthorizeOutcome::Redirect(url))
        })
    }

    /// Pick the connection: explicit connection, then tenant, then the e-mail domain of
    /// `domain_hint` / `login_hint`. `None` means ask the user.
    fn route(
        &self,
        conn: &mut storage::Conn,
        req: &AuthorizeRequest,
    ) -> Result<Option<models::SamlConnection>> {
        let no_route = || GatehouseError::OAuthRedirect {
            redirect_uri: req.redirect_uri.clone(),
            error: "access_denied",
            description: "no single sign-on is configured for this account".into(),
            state: req.state.clone(),
        };
        if let Some(id) = &req.connection {
            return queries::find_saml_connection(conn, id)?
                .map(Some)
                .ok_or_else(no_route);
        }
        let tenant_id = if let Some(t) = &req.tenant {
            Some(queries::find_tenant(conn, t)?.ok_or_else(no_route)?.id)
        } else {
            let domain = req.domain_hint.clone().or_else(|| {
                req.login_hint
                    .as_ref()
                    .and_then(|h| h.rsplit_once('@').map(|(_, d)| d.to_owned()))
            });
            match domain {
                None => None,
                Some(d) => {
                    let d = crate::admin::normalise_domain(&d).map_err(|_| no_route())?;
                    Some(
                        queries::find_domain(conn, &d)?
                            .filter(|d| d.verified)
                            .ok_or_else(no_route)?
                            .tenant_id,
                    )
                }
            }
        };
        let Some(tenant_id) = tenant_id else {
            return Ok(None);
        };
        let connections = queries::list_saml_connections(conn, &tenant_id)?;
        connections
            .into_iter()
            .find(|c| c.enabled)
            .map(Some)
            .ok_or_else(no_route)
    }

    /// Handle a POST to a connection's ACS. On success the browser goes back to the app with a
    /// code; on failure the caller shows a generic page with the correlation id.
    pub fn acs(
        &self,
        call: &Call,
        connection_id: &str,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> Result<LoginCompleted> {
        match self.acs_inner(call, connection_id, saml_response, relay_state) {
            Ok(done) => Ok(done),
            Err(AcsFailure {
                tenant_id,
                reason_code,
                subject,
                detail,
                app_error,
            }) => {
                tracing::warn!(correlation_id = %call.correlation_id, connection_id, reason_code, %detail, "SAML login failed");
                if let Some(tenant_id) = tenant_id {
                    let event = AuditEvent::LoginFailed {
                        reason_code: reason_code.to_owned(),
                        connection_id: connection_id.to_owned(),
                        subject,
                    };
                    if let Err(e) = self.audit_alone(call, &tenant_id, Some(connection_id), event) {
                        tracing::error!(correlation_id = %call.correlation_id, error = %e, "could not write login.failed audit record");
                    }
                }
                match app_error {
                    Some(a) => Err(GatehouseError::OAuthRedirect {
                        redirect_uri: a.redirect_uri,
                        error: a.error,
                        description: a.description.to_owned(),
                        state: a.state,
                    }),
                    None => Err(GatehouseError::LoginFailed {
                        reason_code,
                        correlation_id: call.correlation_id.clone(),
                    }),
                }
            }
        }
    }

    fn acs_inner(
        &self,
        call: &Call,
        connection_id: &str,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> Result<LoginCompleted, AcsFailure> {
        let fail = |tenant: Option<&str>, code: &'static str, detail: String| AcsFailure {
            tenant_id: tenant.map(str::to_owned),
            reason_code: code,
            subject: None,
            detail,
            app_error: None,
        };
        // One read (no transaction: the flow is consumed, and so re-checked, inside the login
        // transaction) for the connection and the flow its RelayState names.
        let relay_state = relay_state.filter(|r| r.len() <= 80);
        let (row, flow) = self
            .store
            .read(|conn| {
                let row = self.cached_saml_connection(conn, connection_id, call.now)?;
                let flow = match (&row, relay_state) {
                    (Some(_), Some(r)) => queries::find_login_flow(conn, r)?,
                    _ => None,
                };
                Ok::<_, storage::StorageError>((row, flow))
            })
            .map_err(|e| fail(None, "storage", e.to_string()))?;
        let row = row.ok_or_else(|| fail(None, "unknown_connection", connection_id.to_owned()))?;
        let tenant_id = row.tenant_id.clone();
        let tenant = Some(tenant_id.as_str());
        if !row.enabled {
            return Err(fail(tenant, "connection_disabled", String::new()));
        }
        if saml_response.len() > MAX_SAML_RESPONSE_BASE64 {
            return Err(fail(
                tenant,
                SamlError::TooLarge {
                    limit: "SAMLResponse",
                }
                .reason_code(),
                String::new(),
            ));
        }
        let rt = self
            .connection_runtime(row)
            .map_err(|e| fail(tenant, "connection_config", e.to_string()))?;

        // The flow is found by the RelayState we generated; anything else is unsolicited and its
        // RelayState is ignored (never used as a redirect).
        let flow =
            flow.filter(|f| f.connection_id == rt.row.id && f.expires_at > call.now.timestamp());
        if flow.is_none() && !rt.row.allow_idp_initiated {
            return Err(fail(
                tenant,
                SamlError::UnsolicitedNotAllowed.reason_code(),
                "no matching login flow".into(),
            ));
        }
        let acs_url = self.acs_url(&rt.row.id);
        let algorithms = AlgorithmPolicy::default();
        let request = ValidationRequest {
            trusted_keys: &rt.trusted_keys,
            algorithms: &algorithms,
            expected_issuer: &rt.row.idp_entity_id,
            expected_audience: &rt.row.sp_entity_id,
            acs_url: &acs_url,
            in_response_to: match &flow {
                Some(f) => ExpectedRequest::Solicited(&f.saml_request_id),
                None => ExpectedRequest::UnsolicitedAllowed,
            },
            now: call.now,
            clock_skew: self.config.clock_skew,
            decryption_keys: &rt.decryption_keys,
            limits: Default::default(),
        };
        let to_app = |error, description| {
            flow.as_ref().map(|f| {
                Box::new(AppError {
                    error,
                    description,
                    redirect_uri: f.redirect_uri.clone(),
                    state: f.state.clone(),
                })
            })
        };
        let assertion =
            response::validate_response(&request, saml_response.as_bytes()).map_err(|e| {
                let mut failure = fail(tenant, e.reason_code(), e.to_string());
                if matches!(e, SamlError::NoPassive) {
                    // The IdP has no session and would have had to prompt: OIDC's answer to a
                    // silent re-validation is `login_required` (the app then signs in normally).
                    failure.app_error = to_app(
                        "login_required",
                        "the identity provider requires the user to sign in",
                    );
                }
                failure
            })?;
        let authn = gatehouse_types::AuthnContext {
            acr: assertion.authn_context_class().map(str::to_owned),
            amr: assertion
                .authn_context_class()
                .map(attribute_mapping::amr_for_context_class)
                .unwrap_or_default(),
            auth_time: assertion.authn_instant(),
            session_index: assertion.session_index().map(str::to_owned),
        };
        let identity = attribute_mapping::map_identity(
            assertion.attributes(),
            assertion.name_id(),
            authn,
            &rt.mapping,
        )
        .map_err(|e| fail(tenant, e.reason_code(), e.to_string()))?;
        let subject = identity.subject.clone();
        if let Some(f) = &flow {
            if let Err((code, error, description)) =
                check_authn_requirements(f, &identity.authn, call.now, self.config.clock_skew)
            {
                return Err(AcsFailure {
                    tenant_id: Some(tenant_id.clone()),
                    reason_code: code,
                    subject: Some(subject),
                    detail: String::new(),
                    app_error: to_app(error, description),
                });
            }
        }

        let (client_id, redirect_uri, state, nonce, challenge, scope) = match &flow {
            Some(f) => (
                f.client_id.clone(),
                f.redirect_uri.clone(),
                f.state.clone(),
                f.nonce.clone(),
                f.code_challenge.clone(),
                f.scope.clone(),
            ),
            None => match (&rt.row.default_client_id, &rt.row.default_redirect_uri) {
                (Some(c), Some(r)) => (
                    c.clone(),
                    r.clone(),
                    None,
                    None,
                    None,
                    "openid email profile".to_owned(),
                ),
                _ => return Err(fail(tenant, "idp_initiated_target_missing", String::new())),
            },
        };
        let name_id_json = serde_json::to_string(&saml_core::logout::NameId {
            value: assertion.name_id().to_owned(),
            format: assertion.name_id_format().map(str::to_owned),
            name_qualifier: assertion.name_qualifier().map(str::to_owned),
            sp_name_qualifier: assertion.sp_name_qualifier().map(str::to_owned),
        })
        .map_err(|e| fail(tenant, "internal", e.to_string()))?;
        let code = format!("ghc_{}", self.random_hex(32));
        let session_id = format!("ses_{}", self.random_hex(16));
        let new_user_id = format!("usr_{}", self.random_hex(12));
        // Replay: the assertion id is remembered until it could no longer be valid anyway, by
        // one statement that commits on its own (no transaction around it: one round trip, not
        // three) so that a login refused later (deactivated user, ...) still burns the
        // assertion. The row lives in the shared database, so every replica refuses a second use.
        let replay_key = format!("{}|{}", rt.row.id, assertion.assertion_id());
        let keep_until = (assertion.not_on_or_after() + self.config.clock_skew).timestamp();
        let fresh = self
            .store
            .write_one(|conn| queries::remember_once(conn, &replay_key, keep_until))?;
        if !fresh {
            return Err(AcsFailure {
                tenant_id: Some(tenant_id.clone()),
                reason_code: "replay",
                subject: Some(subject.clone()),
                detail: String::new(),
                app_error: None,
            });
        }
        let outcome: Result<(), AcsFailure> = self.transaction_as(
            |conn| {
                let storage_fail = |e: GatehouseError| fail(tenant, "storage", e.to_string());
                self.complete_login(
                    conn,
                    call,
                    &rt.row,
                    &identity,
                    flow.as_ref(),
                    LoginIds {
                        session_id: &session_id,
                        new_user_id: &new_user_id,
                        code: &code,
                        client_id: &client_id,
                        redirect_uri: &redirect_uri,
                        nonce: nonce.as_deref(),
                        code_challenge: challenge.as_deref(),
                        scope: &scope,
                        idp_name_id: (assertion.name_id(), &name_id_json),
                    },
                )
                .map_err(|e| match e {
                    LoginStep::Refused(code) => AcsFailure {
                        tenant_id: Some(tenant_id.clone()),
                        reason_code: code,
                        subject: Some(subject.clone()),
                        detail: String::new(),
                        // A policy decision about this person goes back to the app as OIDC's
                        // `access_denied`, with the reason the person can act on.
                        app_error: access_refusal_message(code)
                            .and_then(|message| to_app("access_denied", message)),
                    },
                    LoginStep::Error(e) => storage_fail(e),
                })
            },
            |e| fail(tenant, "storage", e.to_string()),
        );
        outcome?;
        let mut target = url::Url::parse(&redirect_uri)
            .map_err(|_| fail(tenant, "bad_redirect_uri", String::new()))?;
        target.query_pairs_mut().append_pair("code", &code);
        if let Some(s) = &state {
            target.query_pairs_mut().append_pair("state", s);
        }
        target.query_pairs_mut().append_pair("iss", &self.issuer());
        Ok(LoginCompleted {
            redirect_to: target.into(),
            session_id,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn complete_login(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        connection: &models::SamlConnection,
        identity: &gatehouse_types::ExternalIdentity,
        flow: Option<&models::LoginFlow>,
        ids: LoginIds<'_>,
    ) -> Result<(), LoginStep> {
        let now = call.now.timestamp();
        if let Some(f) = flow {
            if !queries::consume_login_flow(conn, &f.id).map_err(|e| LoginStep::Error(e.into()))? {
                return Err(LoginStep::Refused("flow_reused"));
            }
        }
        let tenant = queries::find_tenant(conn, &connection.tenant_id)
            .map_err(|e| LoginStep::Error(e.into()))?
            .ok_or(LoginStep::Refused("unknown_tenant"))?;
        let existing =
            queries::find_user_by_subject(conn, &tenant.id, &connection.id, &identity.subject)
                .map_err(|e| LoginStep::Error(e.into()))?;
        // Linking rule (docs/scim.md): an unknown subject becomes the tenant's matching
        // SCIM-provisioned user instead of a second, JIT-created account.
        let (existing, linking) = match existing {
            Some(user) => (Some(user), false),
            None => (
                crate::scim::link_scim_user(
                    conn,
                    &tenant.id,
                    &connection.id,
                    &identity.subject,
                    identity.email.as_deref(),
                )
                .map_err(|e| LoginStep::Error(e.into()))?,
                true,
            ),
        };
        // Read the row again, locked until the login commits: a SCIM deactivation (or any
        // other write) that committed since the read above is seen here, and one that comes
        // later waits and then ends the session this login opens. Writing back the row read
        // unlocked could have reactivated a user deactivated in between.
        let existing = match existing {
            None => None,
            Some(found) => queries::lock_user(conn, &found.id)
                .map_err(|e| LoginStep::Error(e.into()))?
                .map(|mut fresh| {
                    if linking {
                        fresh.connection_id.clone_from(&found.connection_id);
                        fresh.external_subject.clone_from(&found.external_subject);
                    }
                    fresh
                }),
        };
        let groups = json_list(&identity.groups);
        let attributes = serde_json::to_string(&identity.attributes)
            .map_err(|e| LoginStep::Error(GatehouseError::internal(e)))?;
        let user = match existing {
            Some(mut user) => {
                if !user.active {
                    return Err(LoginStep::Refused("user_deactivated"));
                }
                // Names, e-mail, groups and attributes follow the IdP at every login; a change is
                // a `user.updated` record and event like any other, and an unchanged profile
                // costs no write.
                let mut changed_fields = Vec::new();
                let mut follow =
                    |field: &str, stored: &mut Option<String>, asserted: &Option<String>| {
                        if stored != asserted {
                            stored.clone_from(asserted);
                            changed_fields.push(field.to_owned());
                        }
                    };
                follow("email", &mut user.email, &identity.email);
                follow("first_name", &mut user.first_name, &identity.first_name);
                follow("last_name", &mut user.last_name, &identity.last_name);
                if user.groups != groups {
                    user.groups = groups;
                    changed_fields.push("groups".to_owned());
                }
                if user.attributes != attributes {
                    user.attributes = attributes;
                    changed_fields.push("attributes".to_owned());
                }
                if linking && changed_fields.is_empty() {
                    // The link itself must be stored even when the profile is unchanged.
                    queries::update_user(conn, &user).map_err(|e| LoginStep::Error(e.into()))?;
                }
                if !changed_fields.is_empty() {
                    user.updated_at = now;
                    queries::update_user(conn, &user).map_err(|e| LoginStep::Error(e.into()))?;
                    self.audit(
                        conn,
                        call,
                        &tenant.id,
                        Some(&user.id),
                        AuditEvent::UserUpdated {
                            user_id: user.id.clone(),
                            source: audit::ChangeSource::Login,
                            changed_fields: changed_fields.clone(),
                        },
                    )
                    .map_err(LoginStep::Error)?;
                    let data = serde_json::json!({ "user_id": user.id, "source": "login", "changed_fields": changed_fields });
                    self.emit(conn, call, &tenant.id, "user.updated", data)
                        .map_err(LoginStep::Error)?;
                }
                user
            }
            None if !connection.jit_enabled => return Err(LoginStep::Refused("jit_disabled")),
            None => {
                let user = models::User {
                    id: ids.new_user_id.to_owned(),
                    tenant_id: tenant.id.clone(),
                    connection_id: Some(connection.id.clone()),
                    external_subject: identity.subject.clone(),
                    email: identity.email.clone(),
                    first_name: identity.first_name.clone(),
                    last_name: identity.last_name.clone(),
                    groups,
                    active: true,
                    created_at: now,
                    updated_at: now,
                    directory_id: None,
                    user_name: None,
                    user_name_lower: None,
                    external_id: None,
                    scim_resource: None,
                    version: 1,
                    attributes,
                };
                queries::insert_user(conn, &user).map_err(|e| LoginStep::Error(e.into()))?;
                self.audit(
                    conn,
                    call,
                    &tenant.id,
                    Some(&user.id),
                    AuditEvent::UserCreated {
                        user_id: user.id.clone(),
                        source: audit::ChangeSource::Jit,
                    },
                )
                .map_err(LoginStep::Error)?;
                let data = serde_json::json!({ "user_id": user.id, "source": "jit" });
                self.emit(conn, call, &tenant.id, "user.created", data)
                    .map_err(LoginStep::Error)?;
                user
            }
        };
        match self
            .apply_role_mapping(conn, call, &user)
            .map_err(LoginStep::Error)?
        {
            Ok(_grants) => {}
            Err(code) => return Err(LoginStep::Refused(code)),
        }
        let expires_at = now + tenant.session_lifetime_secs;
        self.open_session(
            conn,
            call,
            &models::Session {
                id: ids.session_id.to_owned(),
                user_id: user.id.clone(),
                tenant_id: tenant.id.clone(),
                connection_id: connection.id.clone(),
                client_id: ids.client_id.to_owned(),
                idp_session_index: identity.authn.session_index.clone(),
                acr: identity.authn.acr.clone(),
                amr: json_list(&identity.authn.amr),
                auth_time: identity
                    .authn
                    .auth_time
                    .map(|t| t.timestamp())
                    .unwrap_or(now),
                created_at: now,
                expires_at,
                revoked_at: None,
                revoked_reason: None,
                idp_name_id: Some(ids.idp_name_id.0.to_owned()),
                idp_name_id_json: Some(ids.idp_name_id.1.to_owned()),
            },
            &models::AuthCode {
                code_hash: token_hash(ids.code),
                session_id: ids.session_id.to_owned(),
                client_id: ids.client_id.to_owned(),
                redirect_uri: ids.redirect_uri.to_owned(),
                code_challenge: ids.code_challenge.map(str::to_owned),
                nonce: ids.nonce.map(str::to_owned),
                scope: ids.scope.to_owned(),
                expires_at: (call.now + self.config.code_ttl).timestamp(),
                used: false,
            },
        )
        .map_err(LoginStep::Error)?;
        self.audit(
            conn,
            call,
            &tenant.id,
            Some(&user.id),
            AuditEvent::LoginSucceeded {
                connection_id: connection.id.clone(),
                subject: identity.subject.clone(),
                user_id: user.id.clone(),
                session_id: ids.session_id.to_owned(),
                amr: identity.authn.amr.clone(),
            },
        )
        .map_err(LoginStep::Error)?;
        Ok(())
    }
}

impl Gatehouse {
    /// Store a new session, the authorization code that hands it to the app, and its
    /// `session.created` audit record (every way of signing in; the record is staged in the
    /// transaction's journal and sealed at its end).
    pub(crate) fn open_session(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        session: &models::Session,
        code: &models::AuthCode,
    ) -> Result<()> {
        queries::insert_session(conn, session)?;
        queries::insert_auth_code(conn, code)?;
        self.audit(
            conn,
            call,
            &session.tenant_id,
            Some(&session.user_id),
            AuditEvent::SessionCreated {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
                expires_at: chrono::DateTime::from_timestamp(session.expires_at, 0)
                    .unwrap_or(call.now),
            },
        )
    }
}

/// What a person is told when their IdP vouched for them but this deployment's policy refuses
/// them access (`None` for every other login failure, which gets the generic message). These are
/// decisions about the person, not faults: naming the decision tells them what to ask their IT
/// admin for, and reveals nothing an attacker holding a valid assertion does not already know.
pub fn access_refusal_message(reason_code: &str) -> Option<&'static str> {
    match reason_code {
        "jit_disabled" => Some(
            "your organization has not set up an account for you in this application; \
             ask your IT administrator to assign you to it",
        ),
        "no_role_mapping" => Some(
            "your organization has not granted you a role in this application; \
             ask your IT administrator to add you to a group that grants access",
        ),
        "user_deactivated" => {
            Some("your account for this application is deactivated; contact your IT administrator")
        }
        _ => None,
    }
}

/// Whether the IdP's authentication meets what the app asked for in this flow (`max_age`,
/// `acr_values`). Fails closed: a requirement the assertion cannot be shown to meet (no
/// AuthnInstant, no AuthnContextClassRef) is unmet. `Err` is (audit reason, OIDC error, text).
fn check_authn_requirements(
    flow: &models::LoginFlow,
    authn: &gatehouse_types::AuthnContext,
    now: chrono::DateTime<chrono::Utc>,
    skew: chrono::Duration,
) -> std::result::Result<(), (&'static str, &'static str, &'static str)> {
    if let Some(max_age) = flow.max_age {
        let fresh = authn.auth_time.is_some_and(|t| {
            t + chrono::Duration::seconds(max_age.min(10 * 365 * 86_400)) + skew >= now
        });
        if !fresh {
            return Err((
                "max_age_exceeded",
                "login_required",
                "the identity provider did not authenticate the user recently enough",
            ));
        }
    }
    let wanted = parse_json_list(&flow.acr_values);
    if !wanted.is_empty() && !authn.acr.as_ref().is_some_and(|a| wanted.contains(a)) {
        return Err((
            "acr_not_satisfied",
            "access_denied",
            "the identity provider did not perform the requested authentication",
        ));
    }
    Ok(())
}

struct LoginIds<'a> {
    session_id: &'a str,
    new_user_id: &'a str,
    code: &'a str,
    client_id: &'a str,
    redirect_uri: &'a str,
    nonce: Option<&'a str>,
    code_challenge: Option<&'a str>,
    scope: &'a str,
    /// The asserted NameID (single logout repeats it), as (value, JSON of the full NameID).
    idp_name_id: (&'a str, &'a str),
}

/// Why the login transaction did not commit.
enum LoginStep {
    /// A policy refusal (reason code for audit).
    Refused(&'static str),
    /// An infrastructure error.
    Error(GatehouseError),
}

impl From<storage::StorageError> for LoginStep {
    fn from(e: storage::StorageError) -> Self {
        LoginStep::Error(e.into())
    }
}

/// A failed ACS with everything the audit record and the log need.
struct AcsFailure {
    tenant_id: Option<String>,
    reason_code: &'static str,
    subject: Option<String>,
    detail: String,
    /// When the failure is an answer the app asked for (silent re-validation found no IdP
    /// session; a step-up the IdP did not satisfy), the OIDC error to redirect back with.
    app_error: Option<Box<AppError>>,
}

/// An OIDC error for the app's (already validated) redirect URI.
struct AppError {
    error: &'static str,
    description: &'static str,
    redirect_uri: String,
    state: Option<String>,
}

impl From<storage::StorageError> for AcsFailure {
    fn from(e: storage::StorageError) -> Self {
        AcsFailure {
            tenant_id: None,
            reason_code: "storage",
            subject: None,
            app_error: None,
            detail: e.to_string(),
        }
    }
}

/// An `oidc-core` OAuth error as the facade's error.
pub(crate) fn oauth_error(e: OAuthError) -> GatehouseError {
    GatehouseError::OAuth {
        error: e.error.as_str(),
        description: e.description.into_owned(),
    }
}
