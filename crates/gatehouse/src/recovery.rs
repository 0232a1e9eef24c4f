//! Break-glass (seed 002): when a tenant's IdP is broken, an operator can give one of the
//! tenant's designated SSO account admins a one-time, short-lived recovery sign-in link to one
//! app. The link's secret is random, stored only as a hash, used at most once (an atomic
//! update, so two replicas racing cannot both use it), and refused once expired or when the
//! user is no longer designated or active. Issuing, using and every refusal are audited.
//!
//! Using a link signs the admin in to the app as any login would — an authorization code to the
//! link's registered redirect URI — with `idp: "recovery"` and `amr: ["recovery"]` in the
//! tokens, so the app can tell (and, say, show a banner or limit what such a session may do).

use crate::error::{GatehouseError, Result};
use crate::util::{json_list, parse_json_list, token_hash};
use crate::{Call, Gatehouse, LoginCompleted};
use audit::AuditEvent;
use serde::{Deserialize, Serialize};
use storage::{models, queries};

/// Default lifetime of a recovery link.
pub const RECOVERY_LINK_DEFAULT_TTL_SECS: i64 = 15 * 60;
/// Longest lifetime an operator may give a recovery link.
pub const RECOVERY_LINK_MAX_TTL_SECS: i64 = 60 * 60;
/// The `connection_id`/`idp` of sessions opened through a recovery link.
pub const RECOVERY_IDP: &str = "recovery";

/// A designated SSO account admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryAdminView {
    /// The user.
    pub user_id: String,
    /// Their e-mail, for people.
    pub email: Option<String>,
    /// When they were designated (RFC 3339).
    pub designated_at: String,
}

/// Input of [`Gatehouse::issue_recovery_link`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewRecoveryLink {
    /// The designated admin to sign in.
    pub user_id: String,
    /// The app to sign in to.
    pub client_id: String,
    /// One of the app's registered redirect URIs (the code goes there).
    pub redirect_uri: String,
    /// Why (kept in the audit trail), e.g. the incident number.
    pub reason: String,
    /// Lifetime in seconds (default 900, at most 3600).
    #[serde(default)]
    pub ttl_secs: Option<i64>,
}

/// A freshly issued link; the URL carries the secret and is shown only now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryLinkIssued {
    /// Link id (in audit records; never the secret).
    pub id: String,
    /// The one-time sign-in URL to hand to the admin.
    pub url: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

impl Gatehouse {
    /// Designate a user of the tenant as an SSO account admin (may receive recovery links).
    pub fn add_recovery_admin(
        &self,
        call: &Call,
        tenant: &str,
        user_id: &str,
    ) -> Result<RecoveryAdminView> {
        self.transaction(|conn| {
            let (t, user) = crate::admin::tenant_user(conn, tenant, user_id)?;
            queries::put_recovery_admin(
                conn,
                &models::RecoveryAdmin {
                    tenant_id: t.id.clone(),
                    user_id: user.id.clone(),
                    designated_at: call.now.timestamp(),
                },
            )?;
            self.audit_config(conn, call, &t.id, "recovery_admin", &user.id, "added", "")?;
            let row = queries::find_recovery_admin(conn, &t.id, &user.id)?
                .ok_or_else(|| GatehouseError::internal("designation vanished"))?;
            Ok(view(row, user.email))
        })
    }

