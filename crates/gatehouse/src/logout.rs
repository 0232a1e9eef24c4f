//! Logout, in every direction, through the one revocation mechanism (`end_sessions`):
//!
//! * **RP-initiated** (`/oauth/logout`, OpenID Connect RP-Initiated Logout 1.0): the app sends the
//!   browser with an `id_token_hint`; the session it names ends, then — when the session came
//!   from a SAML IdP with a SingleLogoutService — the browser carries our signed LogoutRequest
//!   to the IdP, whose signed LogoutResponse comes back to the connection's SLO endpoint; the
//!   browser finally lands on the app's registered `post_logout_redirect_uri` with its `state`.
//! * **IdP-initiated SAML SLO**: the IdP's signed LogoutRequest ends every matching session of
//!   that connection and is answered with a signed LogoutResponse.
//!
//! Every inbound message is validated signature-first by `saml_core::logout`; failures are
//! audited as `logout.failed` and shown as a generic page.

use crate::error::{GatehouseError, Result};
use crate::util::parse_json_list;
use crate::{Call, Gatehouse};
use audit::{AuditEvent, SessionEndReason};
use base64::Engine as _;
use oidc_core::jose::Jwks;
use oidc_core::provider::{verify_id_token_hint, EndSessionRequest};
use saml_core::authn_request::{self, MessageKind, RequestId};
use saml_core::dsig::AlgorithmPolicy;
use saml_core::logout::{
    self as slo, Inbound, LogoutRequest, LogoutResponse, LogoutValidation, NameId,
};
use saml_core::response::STATUS_SUCCESS;
use storage::{models, queries};

/// How long an SP-initiated logout waits for the IdP's LogoutResponse.
const LOGOUT_FLOW_TTL_SECS: i64 = 600;
/// How long after its `exp` an ID token is still accepted as an `id_token_hint`.
const ID_TOKEN_HINT_GRACE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// What the browser should do next after a logout step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Go there (the IdP's SLO URL with a signed query, or the app's post-logout URI).
    Redirect(String),
    /// Auto-submit this HTML form (HTTP-POST binding); serve it with the CSP that allows only
    /// `saml_core::authn_request::post_form_script_csp_hash()`.
    PostForm(String),
    /// Show a plain "you are signed out" page (no post-logout URI was asked for).
    SignedOut,
}

/// An inbound message at a connection's SLO endpoint.
#[derive(Debug, Clone, Copy)]
pub enum SloMessage<'a> {
    /// HTTP-Redirect: the raw query string.
    Redirect {
        /// The query after `?`, exactly as received.
        query: &'a str,
    },
    /// HTTP-POST form fields.
    Post {
        /// `SAMLRequest`, if posted.
        saml_request: Option<&'a str>,
        /// `SAMLResponse`, if posted.
        saml_response: Option<&'a str>,
        /// `RelayState`, if posted.
        relay_state: Option<&'a str>,
    },
}

