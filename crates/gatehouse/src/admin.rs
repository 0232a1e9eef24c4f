//! Operator use-cases: tenants and their domains, apps (OIDC clients), operator tokens.

use crate::error::{GatehouseError, Result};
use crate::util::{json_list, parse_json_list, token_hash};
use crate::{Actor, Call, Gatehouse};
use serde::{Deserialize, Serialize};
use storage::{models, queries, StorageError};

/// Input of [`Gatehouse::create_tenant`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTenant {
    /// URL-safe unique name (`acme`).
    pub slug: String,
    /// Name shown to people.
    pub display_name: String,
    /// The customer's own id for this tenant (seed 004's organisation externalId).
    #[serde(default)]
    pub external_id: Option<String>,
    /// E-mail domains routed to this tenant at login.
    #[serde(default)]
    pub domains: Vec<String>,
}

impl NewTenant {
    /// A tenant with a slug and a display name, no external id, no domains.
    pub fn new(slug: &str, display_name: &str) -> Self {
        NewTenant {
            slug: slug.into(),
            display_name: display_name.into(),
            external_id: None,
            domains: vec![],
        }
    }
}

/// A tenant as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    /// Gatehouse id.
    pub id: String,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub display_name: String,
    /// Customer's id.
    pub external_id: Option<String>,
    /// Routed e-mail domains.
    pub domains: Vec<String>,
    /// Session (and token) lifetime in seconds.
    pub session_lifetime_secs: i64,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// Input of [`Gatehouse::update_tenant`]: the fields to change; absent fields stay as they are.
/// Unknown fields are refused, so a misspelt field is an error rather than a silent no-op.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    /// New name shown to people (1-200 characters).
    #[serde(default)]
    pub display_name: Option<String>,
    /// New session (and token) lifetime in seconds, 60 to 86400.
    #[serde(default)]
    pub session_lifetime_secs: Option<i64>,
}

/// Shortest and longest session lifetime a tenant may have, in seconds.
const SESSION_LIFETIME_SECS: std::ops::RangeInclusive<i64> = 60..=86_400;

/// Input of [`Gatehouse::register_client`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewClient {
    /// Name of the app.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// A public client (SPA, native) has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// OIDC back-channel logout URI.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Where `/oauth/logout` may send the browser afterwards (exact match; RP-Initiated Logout).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Fixed client id (otherwise generated).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Fixed secret (demo setups only; otherwise generated).
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// An app as the admin API shows it (never the secret, except once in [`ClientCredentials`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    /// `client_id`.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Whether it is public (no secret, PKCE).
    pub public: bool,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
}

/// A client id and the secret, shown exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCredentials {
    /// The app.
    pub client: ClientView,
    /// The secret (absent for public clients).
    pub client_secret: Option<String>,
}

/// A newly created operator token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorTokenCreated {
    /// Token id (for revocation).
    pub id: String,
    /// The bearer token.
    pub token: String,
}

/// An operator token without its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorTokenView {
    /// Token id.
    pub id: String,
    /// Label.
    pub name: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Revoked, if it was.
    pub revoked: bool,
}

/// A tenant (id or slug) and one of its users; another tenant's user id is "not found".
pub(crate) fn tenant_user(
    conn: &mut storage::Conn,
    tenant: &str,
    user_id: &str,
) -> Result<(models::Tenant, models::User)> {
    let t =
        queries::find_tenant(conn, tenant)?.ok_or(GatehouseError::NotFound { what: "tenant" })?;
    let user = queries::find_user(conn, user_id)?
        .filter(|u| u.tenant_id == t.id)
        .ok_or(GatehouseError::NotFound { what: "user" })?;
    Ok((t, user))
}

pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

fn valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
}

pub(crate) fn normalise_domain(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(GatehouseError::invalid(
            "domain",
            format!("{domain:?} is not a domain name"),
        ))
    }
}

fn validate_redirect_uri(uri: &str) -> Result<()> {
    let parsed = url::Url::parse(uri).map_err(|_| {
        GatehouseError::invalid("redirect_uri", format!("{uri:?} is not an absolute URL"))
    })?;
    if parsed.fragment().is_some() {
        return Err(GatehouseError::invalid(
            "redirect_uri",
            "must not contain a fragment",
        ));
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
        return Err(GatehouseError::invalid(
            "redirect_uri",
            "must be https (http only for loopback)",
        ));
    }
    Ok(())
}

