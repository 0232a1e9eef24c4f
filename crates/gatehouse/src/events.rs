//! Events to the app and session revocation.
//!
//! Every lifecycle change (user created/updated/deactivated/reactivated/deleted, roles changed,
//! session revoked) is written to a persisted **outbox** in the transaction of the change itself
//! ([`Gatehouse::emit`]): the change and its event commit or roll back together, so no event is
//! lost on a crash and none describes a change that did not happen. Each event gets one delivery
//! per enabled webhook endpoint; a revoked session whose app registered a back-channel logout URI
//! also gets a `backchannel` delivery. [`Gatehouse::deliver_due`] (run by the server every 250 ms
//! on every replica) claims due deliveries with a lease, posts them outside any transaction, and
//! records success or schedules a retry with exponential backoff. Apps can also poll
//! [`Gatehouse::events_since`] from a cursor.
//!
//! Webhooks are signed: `Gatehouse-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (see `docs/events.md` and [`webhook_signature`]).

use crate::admin::rfc3339;
use crate::error::{GatehouseError, Result};
use crate::journal::{Receiver, StagedEvent};
use crate::{Call, Gatehouse};
use audit::{AuditEvent, SessionEndReason};
use chrono::TimeDelta;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use storage::{models, outbox, queries};

/// Header carrying the webhook signature.
pub const SIGNATURE_HEADER: &str = "Gatehouse-Signature";
/// Header carrying the event id (receivers deduplicate on it: delivery is at least once).
pub const EVENT_ID_HEADER: &str = "Gatehouse-Event-Id";

/// How long a worker holds a claimed delivery before another replica may retry it (longer than
/// the HTTP timeout, so a live worker always finishes first).
const LEASE_SECS: i64 = 30;
/// HTTP timeout of one delivery attempt.
const HTTP_TIMEOUT_SECS: u64 = 5;
/// Retries back off 1 s, 2 s, 4 s, ... up to this.
const MAX_BACKOFF_SECS: i64 = 3600;
/// Lifetime of a back-channel logout token (it is minted at each attempt, so a retry after a
/// long backoff still carries a fresh token).
const LOGOUT_TOKEN_TTL_SECS: i64 = 120;
/// Longest operator-supplied revocation note kept.
const MAX_REASON_LEN: usize = 200;

/// Delivery target kinds as stored.
pub(crate) const WEBHOOK: &str = "webhook";
const BACKCHANNEL: &str = "backchannel";

/// One event as the events API returns it and as a webhook body carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    /// Event id (also the `Gatehouse-Event-Id` header): receivers deduplicate on it.
    pub id: String,
    /// Tenant the event belongs to.
    pub tenant_id: String,
    /// Position in the tenant's event stream (the polling cursor), starting at 1.
    pub seq: i64,
    /// `user.created`, `user.updated`, `user.deactivated`, `user.reactivated`, `user.deleted`,
    /// `user.roles_changed`, `session.revoked`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change happened (RFC 3339).
    pub created_at: String,
    /// Event-specific fields (always an object with at least `user_id`).
    pub data: Value,
}

/// A webhook endpoint as the admin API lists it (never with its secret).
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEndpointView {
    /// Endpoint id.
    pub id: String,
    /// Tenant whose events it receives; `None` for every tenant.
    pub tenant_id: Option<String>,
    /// Where events are posted.
    pub url: String,
    /// Whether new events are queued for it.
    pub enabled: bool,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// A new webhook endpoint with its signing secret, shown only this once.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookCreated {
    /// The endpoint.
    pub endpoint: WebhookEndpointView,
    /// The HMAC key (`whsec_...`); stored sealed, never shown again.
    pub secret: String,
}

/// A session as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// Session id (the `sid` claim).
    pub id: String,
    /// User.
    pub user_id: String,
    /// Tenant.
    pub tenant_id: String,
    /// App the session was opened for.
    pub client_id: String,
    /// Connection the user signed in through.
    pub connection_id: String,
    /// Opened (RFC 3339).
    pub created_at: String,
    /// Ends (RFC 3339).
    pub expires_at: String,
    /// Revoked at (RFC 3339), if it was.
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

/// The `Gatehouse-Signature` header value for `body` sent at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> Result<String> {
    let key = PKey::hmac(secret.as_bytes())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(timestamp.to_string().as_bytes())?;
    signer.update(b".")?;
    signer.update(body)?;
    let mac = signer.sign_to_vec()?;
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("t={timestamp},v1={hex}"))
}

