//! Row types, one per table. Times are unix seconds; JSON-valued columns are text the facade
//! (de)serializes, so this crate stays ignorant of protocol types.
#![allow(missing_docs)]

use crate::schema::*;
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub parent_id: Option<String>,
    pub session_lifetime_secs: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_domains)]
pub struct TenantDomain {
    pub domain: String,
    pub tenant_id: String,
    pub verified: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = saml_connections, treat_none_as_null = true)]
pub struct SamlConnection {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub enabled: bool,
    pub vendor: String,
    pub idp_entity_id: String,
    pub sso_url: String,
    pub slo_url: Option<String>,
    /// JSON array of base64 DER certificates (every signing certificate the IdP lists).
    pub idp_certificates: String,
    pub metadata_url: Option<String>,
    pub sp_entity_id: String,
    /// Encrypted PEM (see the facade's secret box).
    pub sp_signing_key: String,
    pub sp_signing_cert: String,
    /// Encrypted PEM.
    pub sp_encryption_key: String,
    pub sp_encryption_cert: String,
    pub sign_requests: bool,
    pub allow_idp_initiated: bool,
    pub default_client_id: Option<String>,
    pub default_redirect_uri: Option<String>,
    /// JSON attribute mapping.
    pub attribute_mapping: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// `redirect` or `post`: how AuthnRequests reach the IdP.
    pub sso_binding: String,
    /// Create unknown users at first login (just-in-time provisioning).
    pub jit_enabled: bool,
    /// `redirect` or `post`: how logout messages reach the IdP's SingleLogoutService.
    pub slo_binding: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub token_hash: String,
    pub session_id: String,
    pub client_id: String,
    pub scope: String,
    pub issued_at: i64,
    pub used: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = role_rulesets)]
pub struct RoleRuleset {
    pub tenant_id: String,
    /// The rule set as JSON (role-mapper's format).
    pub ruleset: String,
    pub version: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = user_grants, treat_none_as_null = true)]
pub struct UserGrants {
    pub user_id: String,
    /// JSON array of grants ({role, scopes}).
    pub grants: String,
    pub ruleset_version: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = oidc_clients, treat_none_as_null = true)]
pub struct OidcClient {
    pub id: String,
    pub name: String,
    /// Hash of the client secret; `None` for public clients (PKCE required).
    pub secret_hash: Option<String>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    /// JSON array of exact redirect URIs.
    pub redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    pub created_at: i64,
    /// JSON array of exact post-logout redirect URIs.
    pub post_logout_redirect_uris: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub connection_id: Option<String>,
    pub external_subject: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// JSON array of group names last asserted.
    pub groups: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The SCIM directory that provisions this user (`None`: JIT-only, or SCIM-deleted).
    pub directory_id: Option<String>,
    /// SCIM `userName` as sent, and lower-cased for the per-tenant unique index.
    pub user_name: Option<String>,
    pub user_name_lower: Option<String>,
    /// SCIM `externalId` (the IdP's own id for the user).
    pub external_id: Option<String>,
    /// The canonical SCIM resource (JSON, without `id`, `meta` and `groups`).
    pub scim_resource: Option<String>,
    /// Bumped on every SCIM change of the row; the ETag is `W/"<version>"`, with a digest of
    /// the user's groups appended when it has any (`gatehouse::scim::user_etag`).
    pub version: i64,
    /// JSON object of the attributes asserted at the last login (role mapping re-runs over them
    /// when SCIM changes the user's groups).
    pub attributes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_flows)]
pub struct LoginFlow {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub scope: String,
    pub tenant_id: String,
    pub connection_id: String,
    pub saml_request_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed: bool,
    /// The app asked for a silent re-validation (`prompt=none`): never show a prompt.
    pub prompt_none: bool,
    /// The app's `max_age` (seconds): the IdP's AuthnInstant must be at least this fresh.
    pub max_age: Option<i64>,
    /// JSON array of the app's `acr_values`: the asserted AuthnContextClassRef must be one of them.
    pub acr_values: String,
}

