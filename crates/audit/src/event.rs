//! The closed set of audit events (schema version [`crate::SCHEMA_VERSION`]).
//!
//! Adding a field or a variant changes the wire format and needs a schema-version bump (see
//! [`crate::SCHEMA_VERSION`] for why a bump never disturbs stored records); the golden test in
//! `tests/audit.rs` fails on any unnoticed change. A new field must be omitted from the JSON
//! when it has no value, so records written before it existed keep their bytes and hashes. No variant has a field for secrets,
//! tokens, passwords or assertion/response bodies — ids, codes and short summaries only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Timestamps are always written as RFC 3339 UTC with exactly six fractional digits
/// (`2026-11-23T10:00:00.000000Z`), so the hashed bytes do not depend on chrono's choice of
/// precision and survive storage engines that keep microseconds.
pub(crate) mod micros {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    /// Refuses sub-microsecond digits: they would not be covered by the hash (which is computed
    /// over the six-digit form), so accepting them would let unhashed data into a verified record.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let at = DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)?;
        if at.timestamp_subsec_nanos() % 1000 != 0 {
            return Err(serde::de::Error::custom(
                "timestamp finer than microseconds",
            ));
        }
        Ok(at)
    }
}

/// Who caused a change to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    /// Just-in-time provisioning during a login.
    Jit,
    /// A SCIM client (the customer's directory).
    Scim,
    /// An operator through the admin API or CLI.
    Admin,
    /// The IdP's assertion at a sign-in (names, e-mail, groups follow the IdP at every login).
    Login,
    /// Gatehouse itself (expiry sweeps, policy).
    System,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEndReason {
    /// The user logged out at the app or at Gatehouse.
    Logout,
    /// The upstream IdP sent a logout (SAML SLO, OIDC back-channel).
    IdpLogout,
    /// The session's lifetime ran out.
    Expired,
    /// An operator revoked it.
    Revoked,
    /// The user was deactivated or deleted.
    UserDeactivated,
    /// A rotated refresh token was presented again: it was copied, so the session it belongs
    /// to is no longer trusted.
    RefreshTokenReuse,
    /// An authorization code was presented again after it had been used: it may have been
    /// intercepted, so the tokens issued from it (its session) are no longer trusted.
    AuthorizationCodeReuse,
}

/// What happened to a configuration object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigAction {
    /// Created.
    Created,
    /// Changed.
    Updated,
    /// Removed.
    Deleted,
}

/// A role grant as recorded in the audit log (mirrors the role mapper's grant without depending
/// on it: audit sits below the role mapper in the layering).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditGrant {
    /// Role name.
    pub role: String,
    /// Scope dimension → value.
    pub scopes: BTreeMap<String, String>,
}