/// Check a received webhook: the header parses, its timestamp is within `tolerance_secs` of
/// `now` (a captured request cannot be replayed later), and one `v1` signature matches
/// (compared in constant time). For Rust receivers and as the reference of `docs/events.md`.
pub fn verify_webhook_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> bool {
    if header.len() > 1024 {
        return false;
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let Ok(expected) = webhook_signature(secret, t, body) else {
        return false;
    };
    let expected = expected.rsplit("v1=").next().unwrap_or_default();
    signatures
        .iter()
        .any(|s| crate::util::constant_time_eq(s.as_bytes(), expected.as_bytes()))
}

fn endpoint_view(row: models::WebhookEndpoint) -> WebhookEndpointView {
    WebhookEndpointView {
        id: row.id,
        tenant_id: row.tenant_id,
        url: row.url,
        enabled: row.enabled,
        created_at: rfc3339(row.created_at),
    }
}

fn session_view(row: models::Session) -> SessionView {
    SessionView {
        id: row.id,
        user_id: row.user_id,
        tenant_id: row.tenant_id,
        client_id: row.client_id,
        connection_id: row.connection_id,
        created_at: rfc3339(row.created_at),
        expires_at: rfc3339(row.expires_at),
        revoked_at: row.revoked_at.map(rfc3339),
        revoked_reason: row.revoked_reason,
    }
}

fn event_view(row: models::OutboxEvent) -> Result<EventView> {
    Ok(EventView {
        data: serde_json::from_str(&row.payload).map_err(GatehouseError::internal)?,
        id: row.id,
        tenant_id: row.tenant_id,
        seq: row.seq,
        event_type: row.event_type,
        created_at: rfc3339(row.created_at),
    })
}

fn end_reason_label(reason: SessionEndReason) -> Value {
    serde_json::to_value(reason).unwrap_or(Value::Null)
}

/// The wait before attempt `attempts + 1`: 1 s, 2 s, 4 s, ... capped at an hour.
fn backoff_secs(attempts_so_far: i64) -> i64 {
    let exp = u32::try_from(attempts_so_far.clamp(0, 12)).unwrap_or(12);
    (1i64 << exp).min(MAX_BACKOFF_SECS)
}

fn check_webhook_url(url: &str) -> Result<()> {
    if url.len() > 2000 {
        return Err(GatehouseError::invalid("url", "too long"));
    }
    let parsed =
        url::Url::parse(url).map_err(|_| GatehouseError::invalid("url", "not an absolute URL"))?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    // Plain http only to loopback (local development and tests): event bodies carry personal
    // data and the signature does not hide it.
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
        return Err(GatehouseError::invalid("url", "must be https"));
    }
    Ok(())
}

