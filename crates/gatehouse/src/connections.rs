//! SAML connections: created from IdP metadata (file, paste or URL) or by hand, each with its own
//! SP keys (signing and encryption), SP metadata, attribute mapping and IdP-initiated policy.

use crate::admin::rfc3339;
use crate::error::{GatehouseError, Result};
use crate::{Call, Gatehouse};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use saml_core::attribute_mapping::{AttributeMapping, IdpVendor};
use saml_core::metadata::{self, IdpCertificate, IdpMetadata};
use serde::{Deserialize, Serialize};
use storage::{models, queries};

/// Where a new connection's IdP settings come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpSource {
    /// IdP metadata XML (uploaded file or paste).
    MetadataXml(String),
    /// A metadata URL; fetched once now (https, bounded, 10 s timeout).
    MetadataUrl(String),
    /// Manual entry.
    Manual {
        /// IdP entity ID (the Issuer of its responses).
        entity_id: String,
        /// SSO URL (HTTP-Redirect binding).
        sso_url: String,
        /// Signing certificate (PEM).
        certificate_pem: String,
    },
}

/// Input of [`Gatehouse::create_saml_connection`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewSamlConnection {
    /// Name shown to operators ("Okta production").
    pub name: String,
    /// Vendor preset for attribute mapping (`okta`, `entra-id`, ... `generic`).
    #[serde(default = "default_vendor")]
    pub vendor: String,
    /// IdP settings.
    pub idp: IdpSource,
    /// Accept IdP-initiated (unsolicited) responses. Off by default.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// App that IdP-initiated logins go to.
    #[serde(default)]
    pub default_client_id: Option<String>,
    /// Redirect URI (registered for that app) for IdP-initiated logins.
    #[serde(default)]
    pub default_redirect_uri: Option<String>,
    /// Sign AuthnRequests (default true).
    #[serde(default = "yes")]
    pub sign_requests: bool,
    /// Create unknown users at first login (default true). Off: only users provisioned
    /// beforehand (SCIM, admin) may sign in; others are refused with `jit_disabled`.
    #[serde(default = "yes")]
    pub jit_enabled: bool,
    /// Mapping overriding the vendor preset.
    #[serde(default)]
    pub attribute_mapping: Option<AttributeMapping>,
}

impl NewSamlConnection {
    /// A connection with the same defaults as the admin API's: IdP-initiated logins off,
    /// signed AuthnRequests, users created at first login, the vendor's attribute mapping.
    pub fn new(name: &str, vendor: &str, idp: IdpSource) -> Self {
        NewSamlConnection {
            name: name.into(),
            vendor: vendor.into(),
            idp,
            allow_idp_initiated: false,
            default_client_id: None,
            default_redirect_uri: None,
            sign_requests: true,
            jit_enabled: true,
            attribute_mapping: None,
        }
    }
}

fn default_vendor() -> String {
    "generic".into()
}
fn yes() -> bool {
    true
}

/// Changes to a connection; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SamlConnectionUpdate {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// IdP-initiated policy.
    #[serde(default)]
    pub allow_idp_initiated: Option<bool>,
    /// Default app for IdP-initiated logins (empty string clears).
    #[serde(default)]
    pub default_client_id: Option<String>,
    /// Default redirect URI for IdP-initiated logins (empty string clears).
    #[serde(default)]
    pub default_redirect_uri: Option<String>,
    /// Sign AuthnRequests.
    #[serde(default)]
    pub sign_requests: Option<bool>,
    /// Switch vendor (resets the mapping to that vendor's preset unless a mapping is given).
    #[serde(default)]
    pub vendor: Option<String>,
    /// Replace the attribute mapping.
    #[serde(default)]
    pub attribute_mapping: Option<AttributeMapping>,
    /// Replace IdP settings (e.g. refreshed metadata after a certificate rollover).
    #[serde(default)]
    pub idp: Option<IdpSource>,
    /// How AuthnRequests reach the IdP.
    #[serde(default)]
    pub sso_binding: Option<SsoBinding>,
    /// Just-in-time provisioning on or off.
    #[serde(default)]
    pub jit_enabled: Option<bool>,
    /// The IdP's SingleLogoutService URL, for IdPs configured by hand (empty string clears;
    /// metadata sets it automatically).
    #[serde(default)]
    pub slo_url: Option<String>,
    /// How logout messages reach the IdP's SingleLogoutService.
    #[serde(default)]
    pub slo_binding: Option<SsoBinding>,
}