/// One auditable occurrence. Serialized with a `type` tag (`"login.succeeded"`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
#[non_exhaustive]
pub enum AuditEvent {
    /// A user signed in through an upstream connection.
    #[serde(rename = "login.succeeded")]
    LoginSucceeded {
        /// Connection used.
        connection_id: String,
        /// The IdP's subject (NameID / `sub`).
        subject: String,
        /// Gatehouse user id.
        user_id: String,
        /// Session opened.
        session_id: String,
        /// Authentication methods as asserted upstream (RFC 8176 values derived from the
        /// AuthnContextClassRef). Omitted when empty, so records written before the field
        /// existed keep their hashes.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        amr: Vec<String>,
    },
    /// A sign-in was refused.
    #[serde(rename = "login.failed")]
    LoginFailed {
        /// Stable machine code (`signature_invalid`, `user_deactivated`, `no_role_mapping`, …).
        reason_code: String,
        /// Connection attempted.
        connection_id: String,
        /// The asserted subject, if validation got far enough to know it.
        subject: Option<String>,
    },
    /// A Gatehouse session was opened.
    #[serde(rename = "session.created")]
    SessionCreated {
        /// Session id.
        session_id: String,
        /// Owner.
        user_id: String,
        /// When it expires.
        #[serde(with = "micros")]
        expires_at: DateTime<Utc>,
    },
    /// A session's lifetime was extended (token refresh).
    #[serde(rename = "session.refreshed")]
    SessionRefreshed {
        /// Session id.
        session_id: String,
        /// New expiry.
        #[serde(with = "micros")]
        expires_at: DateTime<Utc>,
    },
    /// A session ended.
    #[serde(rename = "session.terminated")]
    SessionTerminated {
        /// Session id.
        session_id: String,
        /// Why.
        reason: SessionEndReason,
    },
    /// A user was created.
    #[serde(rename = "user.created")]
    UserCreated {
        /// New user id.
        user_id: String,
        /// By what.
        source: ChangeSource,
    },
    /// User attributes changed.
    #[serde(rename = "user.updated")]
    UserUpdated {
        /// User id.
        user_id: String,
        /// By what.
        source: ChangeSource,
        /// Names of the fields that changed (not their values, which may be personal data).
        changed_fields: Vec<String>,
    },
    /// A user was deactivated (cannot sign in; sessions end).
    #[serde(rename = "user.deactivated")]
    UserDeactivated {
        /// User id.
        user_id: String,
        /// By what.
        source: ChangeSource,
    },
    /// A deactivated user was reactivated.
    #[serde(rename = "user.reactivated")]
    UserReactivated {
        /// User id.
        user_id: String,
        /// By what.
        source: ChangeSource,
    },
    /// A user was deleted.
    #[serde(rename = "user.deleted")]
    UserDeleted {
        /// User id.
        user_id: String,
        /// By what.
        source: ChangeSource,
    },
    /// A user's grants changed (role mapping at login, SCIM group change, admin edit).
    #[serde(rename = "user.roles_changed")]
    UserRolesChanged {
        /// User id.
        user_id: String,
        /// Grants before (sorted).
        before: Vec<AuditGrant>,
        /// Grants after (sorted).
        after: Vec<AuditGrant>,
        /// Version of the rule set that produced `after`, when role mapping did.
        ruleset_version: Option<u64>,
    },
    /// One SCIM request was applied (or refused).
    #[serde(rename = "scim.operation")]
    ScimOperation {
        /// SCIM directory.
        directory_id: String,
        /// Id (never the value) of the bearer token used.
        token_id: String,
        /// HTTP method.
        method: String,
        /// `User`, `Group`, …
        resource_type: String,
        /// Resource affected, when there is one.
        resource_id: Option<String>,
        /// HTTP status returned.
        status: u16,
        /// Short description of the change (no attribute values beyond identifiers).
        summary: String,
    },
    /// A configuration object (connection, rule set, app client, directory, …) changed.
    #[serde(rename = "config.changed")]
    ConfigChanged {
        /// Kind of object (`connection`, `role_rules`, `oauth_client`, …).
        object_type: String,
        /// Its id.
        object_id: String,
        /// What happened.
        action: ConfigAction,
        /// Short description (never secret values such as client secrets or keys).
        summary: String,
    },
    /// A break-glass credential was issued.
    #[serde(rename = "breakglass.issued")]
    BreakglassIssued {
        /// Credential id (never the credential).
        credential_id: String,
        /// User it was issued for.
        user_id: String,
        /// Expiry.
        #[serde(with = "micros")]
        expires_at: DateTime<Utc>,
        /// Stated justification.
        reason: String,
    },
    /// A break-glass credential was used to sign in.
    #[serde(rename = "breakglass.used")]
    BreakglassUsed {
        /// Credential id.
        credential_id: String,
        /// User who signed in.
        user_id: String,
        /// Session opened.
        session_id: String,
    },
    /// Any other operator action (exports, key rotation, manual session revocation, …).
    #[serde(rename = "admin.action")]
    AdminAction {
        /// Machine name of the action (`audit.export`, `keys.rotate`, …).
        action: String,
        /// Short description.
        summary: String,
    },
    /// A single-logout message from an IdP was refused (bad signature, wrong issuer, replay, …).
    #[serde(rename = "logout.failed")]
    LogoutFailed {
        /// Stable machine code (`bad_signature`, `replay`, `unknown_logout_flow`, …).
        reason_code: String,
        /// Connection whose SLO endpoint received it.
        connection_id: String,
    },
}

impl AuditEvent {
    /// Every event type tag, in declaration order.
    pub const TYPES: [&'static str; 17] = [
        "login.succeeded",
        "login.failed",
        "session.created",
        "session.refreshed",
        "session.terminated",
        "user.created",
        "user.updated",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
        "user.roles_changed",
        "scim.operation",
        "config.changed",
        "breakglass.issued",
        "breakglass.used",
        "admin.action",
        "logout.failed",
    ];

    /// The `type` tag this event serializes with (also the storage index column).
    pub fn event_type(&self) -> &'static str {
        match self {
            AuditEvent::LoginSucceeded { .. } => "login.succeeded",
            AuditEvent::LoginFailed { .. } => "login.failed",
            AuditEvent::LogoutFailed { .. } => "logout.failed",
            AuditEvent::SessionCreated { .. } => "session.created",
            AuditEvent::SessionRefreshed { .. } => "session.refreshed",
            AuditEvent::SessionTerminated { .. } => "session.terminated",
            AuditEvent::UserCreated { .. } => "user.created",
            AuditEvent::UserUpdated { .. } => "user.updated",
            AuditEvent::UserDeactivated { .. } => "user.deactivated",
            AuditEvent::UserReactivated { .. } => "user.reactivated",
            AuditEvent::UserDeleted { .. } => "user.deleted",
            AuditEvent::UserRolesChanged { .. } => "user.roles_changed",
            AuditEvent::ScimOperation { .. } => "scim.operation",
            AuditEvent::ConfigChanged { .. } => "config.changed",
            AuditEvent::BreakglassIssued { .. } => "breakglass.issued",
            AuditEvent::BreakglassUsed { .. } => "breakglass.used",
            AuditEvent::AdminAction { .. } => "admin.action",
        }
    }
}