/// A claimed delivery, ready to post.
struct Outgoing {
    delivery: models::Delivery,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Gatehouse {
    /// Write an event to the outbox, and one delivery per enabled webhook endpoint of the tenant,
    /// as part of the caller's transaction: it exists if and only if the change commits (staged
    /// in the transaction's journal and numbered at its end: see `journal`).
    pub(crate) fn emit(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        event_type: &str,
        payload: Value,
    ) -> Result<()> {
        self.emit_to(conn, call, tenant_id, event_type, payload, Vec::new())
    }

    /// [`Gatehouse::emit`], with deliveries to `extra_receivers` besides the webhooks.
    fn emit_to(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        event_type: &str,
        payload: Value,
        extra_receivers: Vec<Receiver>,
    ) -> Result<()> {
        let staged = StagedEvent {
            tenant_id: tenant_id.to_owned(),
            event_type: event_type.to_owned(),
            payload: serde_json::to_string(&payload).map_err(GatehouseError::internal)?,
            created_at: call.now.timestamp(),
            extra_receivers,
        };
        self.journal_event(conn, staged)
    }

    /// The one revocation mechanism, inside the caller's transaction: each session still live
    /// is revoked (introspection, userinfo and the token endpoint refuse it at once, on every
    /// replica, through `live_session`), audited, announced as a `session.revoked` event, and
    /// its app told through OIDC back-channel logout if it registered a URI. Returns the ids
    /// of the sessions this call ended.
    pub(crate) fn end_sessions(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        sessions: Vec<models::Session>,
        reason: SessionEndReason,
        note: &str,
    ) -> Result<Vec<String>> {
        let mut ended = Vec::new();
        for s in sessions {
            if !queries::revoke_session(conn, &s.id, call.now.timestamp(), note)? {
                continue;
            }
            self.audit(
                conn,
                call,
                &s.tenant_id,
                Some(&s.user_id),
                AuditEvent::SessionTerminated {
                    session_id: s.id.clone(),
                    reason,
                },
            )?;
            // The app is told through OIDC back-channel logout if it registered a URI.
            let mut backchannel = Vec::new();
            if let Some(client) = queries::find_client(conn, &s.client_id)? {
                if let Some(uri) = client.backchannel_logout_uri {
                    backchannel.push(Receiver {
                        kind: BACKCHANNEL,
                        target_id: client.id,
                        url: uri,
                    });
                }
            }
            self.emit_to(
                conn,
                call,
                &s.tenant_id,
                "session.revoked",
                json!({
                    "session_id": s.id,
                    "user_id": s.user_id,
                    "client_id": s.client_id,
                    "reason": end_reason_label(reason),
                }),
                backchannel,
            )?;
            ended.push(s.id);
        }
        Ok(ended)
    }

    /// End every live session of a user inside the caller's transaction (SCIM deactivation).
    pub(crate) fn end_user_sessions(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        user_id: &str,
        reason: SessionEndReason,
        note: &str,
    ) -> Result<Vec<String>> {
        let live = queries::list_user_sessions(conn, user_id)?
            .into_iter()
            .filter(|s| s.revoked_at.is_none())
            .collect();
        self.end_sessions(conn, call, live, reason, note)
    }

    /// Revoke one session (admin action). Revoking an already revoked session changes nothing.
    pub fn revoke_session(&self, call: &Call, session_id: &str, reason: &str) -> Result<()> {
        let note = bounded_note(reason)?;
        self.transaction(|conn| {
            let session = queries::find_session(conn, session_id)?
                .ok_or(GatehouseError::NotFound { what: "session" })?;
            self.end_sessions(conn, call, vec![session], SessionEndReason::Revoked, &note)?;
            Ok(())
        })
    }

    /// Revoke every live session of a user (admin action); returns the ids revoked.
    pub fn revoke_user_sessions(
        &self,
        call: &Call,
        user_id: &str,
        reason: &str,
    ) -> Result<Vec<String>> {
        let note = bounded_note(reason)?;
        self.transaction(|conn| {
            queries::find_user(conn, user_id)?.ok_or(GatehouseError::NotFound { what: "user" })?;
            self.end_user_sessions(conn, call, user_id, SessionEndReason::Revoked, &note)
        })
    }

    /// Put session expiry on record: every session that expired by `call.now` without being
    /// revoked gets exactly one `session.terminated` record with reason `expired` in its
    /// tenant's chain (target: its user; actor: the caller, `Call::system` from the server's
    /// background worker), at most `limit` sessions per call, soonest expiry first. Returns how
    /// many it recorded. The worker calls it about four times a second, so an expiry is on
    /// record within a second of happening, and a backlog (say, after an upgrade) drains
    /// `limit` sessions per pass. A record's `at` is when the sweep saw the expiry; the expiry
    /// time itself is in the session's `session.created` record.
    ///
    /// Nothing about the session changes but a marker (`expiry_recorded_at`): expiry needs no
    /// write to take effect (every token path compares `expires_at` with now), and the session
    /// is not marked revoked, so introspection, refresh, logout and later revocation behave as
    /// before. No webhook or back-channel logout either: the app's tokens expire with it.
    ///
    /// One transaction, safe on several replicas at once: tenant by tenant (in id order, so
    /// two sweeps lock chains in the same order) the chain is locked, then each session is
    /// claimed by a conditional update that only one transaction can win
    /// (`queries::mark_session_expiry_recorded`), and only the winner appends the record. A
    /// claim and its record commit or roll back together.
    pub fn record_expired_sessions(&self, call: &Call, limit: usize) -> Result<usize> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let now = call.now.timestamp();
        self.transaction(|conn| {
            let mut due = queries::expired_unrecorded_sessions(conn, now, limit)?;
            due.sort_by(|a, b| (&a.tenant_id, &a.id).cmp(&(&b.tenant_id, &b.id)));
            let mut recorded = 0;
            // The records are staged; the journal locks each tenant once, at the end.
            for s in due {
                if !queries::mark_session_expiry_recorded(conn, &s.id, now)? {
                    continue;
                }
                self.audit(
                    conn,
                    call,
                    &s.tenant_id,
                    Some(&s.user_id),
                    AuditEvent::SessionTerminated {
                        session_id: s.id.clone(),
                        reason: SessionEndReason::Expired,
                    },
                )?;
                recorded += 1;
            }
            Ok(recorded)
        })
    }