/// The SAML binding AuthnRequests are sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SsoBinding {
    /// HTTP-Redirect (DEFLATE + query-string signature).
    Redirect,
    /// HTTP-POST (auto-submitted form, enveloped XML signature).
    Post,
}

impl SsoBinding {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            SsoBinding::Redirect => "redirect",
            SsoBinding::Post => "post",
        }
    }

    pub(crate) fn parse(s: &str) -> SsoBinding {
        if s == "post" {
            SsoBinding::Post
        } else {
            SsoBinding::Redirect
        }
    }
}

/// One IdP signing certificate with its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    /// Subject DN.
    pub subject: String,
    /// Expiry (RFC 3339).
    pub not_after: String,
    /// Days until expiry (negative when expired).
    pub expires_in_days: i64,
    /// SHA-256 fingerprint.
    pub sha256_fingerprint: String,
}

/// A SAML connection as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlConnectionView {
    /// Connection id.
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Enabled for sign-in.
    pub enabled: bool,
    /// Vendor preset.
    pub vendor: String,
    /// IdP entity ID.
    pub idp_entity_id: String,
    /// IdP SSO URL.
    pub sso_url: String,
    /// Binding used to send AuthnRequests.
    pub sso_binding: SsoBinding,
    /// IdP SLO URL.
    pub slo_url: Option<String>,
    /// Every trusted IdP signing certificate.
    pub idp_certificates: Vec<CertificateView>,
    /// Our SP entity ID for this connection.
    pub sp_entity_id: String,
    /// Our ACS URL.
    pub acs_url: String,
    /// Where our SP metadata can be downloaded.
    pub sp_metadata_url: String,
    /// AuthnRequests are signed.
    pub sign_requests: bool,
    /// Unknown users are created at first login.
    pub jit_enabled: bool,
    /// IdP-initiated logins accepted.
    pub allow_idp_initiated: bool,
    /// Default app for IdP-initiated logins.
    pub default_client_id: Option<String>,
    /// Default redirect for IdP-initiated logins.
    pub default_redirect_uri: Option<String>,
    /// Attribute mapping in force.
    pub attribute_mapping: AttributeMapping,
    /// Metadata URL it was created from.
    pub metadata_url: Option<String>,
}

/// The IdP-side settings a connection resolves to.
struct ResolvedIdp {
    entity_id: String,
    sso_url: String,
    sso_binding: SsoBinding,
    slo_url: Option<String>,
    slo_binding: SsoBinding,
    certificates: Vec<IdpCertificate>,
    metadata_url: Option<String>,
}

const MAX_METADATA_DOWNLOAD: u64 = 1 << 20;

/// Whether metadata may be fetched from `url`: https, or plain http to loopback (for tests).
fn metadata_url_allowed(url: &url::Url) -> bool {
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// Download IdP metadata (https, or http on loopback for tests), bounded in size and time.
/// Every redirect hop must pass the same rule as the URL itself (at most 3 hops): a loopback
/// URL that redirects to plain http elsewhere is refused, not followed.
pub fn fetch_metadata(url: &str) -> Result<Vec<u8>> {
    let parsed = url::Url::parse(url)
        .map_err(|_| GatehouseError::invalid("metadata_url", "not an absolute URL"))?;
    if !metadata_url_allowed(&parsed) {
        return Err(GatehouseError::invalid("metadata_url", "must be https"));
    }
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > 3 {
            attempt.error("more than 3 redirects")
        } else if !metadata_url_allowed(attempt.url()) {
            attempt.error("a redirect left https")
        } else {
            attempt.follow()
        }
    });
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(redirects)
        .build()
        .map_err(GatehouseError::internal)?;
    let response = client
        .get(parsed)
        .send()
        .map_err(|e| GatehouseError::invalid("metadata_url", format!("download failed: {e}")))?;
    if !response.status().is_success() {
        return Err(GatehouseError::invalid(
            "metadata_url",
            format!("download failed: HTTP {}", response.status()),
        ));
    }
    let mut body = Vec::new();
    use std::io::Read;
    response
        .take(MAX_METADATA_DOWNLOAD + 1)
        .read_to_end(&mut body)
        .map_err(|e| GatehouseError::invalid("metadata_url", format!("download failed: {e}")))?;
    if body.len() as u64 > MAX_METADATA_DOWNLOAD {
        return Err(GatehouseError::invalid(
            "metadata_url",
            "metadata larger than 1 MiB",
        ));
    }
    Ok(body)
}