fn conflict(what: impl Into<String>) -> impl FnOnce(StorageError) -> GatehouseError {
    let what = what.into();
    move |e| match e {
        StorageError::Conflict { .. } => GatehouseError::Conflict { what },
        other => other.into(),
    }
}

impl Gatehouse {
    /// Create a tenant with its domains.
    pub fn create_tenant(&self, call: &Call, input: NewTenant) -> Result<TenantView> {
        if !valid_slug(&input.slug) {
            return Err(GatehouseError::invalid(
                "slug",
                "1-63 characters of a-z, 0-9 and '-', not starting with '-'",
            ));
        }
        let display_name = crate::util::label("display_name", &input.display_name)?;
        let domains = input
            .domains
            .iter()
            .map(|d| normalise_domain(d))
            .collect::<Result<Vec<_>>>()?;
        let row = models::Tenant {
            id: format!("ten_{}", self.random_hex(12)),
            slug: input.slug.clone(),
            display_name,
            external_id: input.external_id.clone(),
            parent_id: None,
            session_lifetime_secs: 900,
            created_at: call.now.timestamp(),
        };
        self.transaction(|conn| {
            // Slug and external id are both unique: the message names both, since the
            // database does not say which one collided.
            let what = match &row.external_id {
                Some(ext) => format!("a tenant with slug {} or external id {ext}", row.slug),
                None => format!("tenant {}", row.slug),
            };
            queries::insert_tenant(conn, &row).map_err(conflict(what))?;
            for domain in &domains {
                queries::insert_domain(
                    conn,
                    &models::TenantDomain {
                        domain: domain.clone(),
                        tenant_id: row.id.clone(),
                        verified: true,
                        created_at: row.created_at,
                    },
                )
                .map_err(conflict(format!("domain {domain}")))?;
            }
            self.audit_config(
                conn,
                call,
                &row.id,
                "tenant",
                &row.id,
                "created",
                &format!("slug={}", row.slug),
            )
        })?;
        self.show_tenant(&row.id)
    }

    /// Every tenant.
    pub fn list_tenants(&self) -> Result<Vec<TenantView>> {
        self.transaction(|conn| {
            let tenants = queries::list_tenants(conn)?;
            tenants.into_iter().map(|t| view_tenant(conn, t)).collect()
        })
    }