impl Gatehouse {
    /// `/oauth/logout`: end the session the `id_token_hint` names and continue with the IdP's
    /// single logout when it has one. Errors before the post-logout URI is known good are shown,
    /// never redirected.
    pub fn end_session<K: AsRef<str>, V: AsRef<str>>(
        &self,
        call: &Call,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<LogoutOutcome> {
        let req = EndSessionRequest::parse(pairs).map_err(crate::login::oauth_error)?;
        let request_id = self.with_entropy(RequestId::generate);
        let flow_id = self.random_hex(24);
        self.transaction(|conn| {
            let hint = match &req.id_token_hint {
                Some(token) => {
                    let keys = self.published_keys(conn, call)?;
                    let jwks = Jwks::from_signing_keys(keys.iter());
                    Some(
                        verify_id_token_hint(
                            token,
                            &jwks,
                            &self.issuer(),
                            call.now,
                            ID_TOKEN_HINT_GRACE,
                        )
                        .map_err(|_| {
                            GatehouseError::oauth("invalid_request", "id_token_hint is not valid")
                        })?,
                    )
                }
                None => None,
            };
            // The client: named, or the hint's audience; both must agree.
            let client_id = match (&req.client_id, &hint) {
                (Some(c), Some(h)) if !h.aud().contains(c) => {
                    return Err(GatehouseError::oauth(
                        "invalid_request",
                        "client_id does not match the id_token_hint",
                    ))
                }
                (Some(c), _) => Some(c.clone()),
                (None, Some(h)) => match h.aud().0.as_slice() {
                    [one] => Some(one.clone()),
                    _ => None,
                },
                (None, None) => None,
            };
            let post_logout = match &req.post_logout_redirect_uri {
                Some(uri) => {
                    let client = match &client_id {
                        Some(id) => queries::find_client(conn, id)?,
                        None => None,
                    }
                    .ok_or_else(|| GatehouseError::oauth("invalid_request", "unknown client"))?;
                    if !parse_json_list(&client.post_logout_redirect_uris).contains(uri) {
                        return Err(GatehouseError::oauth(
                            "invalid_request",
                            "post_logout_redirect_uri is not registered for this client",
                        ));
                    }
                    Some(uri.clone())
                }
                None => None,
            };
            // Only a verified hint can end a session: without cookies, nothing else names one.
            let session = match hint.as_ref().and_then(|h| h.sid().map(|sid| (h, sid))) {
                Some((h, sid)) => queries::find_session(conn, sid)?
                    .filter(|s| s.user_id == h.sub() && h.aud().contains(&s.client_id)),
                None => None,
            };
            let mut upstream = None;
            if let Some(s) = session {
                if s.revoked_at.is_none() {
                    upstream = Some(s.clone());
                    self.end_sessions(conn, call, vec![s], SessionEndReason::Logout, "rp_logout")?;
                }
            }
            if let Some(s) = upstream {
                if let Some(outcome) = self.start_saml_logout(
                    conn,
                    call,
                    &s,
                    &request_id,
                    &flow_id,
                    post_logout.as_deref(),
                    req.state.as_deref(),
                )? {
                    return Ok(outcome);
                }
            }
            Ok(finish(post_logout.as_deref(), req.state.as_deref()))
        })
    }

    /// The IdP's part of an RP-initiated logout, when it offers SingleLogoutService and the
    /// session knows the NameID to name: a logout flow, and our signed LogoutRequest.
    #[allow(clippy::too_many_arguments)]
    fn start_saml_logout(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        session: &models::Session,
        request_id: &RequestId,
        flow_id: &str,
        post_logout: Option<&str>,
        state: Option<&str>,
    ) -> Result<Option<LogoutOutcome>> {
        let Some(row) = queries::find_saml_connection(conn, &session.connection_id)? else {
            return Ok(None);
        };
        let (Some(slo_url), Some(name_id)) = (row.slo_url.clone(), &session.idp_name_id_json)
        else {
            return Ok(None);
        };
        if !row.enabled {
            return Ok(None);
        }
        let name_id: NameId = serde_json::from_str(name_id).map_err(GatehouseError::internal)?;
        let rt = self.connection_runtime(row)?;
        queries::insert_logout_flow(
            conn,
            &models::LogoutFlow {
                id: flow_id.to_owned(),
                connection_id: rt.row.id.clone(),
                saml_request_id: request_id.as_str().to_owned(),
                post_logout_redirect_uri: post_logout.map(str::to_owned),
                state: state.map(str::to_owned),
                created_at: call.now.timestamp(),
                expires_at: call.now.timestamp() + LOGOUT_FLOW_TTL_SECS,
                consumed: false,
            },
        )?;
        let request = LogoutRequest {
            id: request_id.clone(),
            issue_instant: call.now,
            destination: slo_url.clone(),
            issuer: rt.row.sp_entity_id.clone(),
            name_id,
            session_index: session.idp_session_index.clone(),
        };
        self.send(
            &rt,
            MessageKind::Request,
            &slo_url,
            &request.to_xml(),
            request_id.as_str(),
            Some(flow_id),
        )
        .map(Some)
    }

    /// A signed logout message to the IdP over the binding its metadata asked for.
    fn send(
        &self,
        rt: &crate::login::ConnectionRuntime,
        kind: MessageKind,
        url: &str,
        xml: &str,
        id: &str,
        relay_state: Option<&str>,
    ) -> Result<LogoutOutcome> {
        if crate::connections::SsoBinding::parse(&rt.row.slo_binding)
            == crate::connections::SsoBinding::Post
        {
            let signed = saml_core::dsig::sign_enveloped(
                xml,
                id,
                &rt.request_signing_key,
                Some(&rt.request_signing_cert),
                &Default::default(),
            )?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(signed);
            return Ok(LogoutOutcome::PostForm(authn_request::post_form_html(
                url,
                kind,
                &b64,
                relay_state,
            )));
        }
        Ok(LogoutOutcome::Redirect(authn_request::redirect_url_for(
            kind,
            url,
            xml,
            relay_state,
            Some(&rt.request_signer),
        )?))
    }

    /// A message at a connection's SLO endpoint: the IdP's LogoutRequest (IdP-initiated) or its
    /// LogoutResponse to ours (completing an RP-initiated logout).
    pub fn saml_slo(
        &self,
        call: &Call,
        connection_id: &str,
        message: SloMessage<'_>,
    ) -> Result<LogoutOutcome> {
        let result = self.saml_slo_inner(call, connection_id, message);
        if let Err((tenant_id, reason_code, detail)) = &result {
            tracing::warn!(correlation_id = %call.correlation_id, connection_id, reason_code, %detail, "SAML logout message refused");
            if let Some(tenant_id) = tenant_id {
                let event = AuditEvent::LogoutFailed {
                    reason_code: (*reason_code).to_owned(),
                    connection_id: connection_id.to_owned(),
                };
                if let Err(e) = self.audit_alone(call, tenant_id, Some(connection_id), event) {
                    tracing::error!(correlation_id = %call.correlation_id, error = %e, "could not write logout.failed audit record");
                }
            }
        }
        result.map_err(|(_, reason_code, _)| GatehouseError::LoginFailed {
            reason_code,
            correlation_id: call.correlation_id.clone(),
        })
    }

    #[allow(clippy::type_complexity)]
    fn saml_slo_inner(
        &self,
        call: &Call,
        connection_id: &str,
        message: SloMessage<'_>,
    ) -> std::result::Result<LogoutOutcome, (Option<String>, &'static str, String)> {
        let storage = |e: storage::StorageError| (None, "storage", e.to_string());
        let row = self
            .store
            .transaction(|conn| queries::find_saml_connection(conn, connection_id))
            .map_err(storage)?
            .ok_or((None, "unknown_connection", String::new()))?;
        let tenant = Some(row.tenant_id.clone());
        let fail = |code: &'static str, detail: String| (tenant.clone(), code, detail);
        if !row.enabled {
            return Err(fail("connection_disabled", String::new()));
        }
        let rt = self
            .connection_runtime(row)
            .map_err(|e| fail("connection_config", e.to_string()))?;
        let (inbound, is_request) = match message {
            SloMessage::Redirect { query } => {
                let is_request = query.split('&').any(|p| p.starts_with("SAMLRequest="));
                (Inbound::Redirect { query }, is_request)
            }
            SloMessage::Post {
                saml_request: Some(m),
                relay_state,
                ..
            } => (
                Inbound::Post {
                    message: m,
                    relay_state,
                },
                true,
            ),
            SloMessage::Post {
                saml_response: Some(m),
                relay_state,
                ..
            } => (
                Inbound::Post {
                    message: m,
                    relay_state,
                },
                false,
            ),
            SloMessage::Post { .. } => return Err(fail("bad_structure", "no SAML message".into())),
        };
        let algorithms = AlgorithmPolicy::default();
        let slo_endpoint = self.url(&format!("/saml/{}/slo", rt.row.id));
        let validation = LogoutValidation {
            trusted_keys: &rt.trusted_keys,
            algorithms: &algorithms,
            expected_issuer: &rt.row.idp_entity_id,
            destination: &slo_endpoint,
            now: call.now,
            clock_skew: self.config.clock_skew,
            limits: Default::default(),
        };
        if is_request {
            self.idp_initiated_logout(call, &rt, &validation, inbound)
                .map_err(|(code, detail)| fail(code, detail))
        } else {
            self.complete_sp_logout(call, &rt, &validation, inbound)
                .map_err(|(code, detail)| fail(code, detail))
        }
    }

    fn idp_initiated_logout(
        &self,
        call: &Call,
        rt: &crate::login::ConnectionRuntime,
        validation: &LogoutValidation<'_>,
        inbound: Inbound<'_>,
    ) -> std::result::Result<LogoutOutcome, (&'static str, String)> {
        let request = slo::validate_logout_request(validation, inbound)
            .map_err(|e| (e.reason_code(), e.to_string()))?;
        let Some(reply_to) = rt.row.slo_url.clone() else {
            return Err((
                "slo_not_configured",
                "the IdP has no SingleLogoutService".into(),
            ));
        };
        let response_id = self.with_entropy(RequestId::generate);
        let replay_key = format!("slo|{}|{}", rt.row.id, request.id());
        let internal = |e: GatehouseError| ("storage", e.to_string());
        self.transaction(|conn| -> Result<std::result::Result<(), ()>> {
            if !queries::remember_once(conn, &replay_key, request.keep_until().timestamp())? {
                return Ok(Err(()));
            }
            let sessions: Vec<models::Session> =
                queries::live_sessions_by_name_id(conn, &rt.row.id, &request.name_id().value)?
                    .into_iter()
                    .filter(|s| {
                        request.session_indexes().is_empty()
                            || s.idp_session_index
                                .as_ref()
                                .is_some_and(|i| request.session_indexes().contains(i))
                    })
                    .collect();
            self.end_sessions(
                conn,
                call,
                sessions,
                SessionEndReason::IdpLogout,
                "saml_slo",
            )?;
            Ok(Ok(()))
        })
        .map_err(internal)?
        .map_err(|()| ("replay", String::new()))?;
        let response = LogoutResponse {
            id: response_id.clone(),
            in_response_to: request.id().to_owned(),
            issue_instant: call.now,
            destination: reply_to.clone(),
            issuer: rt.row.sp_entity_id.clone(),
            status: STATUS_SUCCESS.to_owned(),
        };
        self.send(
            rt,
            MessageKind::Response,
            &reply_to,
            &response.to_xml(),
            response_id.as_str(),
            request.relay_state(),
        )
        .map_err(internal)
    }

    fn complete_sp_logout(
        &self,
        call: &Call,
        rt: &crate::login::ConnectionRuntime,
        validation: &LogoutValidation<'_>,
        inbound: Inbound<'_>,
    ) -> std::result::Result<LogoutOutcome, (&'static str, String)> {
        // The InResponseTo read here only finds the flow; the validation below binds the
        // verified response to that flow's request id.
        let irt = slo::peek_in_response_to(inbound, &validation.limits)
            .ok_or(("unknown_logout_flow", String::new()))?;
        let internal = |e: storage::StorageError| ("storage", e.to_string());
        let flow = self
            .store
            .transaction(|conn| queries::find_logout_flow_by_request(conn, &irt))
            .map_err(internal)?
            .filter(|f| f.connection_id == rt.row.id && f.expires_at > call.now.timestamp())
            .ok_or(("unknown_logout_flow", String::new()))?;
        let response = slo::validate_logout_response(validation, inbound, &flow.saml_request_id)
            .map_err(|e| (e.reason_code(), e.to_string()))?;
        if !self
            .store
            .transaction(|conn| queries::consume_logout_flow(conn, &flow.id))
            .map_err(internal)?
        {
            return Err(("replay", String::new()));
        }
        if !response.is_success() {
            // Our side is already signed out; the IdP's session may live on. Say so in the log.
            tracing::warn!(correlation_id = %call.correlation_id, status = response.status(), "IdP did not complete single logout");
        }
        Ok(finish(
            flow.post_logout_redirect_uri.as_deref(),
            flow.state.as_deref(),
        ))
    }

    /// The keys whose tokens may still be presented (the JWKS set).
    fn published_keys(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
    ) -> Result<Vec<oidc_core::jose::SigningKey>> {
        let now = call.now.timestamp();
        queries::list_signing_keys(conn)?
            .iter()
            .filter(|r| r.publish_until.is_none_or(|until| until > now))
            .map(|r| self.parsed_key(r))
            .collect()
    }
}

/// The last step: the app's registered post-logout URI with its `state`, or the signed-out page.
fn finish(post_logout: Option<&str>, state: Option<&str>) -> LogoutOutcome {
    match post_logout.and_then(|u| url::Url::parse(u).ok()) {
        Some(mut url) => {
            if let Some(s) = state {
                url.query_pairs_mut().append_pair("state", s);
            }
            LogoutOutcome::Redirect(url.into())
        }
        None => LogoutOutcome::SignedOut,
    }
}