fn resolve_idp(source: &IdpSource) -> Result<ResolvedIdp> {
    let (meta, metadata_url): (IdpMetadata, Option<String>) = match source {
        IdpSource::MetadataXml(xml) => (metadata::parse_idp_metadata(xml.as_bytes())?, None),
        IdpSource::MetadataUrl(url) => (
            metadata::parse_idp_metadata(&fetch_metadata(url)?)?,
            Some(url.clone()),
        ),
        IdpSource::Manual {
            entity_id,
            sso_url,
            certificate_pem,
        } => {
            if entity_id.trim().is_empty() || entity_id.len() > 1024 {
                return Err(GatehouseError::invalid("entity_id", "1-1024 characters"));
            }
            let parsed = url::Url::parse(sso_url)
                .map_err(|_| GatehouseError::invalid("sso_url", "not an absolute URL"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(GatehouseError::invalid("sso_url", "must be an http(s) URL"));
            }
            let cert = X509::from_pem(certificate_pem.as_bytes())
                .map_err(|_| GatehouseError::invalid("certificate_pem", "not a PEM certificate"))?;
            let cert = IdpCertificate::from_der(&cert.to_der()?)?;
            return Ok(ResolvedIdp {
                entity_id: entity_id.trim().to_owned(),
                sso_url: sso_url.clone(),
                sso_binding: SsoBinding::Redirect,
                slo_url: None,
                slo_binding: SsoBinding::Redirect,
                certificates: vec![cert],
                metadata_url: None,
            });
        }
    };
    // HTTP-Redirect is preferred (smaller, no script needed); HTTP-POST when it is all the IdP has.
    let (sso_url, sso_binding) = match (&meta.sso_redirect_url, &meta.sso_post_url) {
        (Some(url), _) => (url.clone(), SsoBinding::Redirect),
        (None, Some(url)) => (url.clone(), SsoBinding::Post),
        (None, None) => {
            return Err(GatehouseError::invalid(
                "metadata",
                "no SingleSignOnService",
            ))
        }
    };
    Ok(ResolvedIdp {
        entity_id: meta.entity_id,
        sso_url,
        sso_binding,
        slo_binding: if meta.slo_redirect_url.is_some() {
            SsoBinding::Redirect
        } else {
            SsoBinding::Post
        },
        slo_url: meta.slo_redirect_url.or(meta.slo_post_url),
        certificates: meta.signing_certificates,
        metadata_url,
    })
}

fn parse_vendor(vendor: &str) -> Result<IdpVendor> {
    vendor.parse::<IdpVendor>().map_err(|_| {
        GatehouseError::invalid("vendor", "one of okta, entra-id, google-workspace, onelogin, jumpcloud, adfs, ping, auth0, keycloak, generic")
    })
}

/// A fresh RSA-2048 key and a self-signed certificate valid for ten years (SP keys).
pub(crate) fn self_signed(
    common_name: &str,
    now: chrono::DateTime<chrono::Utc>,
    serial: &[u8],
) -> Result<(PKey<Private>, X509)> {
    Ok(saml_core::idp::self_signed(
        common_name,
        now,
        10 * 365,
        serial,
    )?)
}

fn certs_to_json(certs: &[IdpCertificate]) -> String {
    serde_json::to_string(&certs.iter().map(|c| B64.encode(&c.der)).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

/// Decode the stored certificate list.
pub(crate) fn certs_from_json(text: &str) -> Result<Vec<IdpCertificate>> {
    let list: Vec<String> = serde_json::from_str(text).map_err(GatehouseError::internal)?;
    list.iter()
        .map(|b64| {
            let der = B64.decode(b64).map_err(GatehouseError::internal)?;
            Ok(IdpCertificate::from_der(&der)?)
        })
        .collect()
}

impl Gatehouse {
    pub(crate) fn sp_entity_id(&self, connection_id: &str) -> String {
        self.url(&format!("/saml/{connection_id}/metadata"))
    }

    pub(crate) fn acs_url(&self, connection_id: &str) -> String {
        self.url(&format!("/saml/{connection_id}/acs"))
    }

    /// Create a SAML connection for a tenant, with fresh SP signing and encryption keys.
    pub fn create_saml_connection(
        &self,
        call: &Call,
        tenant: &str,
        input: NewSamlConnection,
    ) -> Result<SamlConnectionView> {
        let name = crate::util::label("name", &input.name)?;
        let vendor = parse_vendor(&input.vendor)?;
        let idp = resolve_idp(&input.idp)?;
        let id = format!("conn_{}", self.random_hex(12));
        let mut serials = [[0u8; 16]; 2];
        self.with_entropy(|e| serials.iter_mut().for_each(|s| e.fill(s)));
        let (sign_key, sign_cert) =
            self_signed(&format!("Gatehouse SP signing {id}"), call.now, &serials[0])?;
        let (enc_key, enc_cert) = self_signed(
            &format!("Gatehouse SP encryption {id}"),
            call.now,
            &serials[1],
        )?;
        let seal = |key: &PKey<Private>| -> Result<String> {
            let pem = key.private_key_to_pem_pkcs8()?;
            self.with_entropy(|e| self.config.secrets.seal(&pem, e))
        };
        let mapping = input
            .attribute_mapping
            .clone()
            .unwrap_or_else(|| vendor.preset());
        let row = models::SamlConnection {
            id: id.clone(),
            tenant_id: String::new(),
            name,
            enabled: true,
            vendor: vendor.as_str().to_owned(),
            idp_entity_id: idp.entity_id,
            sso_url: idp.sso_url,
            slo_url: idp.slo_url,
            idp_certificates: certs_to_json(&idp.certificates),
            metadata_url: idp.metadata_url,
            sp_entity_id: self.sp_entity_id(&id),
            sp_signing_key: seal(&sign_key)?,
            sp_signing_cert: String::from_utf8_lossy(&sign_cert.to_pem()?).into_owned(),
            sp_encryption_key: seal(&enc_key)?,
            sp_encryption_cert: String::from_utf8_lossy(&enc_cert.to_pem()?).into_owned(),
            sign_requests: input.sign_requests,
            allow_idp_initiated: input.allow_idp_initiated,
            default_client_id: input.default_client_id.clone(),
            default_redirect_uri: input.default_redirect_uri.clone(),
            attribute_mapping: serde_json::to_string(&mapping).map_err(GatehouseError::internal)?,
            created_at: call.now.timestamp(),
            updated_at: call.now.timestamp(),
            sso_binding: idp.sso_binding.as_str().to_owned(),
            jit_enabled: input.jit_enabled,
            slo_binding: idp.slo_binding.as_str().to_owned(),
        };
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            let row = models::SamlConnection {
                tenant_id: t.id.clone(),
                ..row
            };
            check_idp_initiated_target(conn, &row)?;
            queries::insert_saml_connection(conn, &row)?;
            self.audit_config(
                conn,
                call,
                &t.id,
                "saml_connection",
                &row.id,
                "created",
                &format!("idp={}", row.idp_entity_id),
            )?;
            self.view_connection(&row, call.now)
        })
    }

    /// The connections of a tenant.
    pub fn list_saml_connections(
        &self,
        call: &Call,
        tenant: &str,
    ) -> Result<Vec<SamlConnectionView>> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            queries::list_saml_connections(conn, &t.id)?
                .iter()
                .map(|r| self.view_connection(r, call.now))
                .collect()
        })
    }

    /// One connection, including certificate expiry.
    pub fn show_saml_connection(&self, call: &Call, id: &str) -> Result<SamlConnectionView> {
        let row = self.transaction(|conn| find_connection(conn, id))?;
        self.view_connection(&row, call.now)
    }

    /// Change a connection.
    pub fn update_saml_connection(
        &self,
        call: &Call,
        id: &str,
        update: SamlConnectionUpdate,
    ) -> Result<SamlConnectionView> {
        let resolved = update.idp.as_ref().map(resolve_idp).transpose()?;
        let vendor = update.vendor.as_deref().map(parse_vendor).transpose()?;
        self.transaction(|conn| {
            let mut row = find_connection(conn, id)?;
            let mut changed = Vec::new();
            if let Some(name) = &update.name {
                row.name = crate::util::label("name", name)?;
                changed.push("name");
            }
            if let Some(enabled) = update.enabled {
                row.enabled = enabled;
                changed.push("enabled");
            }
            if let Some(v) = update.allow_idp_initiated {
                row.allow_idp_initiated = v;
                changed.push("allow_idp_initiated");
            }
            if let Some(v) = &update.default_client_id {
                row.default_client_id = Some(v.clone()).filter(|s| !s.is_empty());
                changed.push("default_client_id");
            }
            if let Some(v) = &update.default_redirect_uri {
                row.default_redirect_uri = Some(v.clone()).filter(|s| !s.is_empty());
                changed.push("default_redirect_uri");
            }
            if let Some(v) = update.jit_enabled {
                row.jit_enabled = v;
                changed.push("jit_enabled");
            }
            if let Some(b) = update.sso_binding {
                row.sso_binding = b.as_str().to_owned();
                changed.push("sso_binding");
            }
            if let Some(url) = &update.slo_url {
                if !url.is_empty() && !url.starts_with("https://") && !url.starts_with("http://") {
                    return Err(GatehouseError::invalid("slo_url", "must be an http(s) URL"));
                }
                row.slo_url = Some(url.clone()).filter(|u| !u.is_empty());
                changed.push("slo_url");
            }
            if let Some(b) = update.slo_binding {
                row.slo_binding = b.as_str().to_owned();
                changed.push("slo_binding");
            }
            if let Some(v) = update.sign_requests {
                row.sign_requests = v;
                changed.push("sign_requests");
            }
            if let Some(v) = vendor {
                row.vendor = v.as_str().to_owned();
                if update.attribute_mapping.is_none() {
                    row.attribute_mapping =
                        serde_json::to_string(&v.preset()).map_err(GatehouseError::internal)?;
                }
                changed.push("vendor");
            }
            if let Some(m) = &update.attribute_mapping {
                row.attribute_mapping =
                    serde_json::to_string(m).map_err(GatehouseError::internal)?;
                changed.push("attribute_mapping");
            }
            if let Some(idp) = &resolved {
                row.idp_entity_id = idp.entity_id.clone();
                row.sso_url = idp.sso_url.clone();
                row.slo_url = idp.slo_url.clone();
                row.slo_binding = idp.slo_binding.as_str().to_owned();
                row.idp_certificates = certs_to_json(&idp.certificates);
                row.sso_binding = idp.sso_binding.as_str().to_owned();
                if idp.metadata_url.is_some() {
                    row.metadata_url = idp.metadata_url.clone();
                }
                changed.push("idp");
            }
            check_idp_initiated_target(conn, &row)?;
            row.updated_at = call.now.timestamp();
            queries::update_saml_connection(conn, &row)?;
            self.audit_config(
                conn,
                call,
                &row.tenant_id,
                "saml_connection",
                &row.id,
                "updated",
                &changed.join(","),
            )?;
            self.view_connection(&row, call.now)
        })
    }

    /// Re-read the IdP's metadata from the URL the connection was created from (certificate
    /// rollover: every signing certificate listed is trusted from now on, dropped ones no longer).
    pub fn refresh_saml_metadata(&self, call: &Call, id: &str) -> Result<SamlConnectionView> {
        let url = self
            .transaction(|conn| find_connection(conn, id))?
            .metadata_url
            .ok_or_else(|| {
                GatehouseError::invalid(
                    "metadata_url",
                    "this connection was not created from a metadata URL",
                )
            })?;
        self.update_saml_connection(
            call,
            id,
            SamlConnectionUpdate {
                idp: Some(IdpSource::MetadataUrl(url)),
                ..Default::default()
            },
        )
    }

    /// Delete a connection (users it created stay, and can be linked to another connection later).
    pub fn delete_saml_connection(&self, call: &Call, id: &str) -> Result<()> {
        self.transaction(|conn| {
            let row = find_connection(conn, id)?;
            queries::delete_saml_connection(conn, id)?;
            self.audit_config(
                conn,
                call,
                &row.tenant_id,
                "saml_connection",
                id,
                "deleted",
                &row.name,
            )
        })
    }

    /// The SP metadata XML to give the IdP for this connection.
    pub fn sp_metadata(&self, id: &str) -> Result<String> {
        let row = self.transaction(|conn| find_connection(conn, id))?;
        let der = |pem: &str| -> Result<Vec<u8>> { Ok(X509::from_pem(pem.as_bytes())?.to_der()?) };
        Ok(metadata::render_sp_metadata(&metadata::SpMetadata {
            entity_id: row.sp_entity_id.clone(),
            acs_url: self.acs_url(&row.id),
            slo_url: Some(self.url(&format!("/saml/{}/slo", row.id))),
            signing_certificate_der: der(&row.sp_signing_cert)?,
            encryption_certificate_der: der(&row.sp_encryption_cert)?,
            authn_requests_signed: row.sign_requests,
            name_id_formats: vec![
                "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
                "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
            ],
        }))
    }

    fn view_connection(
        &self,
        row: &models::SamlConnection,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<SamlConnectionView> {
        let certs = certs_from_json(&row.idp_certificates)?;
        Ok(SamlConnectionView {
            id: row.id.clone(),
            tenant_id: row.tenant_id.clone(),
            name: row.name.clone(),
            enabled: row.enabled,
            vendor: row.vendor.clone(),
            idp_entity_id: row.idp_entity_id.clone(),
            sso_url: row.sso_url.clone(),
            sso_binding: SsoBinding::parse(&row.sso_binding),
            slo_url: row.slo_url.clone(),
            idp_certificates: certs
                .iter()
                .map(|c| CertificateView {
                    subject: c.subject.clone(),
                    not_after: rfc3339(c.not_after.timestamp()),
                    expires_in_days: (c.not_after - now).num_days(),
                    sha256_fingerprint: c.sha256_fingerprint.clone(),
                })
                .collect(),
            sp_entity_id: row.sp_entity_id.clone(),
            acs_url: self.acs_url(&row.id),
            sp_metadata_url: self.sp_entity_id(&row.id),
            sign_requests: row.sign_requests,
            jit_enabled: row.jit_enabled,
            allow_idp_initiated: row.allow_idp_initiated,
            default_client_id: row.default_client_id.clone(),
            default_redirect_uri: row.default_redirect_uri.clone(),
            attribute_mapping: serde_json::from_str(&row.attribute_mapping)
                .map_err(GatehouseError::internal)?,
            metadata_url: row.metadata_url.clone(),
        })
    }
}

pub(crate) fn find_connection(
    conn: &mut storage::Conn,
    id: &str,
) -> Result<models::SamlConnection> {
    queries::find_saml_connection(conn, id)?.ok_or(GatehouseError::NotFound { what: "connection" })
}

/// IdP-initiated logins need a registered app and one of its exact redirect URIs: RelayState from
/// the IdP is never used as a redirect target (no open redirect).
fn check_idp_initiated_target(
    conn: &mut storage::Conn,
    row: &models::SamlConnection,
) -> Result<()> {
    if !row.allow_idp_initiated {
        return Ok(());
    }
    let (Some(client_id), Some(uri)) = (&row.default_client_id, &row.default_redirect_uri) else {
        return Err(GatehouseError::invalid(
            "allow_idp_initiated",
            "needs default_client_id and default_redirect_uri",
        ));
    };
    let client = queries::find_client(conn, client_id)?
        .ok_or(GatehouseError::invalid("default_client_id", "no such app"))?;
    if !crate::util::parse_json_list(&client.redirect_uris)
        .iter()
        .any(|u| u == uri)
    {
        return Err(GatehouseError::invalid(
            "default_redirect_uri",
            "not registered for that app",
        ));
    }
    Ok(())
}