    /// One tenant by id or slug.
    pub fn show_tenant(&self, id_or_slug: &str) -> Result<TenantView> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, id_or_slug)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            view_tenant(conn, t)
        })
    }

    /// Route another e-mail domain to a tenant.
    pub fn add_tenant_domain(&self, call: &Call, tenant: &str, domain: &str) -> Result<TenantView> {
        let domain = normalise_domain(domain)?;
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            queries::insert_domain(
                conn,
                &models::TenantDomain {
                    domain: domain.clone(),
                    tenant_id: t.id.clone(),
                    verified: true,
                    created_at: call.now.timestamp(),
                },
            )
            .map_err(conflict(format!("domain {domain}")))?;
            self.audit_config(conn, call, &t.id, "tenant", &t.id, "domain_added", &domain)?;
            view_tenant(conn, t)
        })
    }

    /// Set a tenant's session lifetime (seconds, 60..=86400).
    pub fn set_session_lifetime(&self, call: &Call, tenant: &str, secs: i64) -> Result<TenantView> {
        self.update_tenant(
            call,
            tenant,
            &TenantUpdate {
                session_lifetime_secs: Some(secs),
                ..TenantUpdate::default()
            },
        )
    }

    /// Change a tenant's display name and/or session lifetime, all or nothing. Each changed
    /// field is audited as its own `config.changed` record (`display_name: …`,
    /// `session_lifetime: …`). A new lifetime applies to sessions opened from now on.
    pub fn update_tenant(
        &self,
        call: &Call,
        tenant: &str,
        update: &TenantUpdate,
    ) -> Result<TenantView> {
        if update.display_name.is_none() && update.session_lifetime_secs.is_none() {
            return Err(GatehouseError::invalid(
                "tenant update",
                "nothing to change: give display_name and/or session_lifetime_secs",
            ));
        }
        let display_name = update
            .display_name
            .as_deref()
            .map(|name| crate::util::label("display_name", name))
            .transpose()?;
        if let Some(secs) = update.session_lifetime_secs {
            if !SESSION_LIFETIME_SECS.contains(&secs) {
                return Err(GatehouseError::invalid(
                    "session_lifetime_secs",
                    "between 60 and 86400",
                ));
            }
        }
        self.transaction(|conn| {
            let mut t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            if let Some(name) = &display_name {
                t.display_name = name.clone();
            }
            if let Some(secs) = update.session_lifetime_secs {
                t.session_lifetime_secs = secs;
            }
            queries::update_tenant(conn, &t)?;
            if let Some(name) = &display_name {
                self.audit_config(conn, call, &t.id, "tenant", &t.id, "display_name", name)?;
            }
            if let Some(secs) = update.session_lifetime_secs {
                self.audit_config(
                    conn,
                    call,
                    &t.id,
                    "tenant",
                    &t.id,
                    "session_lifetime",
                    &secs.to_string(),
                )?;
            }
            view_tenant(conn, t)
        })
    }

    /// Register an app. The secret is returned once and stored only as a hash.
    pub fn register_client(&self, call: &Call, input: NewClient) -> Result<ClientCredentials> {
        let name = crate::util::label("name", &input.name)?;
        if let Some(id) = &input.client_id {
            // It travels in URLs, Basic credentials and every audit record of the app.
            let ok = (1..=128).contains(&id.len())
                && id.chars().all(|c| c.is_ascii_graphic() && c != ':');
            if !ok {
                return Err(GatehouseError::invalid(
                    "client_id",
                    "1-128 printable ASCII characters, no spaces or colons",
                ));
            }
        }
        if input
            .client_secret
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.len() > 256)
        {
            return Err(GatehouseError::invalid("client_secret", "1-256 characters"));
        }
        if input.redirect_uris.is_empty() {
            return Err(GatehouseError::invalid(
                "redirect_uris",
                "at least one is required",
            ));
        }
        for uri in &input.redirect_uris {
            validate_redirect_uri(uri)?;
        }
        for uri in &input.post_logout_redirect_uris {
            validate_redirect_uri(uri)?;
        }
        if let Some(uri) = &input.backchannel_logout_uri {
            url::Url::parse(uri).map_err(|_| {
                GatehouseError::invalid("backchannel_logout_uri", "not an absolute URL")
            })?;
        }
        let client_id = input
            .client_id
            .clone()
            .unwrap_or_else(|| format!("app_{}", self.random_hex(12)));
        let secret = if input.public {
            None
        } else {
            Some(
                input
                    .client_secret
                    .clone()
                    .unwrap_or_else(|| self.random_hex(32)),
            )
        };
        let row = models::OidcClient {
            id: client_id,
            name,
            secret_hash: secret.as_deref().map(token_hash),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            redirect_uris: json_list(&input.redirect_uris),
            backchannel_logout_uri: input.backchannel_logout_uri.clone(),
            created_at: call.now.timestamp(),
            post_logout_redirect_uris: json_list(&input.post_logout_redirect_uris),
        };
        self.transaction(|conn| {
            queries::insert_client(conn, &row).map_err(conflict(format!("client {}", row.id)))?;
            self.audit_config(
                conn,
                call,
                crate::audit_log::SYSTEM_TENANT,
                "client",
                &row.id,
                "registered",
                &row.name,
            )
        })?;
        Ok(ClientCredentials {
            client: view_client(&row),
            client_secret: secret,
        })
    }

    /// Every app.
    pub fn list_clients(&self) -> Result<Vec<ClientView>> {
        Ok(self
            .store
            .transaction(queries::list_clients)?
            .iter()
            .map(view_client)
            .collect())
    }

    /// Issue a new secret; the old one keeps working for `overlap` (zero ends it at once).
    pub fn rotate_client_secret(
        &self,
        call: &Call,
        client_id: &str,
        overlap: chrono::Duration,
    ) -> Result<ClientCredentials> {
        let secret = self.random_hex(32);
        self.transaction(|conn| {
            let mut row = queries::find_client(conn, client_id)?
                .ok_or(GatehouseError::NotFound { what: "client" })?;
            if row.secret_hash.is_none() {
                return Err(GatehouseError::invalid(
                    "client",
                    "a public client has no secret to rotate",
                ));
            }
            row.previous_secret_hash = if overlap > chrono::Duration::zero() {
                row.secret_hash.take()
            } else {
                None
            };
            row.previous_secret_expires_at = row
                .previous_secret_hash
                .as_ref()
                .map(|_| (call.now + overlap).timestamp());
            row.secret_hash = Some(token_hash(&secret));
            queries::update_client(conn, &row)?;
            self.audit_config(
                conn,
                call,
                crate::audit_log::SYSTEM_TENANT,
                "client",
                &row.id,
                "secret_rotated",
                "",
            )?;
            Ok(ClientCredentials {
                client: view_client(&row),
                client_secret: Some(secret.clone()),
            })
        })
    }

    /// Create an operator token for the admin API (shown once).
    pub fn create_operator_token(&self, call: &Call, name: &str) -> Result<OperatorTokenCreated> {
        let token = format!("gho_{}", self.random_hex(32));
        let row = models::OperatorToken {
            id: format!("opt_{}", self.random_hex(8)),
            name: name.to_owned(),
            token_hash: token_hash(&token),
            created_at: call.now.timestamp(),
            revoked_at: None,
        };
        self.transaction(|conn| {
            queries::insert_operator_token(conn, &row)?;
            self.audit_config(
                conn,
                call,
                crate::audit_log::SYSTEM_TENANT,
                "operator_token",
                &row.id,
                "created",
                name,
            )
        })?;
        Ok(OperatorTokenCreated { id: row.id, token })
    }

    /// List operator tokens (without secrets).
    pub fn list_operator_tokens(&self) -> Result<Vec<OperatorTokenView>> {
        let rows = self.store.transaction(queries::list_operator_tokens)?;
        Ok(rows
            .into_iter()
            .map(|r| OperatorTokenView {
                id: r.id,
                name: r.name,
                created_at: rfc3339(r.created_at),
                revoked: r.revoked_at.is_some(),
            })
            .collect())
    }

    /// Revoke an operator token.
    pub fn revoke_operator_token(&self, call: &Call, id: &str) -> Result<()> {
        self.transaction(|conn| {
            if queries::revoke_operator_token(conn, id, call.now.timestamp())? == 0 {
                return Err(GatehouseError::NotFound {
                    what: "operator token",
                });
            }
            self.audit_config(
                conn,
                call,
                crate::audit_log::SYSTEM_TENANT,
                "operator_token",
                id,
                "revoked",
                "",
            )
        })
    }

    /// Check an operator bearer token; returns the actor it authenticates.
    pub fn authenticate_operator(&self, bearer: &str) -> Result<Actor> {
        if bearer.len() > 200 {
            return Err(GatehouseError::Unauthorized);
        }
        let found = self
            .store
            .transaction(|conn| queries::find_operator_token(conn, &token_hash(bearer)))?;
        found
            .map(|t| Actor::Operator(t.id))
            .ok_or(GatehouseError::Unauthorized)
    }
}

fn view_tenant(conn: &mut storage::Conn, t: models::Tenant) -> Result<TenantView> {
    let domains = queries::list_domains(conn, &t.id)?
        .into_iter()
        .map(|d| d.domain)
        .collect();
    Ok(TenantView {
        id: t.id,
        slug: t.slug,
        display_name: t.display_name,
        external_id: t.external_id,
        domains,
        session_lifetime_secs: t.session_lifetime_secs,
        created_at: rfc3339(t.created_at),
    })
}

pub(crate) fn view_client(row: &models::OidcClient) -> ClientView {
    ClientView {
        client_id: row.id.clone(),
        name: row.name.clone(),
        public: row.secret_hash.is_none(),
        redirect_uris: parse_json_list(&row.redirect_uris),
        backchannel_logout_uri: row.backchannel_logout_uri.clone(),
        post_logout_redirect_uris: parse_json_list(&row.post_logout_redirect_uris),
    }
}