    /// Withdraw a designation (links already issued to the user stop working too).
    pub fn remove_recovery_admin(&self, call: &Call, tenant: &str, user_id: &str) -> Result<()> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            if !queries::delete_recovery_admin(conn, &t.id, user_id)? {
                return Err(GatehouseError::NotFound {
                    what: "recovery admin",
                });
            }
            self.audit_config(conn, call, &t.id, "recovery_admin", user_id, "removed", "")
        })
    }

    /// A tenant's designated SSO account admins.
    pub fn list_recovery_admins(&self, tenant: &str) -> Result<Vec<RecoveryAdminView>> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            queries::list_recovery_admins(conn, &t.id)?
                .into_iter()
                .map(|row| {
                    let email = queries::find_user(conn, &row.user_id)?.and_then(|u| u.email);
                    Ok(view(row, email))
                })
                .collect()
        })
    }

    /// Issue a one-time recovery sign-in link for a designated admin (audited as
    /// `breakglass.issued`). The URL is returned once; only a hash of its secret is kept.
    pub fn issue_recovery_link(
        &self,
        call: &Call,
        tenant: &str,
        input: &NewRecoveryLink,
    ) -> Result<RecoveryLinkIssued> {
        let ttl = input.ttl_secs.unwrap_or(RECOVERY_LINK_DEFAULT_TTL_SECS);
        if !(60..=RECOVERY_LINK_MAX_TTL_SECS).contains(&ttl) {
            return Err(GatehouseError::invalid(
                "ttl_secs",
                format!("between 60 and {RECOVERY_LINK_MAX_TTL_SECS} seconds"),
            ));
        }
        let reason = input.reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            return Err(GatehouseError::invalid(
                "reason",
                "say why (1 to 500 characters), e.g. the incident number",
            ));
        }
        let secret = format!("ghb_{}", self.random_hex(32));
        let id = format!("rcl_{}", self.random_hex(12));
        let expires_at = call.now + chrono::Duration::seconds(ttl);
        self.transaction(|conn| {
            let (t, user) = crate::admin::tenant_user(conn, tenant, &input.user_id)?;
            if queries::find_recovery_admin(conn, &t.id, &user.id)?.is_none() {
                return Err(GatehouseError::invalid(
                    "user_id",
                    "not a designated SSO account admin of this tenant (add it first)",
                ));
            }
            if !user.active {
                return Err(GatehouseError::invalid(
                    "user_id",
                    "the user is deactivated",
                ));
            }
            let client = queries::find_client(conn, &input.client_id)?
                .ok_or(GatehouseError::NotFound { what: "client" })?;
            if !parse_json_list(&client.redirect_uris).contains(&input.redirect_uri) {
                return Err(GatehouseError::invalid(
                    "redirect_uri",
                    "not registered for this client",
                ));
            }
            queries::insert_recovery_link(
                conn,
                &models::RecoveryLink {
                    id: id.clone(),
                    token_hash: token_hash(&secret),
                    tenant_id: t.id.clone(),
                    user_id: user.id.clone(),
                    client_id: client.id.clone(),
                    redirect_uri: input.redirect_uri.clone(),
                    reason: reason.to_owned(),
                    created_at: call.now.timestamp(),
                    expires_at: expires_at.timestamp(),
                    used_at: None,
                },
            )?;
            self.audit(
                conn,
                call,
                &t.id,
                Some(&user.id),
                AuditEvent::BreakglassIssued {
                    credential_id: id.clone(),
                    user_id: user.id.clone(),
                    expires_at,
                    reason: reason.to_owned(),
                },
            )
        })?;
        Ok(RecoveryLinkIssued {
            url: self.url(&format!("/recovery/{secret}")),
            id,
            expires_at: expires_at.to_rfc3339(),
        })
    }

    /// Use a recovery link: on success the browser goes to the app with a code, exactly as after
    /// a login. Any refusal is audited (`login.failed` with connection `recovery`) and looks the
    /// same to the browser.
    pub fn use_recovery_link(&self, call: &Call, secret: &str) -> Result<LoginCompleted> {
        let session_id = format!("ses_{}", self.random_hex(16));
        let code = format!("ghc_{}", self.random_hex(32));
        let outcome = self.transaction(|conn| {
            if secret.len() > 100 {
                return Ok(Err((None, None, "unknown_recovery_link")));
            }
            let Some(link) = queries::find_recovery_link(conn, &token_hash(secret))? else {
                return Ok(Err((None, None, "unknown_recovery_link")));
            };
            // A refusal names the tenant and user for the audit record, never to the browser.
            let fail = |code: &'static str| -> Result<std::result::Result<String, Refusal>> {
                Ok(Err((
                    Some(link.tenant_id.clone()),
                    Some(link.user_id.clone()),
                    code,
                )))
            };
            if link.used_at.is_some() {
                return fail("recovery_link_used");
            }
            if link.expires_at <= call.now.timestamp() {
                return fail("recovery_link_expired");
            }
            if queries::find_recovery_admin(conn, &link.tenant_id, &link.user_id)?.is_none() {
                return fail("not_recovery_admin");
            }
            let Some(user) = queries::find_user(conn, &link.user_id)?.filter(|u| u.active) else {
                return fail("user_deactivated");
            };
            let tenant = queries::find_tenant(conn, &link.tenant_id)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            if !queries::use_recovery_link(conn, &link.id, call.now.timestamp())? {
                return fail("recovery_link_used");
            }
            let now = call.now.timestamp();
            self.open_session(
                conn,
                call,
                &models::Session {
                    id: session_id.clone(),
                    user_id: user.id.clone(),
                    tenant_id: tenant.id.clone(),
                    connection_id: RECOVERY_IDP.to_owned(),
                    client_id: link.client_id.clone(),
                    idp_session_index: None,
                    acr: None,
                    amr: json_list(&[RECOVERY_IDP.to_owned()]),
                    auth_time: now,
                    created_at: now,
                    expires_at: now + tenant.session_lifetime_secs,
                    revoked_at: None,
                    revoked_reason: None,
                    idp_name_id: None,
                    idp_name_id_json: None,
                },
                &models::AuthCode {
                    code_hash: token_hash(&code),
                    session_id: session_id.clone(),
                    client_id: link.client_id.clone(),
                    redirect_uri: link.redirect_uri.clone(),
                    code_challenge: None,
                    nonce: None,
                    scope: "openid email profile".into(),
                    expires_at: (call.now + self.config.code_ttl).timestamp(),
                    used: false,
                },
            )?;
            self.audit(
                conn,
                call,
                &tenant.id,
                Some(&user.id),
                AuditEvent::BreakglassUsed {
                    credential_id: link.id.clone(),
                    user_id: user.id.clone(),
                    session_id: session_id.clone(),
                },
            )?;
            Ok(Ok(link.redirect_uri.clone()))
        })?;
        match outcome {
            Ok(redirect_uri) => {
                let mut target =
                    url::Url::parse(&redirect_uri).map_err(GatehouseError::internal)?;
                target
                    .query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("iss", &self.issuer());
                Ok(LoginCompleted {
                    redirect_to: target.into(),
                    session_id,
                })
            }
            Err((tenant_id, user_id, reason_code)) => {
                tracing::warn!(correlation_id = %call.correlation_id, reason_code, "recovery link refused");
                if let Some(tenant_id) = tenant_id {
                    let event = AuditEvent::LoginFailed {
                        reason_code: reason_code.to_owned(),
                        connection_id: RECOVERY_IDP.to_owned(),
                        subject: user_id.clone(),
                    };
                    if let Err(e) = self.audit_alone(call, &tenant_id, user_id.as_deref(), event) {
                        tracing::error!(correlation_id = %call.correlation_id, error = %e, "could not audit a refused recovery link");
                    }
                }
                Err(GatehouseError::LoginFailed {
                    reason_code,
                    correlation_id: call.correlation_id.clone(),
                })
            }
        }
    }
}

/// Why a link was refused: (tenant, user, reason code), the first two when the link is known.
type Refusal = (Option<String>, Option<String>, &'static str);

fn view(row: models::RecoveryAdmin, email: Option<String>) -> RecoveryAdminView {
    RecoveryAdminView {
        user_id: row.user_id,
        email,
        designated_at: crate::admin::rfc3339(row.designated_at),
    }
}