    /// A user's sessions, newest first (revoked and expired ones included).
    pub fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionView>> {
        self.transaction(|conn| {
            queries::find_user(conn, user_id)?.ok_or(GatehouseError::NotFound { what: "user" })?;
            Ok(queries::list_user_sessions(conn, user_id)?
                .into_iter()
                .map(session_view)
                .collect())
        })
    }

    /// A tenant's events after `after_seq` (0 for the start), oldest first, at most `limit`
    /// (1..=1000). The last `seq` returned is the next cursor.
    pub fn events_since(&self, tenant: &str, after_seq: i64, limit: i64) -> Result<Vec<EventView>> {
        let limit = limit.clamp(1, 1000);
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            outbox::events_since(conn, &t.id, after_seq.max(0), limit)?
                .into_iter()
                .map(event_view)
                .collect()
        })
    }

    /// Register a webhook endpoint for one tenant (id or slug) or, with `None`, for all. The
    /// signing secret is returned only here.
    pub fn create_webhook_endpoint(
        &self,
        call: &Call,
        tenant: Option<&str>,
        url: &str,
    ) -> Result<WebhookCreated> {
        check_webhook_url(url)?;
        let secret = format!("whsec_{}", self.random_hex(32));
        let sealed = self.with_entropy(|e| self.config.secrets.seal(secret.as_bytes(), e))?;
        let id = format!("whk_{}", self.random_hex(8));
        let row = self.transaction(|conn| {
            let tenant_id = match tenant {
                Some(t) => Some(
                    queries::find_tenant(conn, t)?
                        .ok_or(GatehouseError::NotFound { what: "tenant" })?
                        .id,
                ),
                None => None,
            };
            let row = models::WebhookEndpoint {
                id: id.clone(),
                tenant_id: tenant_id.clone(),
                url: url.to_owned(),
                secret: sealed.clone(),
                enabled: true,
                created_at: call.now.timestamp(),
            };
            outbox::insert_webhook_endpoint(conn, &row)?;
            self.audit_config(
                conn,
                call,
                tenant_id
                    .as_deref()
                    .unwrap_or(crate::audit_log::SYSTEM_TENANT),
                "webhook_endpoint",
                &id,
                "created",
                url,
            )?;
            Ok::<_, GatehouseError>(row)
        })?;
        Ok(WebhookCreated {
            endpoint: endpoint_view(row),
            secret,
        })
    }

    /// Every webhook endpoint, oldest first.
    pub fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpointView>> {
        Ok(self
            .store
            .transaction(outbox::list_webhook_endpoints)?
            .into_iter()
            .map(endpoint_view)
            .collect())
    }

    /// Delete a webhook endpoint; its undelivered events are dropped with it.
    pub fn delete_webhook_endpoint(&self, call: &Call, id: &str) -> Result<()> {
        self.transaction(|conn| {
            let row = outbox::find_webhook_endpoint(conn, id)?.ok_or(GatehouseError::NotFound {
                what: "webhook endpoint",
            })?;
            outbox::delete_webhook_endpoint(conn, id)?;
            self.audit_config(
                conn,
                call,
                row.tenant_id
                    .as_deref()
                    .unwrap_or(crate::audit_log::SYSTEM_TENANT),
                "webhook_endpoint",
                id,
                "deleted",
                &row.url,
            )
        })
    }

    /// Deliver what is due at `call.now`: claim up to `limit` deliveries at the head of their
    /// queues (a lease, so replicas running this concurrently never post the same one twice at
    /// once), post them in parallel with a 5 s timeout outside any transaction, then record each
    /// outcome. Returns how many were delivered. Delivery is at least once: a worker dying after
    /// the POST and before recording it leaves the lease to expire and the event to be resent.
    pub fn deliver_due(&self, call: &Call, limit: usize) -> Result<usize> {
        let now = call.now.timestamp();
        let limit = i64::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let claimed = self.transaction(|conn| {
            let mut claimed = Vec::new();
            for d in outbox::due_queue_heads(conn, now, limit)? {
                if outbox::claim_delivery(conn, &d.id, now, now + LEASE_SECS)? {
                    claimed.push(d);
                }
            }
            Ok::<_, GatehouseError>(claimed)
        })?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let mut outgoing = Vec::new();
        for d in claimed {
            match self.prepare(call, d.clone()) {
                Ok(o) => outgoing.push(o),
                Err(e) => {
                    tracing::warn!(delivery = %d.id, error = %e, "delivery could not be prepared");
                    self.record_failure(call, &d, &format!("not prepared: {e}"))?;
                }
            }
        }
        let client = self.http_client()?;
        let results: Vec<(models::Delivery, std::result::Result<(), String>)> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = outgoing
                    .into_iter()
                    .map(|o| {
                        let client = client.clone();
                        scope.spawn(move || {
                            let result = post(&client, &o);
                            (o.delivery, result)
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
        let mut delivered = 0;
        for (d, result) in results {
            match result {
                Ok(()) => {
                    self.store
                        .transaction(|conn| outbox::mark_delivered(conn, &d.id, now))?;
                    delivered += 1;
                }
                Err(why) => {
                    tracing::info!(delivery = %d.id, url = %d.url, error = %why, "delivery failed; will retry");
                    self.record_failure(call, &d, &why)?;
                }
            }
        }
        Ok(delivered)
    }

    fn record_failure(&self, call: &Call, d: &models::Delivery, why: &str) -> Result<()> {
        let next = call.now.timestamp() + backoff_secs(d.attempts);
        let why: String = why.chars().take(500).collect();
        self.store
            .transaction(|conn| outbox::mark_failed(conn, &d.id, next, &why))?;
        Ok(())
    }

    fn http_client(&self) -> Result<reqwest::blocking::Client> {
        if let Some(c) = self.http.get() {
            return Ok(c.clone());
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(HTTP_TIMEOUT_SECS))
            // A redirect would resend a signed body (or a logout token) somewhere not registered.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(GatehouseError::internal)?;
        Ok(self.http.get_or_init(|| client).clone())
    }

    /// Build the request for a claimed delivery (reads the event, the secret or the signing key).
    fn prepare(&self, call: &Call, delivery: models::Delivery) -> Result<Outgoing> {
        self.transaction(|conn| {
            let event = outbox::find_event(conn, &delivery.event_id)?
                .ok_or(GatehouseError::NotFound { what: "event" })?;
            match delivery.target_kind.as_str() {
                WEBHOOK => {
                    let endpoint = outbox::find_webhook_endpoint(conn, &delivery.target_id)?
                        .ok_or(GatehouseError::NotFound {
                            what: "webhook endpoint",
                        })?;
                    let secret = self.config.secrets.open(&endpoint.secret)?;
                    let secret = String::from_utf8(secret).map_err(GatehouseError::internal)?;
                    let id = event.id.clone();
                    let body = serde_json::to_vec(&event_view(event)?)
                        .map_err(GatehouseError::internal)?;
                    let signature = webhook_signature(&secret, call.now.timestamp(), &body)?;
                    Ok(Outgoing {
                        delivery,
                        content_type: "application/json",
                        body,
                        headers: vec![(SIGNATURE_HEADER, signature), (EVENT_ID_HEADER, id)],
                    })
                }
                BACKCHANNEL => {
                    let data: Value =
                        serde_json::from_str(&event.payload).map_err(GatehouseError::internal)?;
                    let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
                    let key = self.active_signing_key(conn, call)?;
                    let claims = self
                        .with_entropy(|e| {
                            oidc_core::claims::LogoutTokenClaims::new(
                                self.issuer(),
                                delivery.target_id.clone(),
                                field("user_id"),
                                field("session_id"),
                                call.now,
                                TimeDelta::seconds(LOGOUT_TOKEN_TTL_SECS),
                                e,
                            )
                        })
                        .map_err(GatehouseError::internal)?;
                    let token = oidc_core::claims::build_logout_token(&key, &claims)
                        .map_err(GatehouseError::internal)?;
                    let body = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("logout_token", &token)
                        .finish()
                        .into_bytes();
                    Ok(Outgoing {
                        delivery,
                        content_type: "application/x-www-form-urlencoded",
                        body,
                        headers: Vec::new(),
                    })
                }
                other => Err(GatehouseError::internal(format!(
                    "unknown delivery kind {other}"
                ))),
            }
        })
    }
}

fn bounded_note(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.len() > MAX_REASON_LEN {
        return Err(GatehouseError::invalid("reason", "at most 200 bytes"));
    }
    Ok(if reason.is_empty() {
        "revoked".to_owned()
    } else {
        reason.to_owned()
    })
}

/// One POST; any 2xx is success.
fn post(client: &reqwest::blocking::Client, o: &Outgoing) -> std::result::Result<(), String> {
    let mut request = client
        .post(&o.delivery.url)
        .header(reqwest::header::CONTENT_TYPE, o.content_type)
        .body(o.body.clone());
    for (name, value) in &o.headers {
        request = request.header(*name, value);
    }
    match request.send() {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(format!("request failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_caps_at_an_hour() {
        let waits: Vec<i64> = (0..14).map(backoff_secs).collect();
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
        );
        assert_eq!(backoff_secs(1000), 3600);
        assert_eq!(backoff_secs(-5), 1);
    }

    #[test]
    fn signature_matches_the_worked_example_of_docs_events_md() {
        // Computed independently (Python's hmac) and printed in docs/events.md.
        assert_eq!(
            webhook_signature("whsec_test", 1_795_428_000, br#"{"id":"evt_1"}"#).unwrap(),
            "t=1795428000,v1=91e9a57652a8933c9d26161390259cdf2c524134da91bd0b8f9cb4aa54953b15"
        );
    }

    #[test]
    fn signature_round_trip_and_rejections() {
        let body = br#"{"id":"evt_1"}"#;
        let header = webhook_signature("whsec_k", 1_700_000_000, body).unwrap();
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify_webhook_signature(
            "whsec_k",
            &header,
            body,
            1_700_000_100,
            300
        ));
        // wrong secret, tampered body, stale timestamp, garbage header
        assert!(!verify_webhook_signature(
            "whsec_x",
            &header,
            body,
            1_700_000_000,
            300
        ));
        assert!(!verify_webhook_signature(
            "whsec_k",
            &header,
            b"{}",
            1_700_000_000,
            300
        ));
        assert!(!verify_webhook_signature(
            "whsec_k",
            &header,
            body,
            1_700_001_000,
            300
        ));
        assert!(!verify_webhook_signature(
            "whsec_k",
            "v1=zz",
            body,
            1_700_000_000,
            300
        ));
    }

    #[test]
    fn an_event_written_in_a_transaction_that_fails_is_neither_kept_nor_delivered() {
        use crate::{Call, GatehouseConfig, SecretBox};
        for engine in storage::testing::ENGINES {
            let db = storage::testing::TestDatabase::new(engine).unwrap();
            let gh = Gatehouse::new(
                db.store().unwrap(),
                GatehouseConfig::new(
                    "https://sso.example.com".parse().unwrap(),
                    SecretBox::new([1; 32]),
                ),
                Box::new(gatehouse_types::FixedEntropy::new(1)),
            );
            let call = Call::system(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
            // An all-tenant endpoint on a port nobody listens on: a delivery would be attempted.
            gh.create_webhook_endpoint(&call, None, "http://127.0.0.1:9/hook")
                .unwrap();
            let failed: Result<()> = gh.transaction(|conn| {
                gh.emit(conn, &call, "t1", "user.created", json!({"user_id": "u1"}))?;
                Err(GatehouseError::internal("the change itself failed"))
            });
            assert!(failed.is_err());
            let (events, heads) = gh
                .transaction(|conn| {
                    Ok::<_, GatehouseError>((
                        outbox::events_since(conn, "t1", 0, 10)?,
                        outbox::due_queue_heads(conn, i64::MAX - 100, 10)?,
                    ))
                })
                .unwrap();
            assert!(events.is_empty(), "{engine:?}");
            assert!(heads.is_empty(), "{engine:?}");
            assert_eq!(gh.deliver_due(&call, 10).unwrap(), 0);
            // The same write committed is numbered 1 and queued once.
            gh.transaction(|conn| {
                gh.emit(conn, &call, "t1", "user.created", json!({"user_id": "u1"}))
            })
            .unwrap();
            let heads = gh
                .store
                .transaction(|conn| outbox::due_queue_heads(conn, call.now.timestamp(), 10))
                .unwrap();
            assert_eq!(heads.len(), 1);
            assert_eq!(heads[0].seq, 1);
        }
    }

    #[test]
    fn webhook_urls_must_be_https_except_on_loopback() {
        assert!(check_webhook_url("https://app.example.com/hooks").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9000/hooks").is_ok());
        assert!(check_webhook_url("http://app.example.com/hooks").is_err());
        assert!(check_webhook_url("not a url").is_err());
    }
}