/// A sign-in session. The table's `expiry_recorded_at` column is deliberately not a field: only
/// the expiry sweep's queries ([`crate::queries::expired_unrecorded_sessions`],
/// [`crate::queries::mark_session_expiry_recorded`]) use it, and a new session starts without it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub connection_id: String,
    pub client_id: String,
    pub idp_session_index: Option<String>,
    pub acr: Option<String>,
    /// JSON array.
    pub amr: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// The NameID value the IdP asserted (IdP-initiated logout finds sessions by it).
    pub idp_name_id: Option<String>,
    /// The NameID with its Format and qualifiers, as JSON (our LogoutRequest repeats them).
    pub idp_name_id_json: Option<String>,
}

/// An SP-initiated single logout waiting for the IdP's LogoutResponse.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = logout_flows)]
pub struct LogoutFlow {
    pub id: String,
    pub connection_id: String,
    /// Our LogoutRequest ID (the response's InResponseTo).
    pub saml_request_id: String,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_codes)]
pub struct AuthCode {
    pub code_hash: String,
    pub session_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub expires_at: i64,
    pub used: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = access_tokens)]
pub struct AccessToken {
    pub token_hash: String,
    pub session_id: String,
    pub client_id: String,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKey {
    pub kid: String,
    /// Encrypted PEM.
    pub private_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub publish_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_tokens)]
pub struct OperatorToken {
    pub id: String,
    pub name: String,
    pub token_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
// None is NULL, not DEFAULT: diesel then builds one multi-row INSERT on SQLite as well
// (with DEFAULT it falls back to one INSERT per row there).
#[diesel(treat_none_as_default_value = false)]
pub struct AuditRow {
    pub tenant_id: String,
    pub seq: i64,
    pub at: i64,
    pub event_type: String,
    pub actor: String,
    pub target: Option<String>,
    pub correlation_id: String,
    /// The full serialized audit record (JSON), hashed into the chain.
    pub record: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = scim_directories)]
pub struct ScimDirectory {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = scim_tokens)]
pub struct ScimToken {
    pub id: String,
    pub directory_id: String,
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: String,
    pub created_at: i64,
    /// End of the overlap window after a rotation.
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = groups, treat_none_as_null = true)]
pub struct Group {
    pub id: String,
    pub tenant_id: String,
    pub directory_id: String,
    pub display_name: String,
    pub display_name_lower: String,
    pub external_id: Option<String>,
    /// The canonical SCIM resource (JSON, without `id`, `meta` and `members`).
    pub resource: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct WebhookEndpoint {
    pub id: String,
    /// `None`: every tenant's events.
    pub tenant_id: Option<String>,
    pub url: String,
    /// Sealed with the facade's secret box.
    pub secret: String,
    pub enabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox_events)]
// None is NULL, not DEFAULT: diesel then builds one multi-row INSERT on SQLite as well
// (with DEFAULT it falls back to one INSERT per row there).
#[diesel(treat_none_as_default_value = false)]
pub struct OutboxEvent {
    pub id: String,
    pub tenant_id: String,
    /// Per tenant, gap-free, increasing in commit order.
    pub seq: i64,
    pub event_type: String,
    /// JSON object.
    pub payload: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = deliveries)]
// None is NULL, not DEFAULT: diesel then builds one multi-row INSERT on SQLite as well
// (with DEFAULT it falls back to one INSERT per row there).
#[diesel(treat_none_as_default_value = false)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub tenant_id: String,
    pub seq: i64,
    /// `webhook` or `backchannel`.
    pub target_kind: String,
    /// Webhook endpoint id or OIDC client id.
    pub target_id: String,
    pub url: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub locked_until: Option<i64>,
}

/// A tenant's designated SSO account admin (may receive break-glass recovery links).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = recovery_admins)]
pub struct RecoveryAdmin {
    pub tenant_id: String,
    pub user_id: String,
    pub designated_at: i64,
}

/// A one-time break-glass sign-in link (only the hash of its secret).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = recovery_links)]
pub struct RecoveryLink {
    pub id: String,
    pub token_hash: String,
    pub tenant_id: String,
    pub user_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}
