//! Setting the target up through the facade on the server's own database: tenants with a routed
//! e-mail domain, one confidential app, and per tenant a SAML connection (`IdpSource::Manual`)
//! trusting the generator's IdP certificate.

use crate::idp::LoadIdp;
use anyhow::Context;
use gatehouse::{Call, Gatehouse, NewClient, NewSamlConnection, NewTenant};
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;

/// The redirect URI the load test's app registers. Nothing listens there: the generator reads
/// the code from the `Location` header and never follows it.
pub const REDIRECT_URI: &str = "http://127.0.0.1/loadtest/callback";

/// One tenant as the generator drives it.
#[derive(Clone)]
pub struct TenantTarget {
    /// Tenant slug (the ID token's `tenant` claim).
    pub slug: String,
    /// E-mail domain routed to the tenant.
    pub domain: String,
    /// Its SAML connection.
    pub connection_id: String,
    /// The connection's ACS URL.
    pub acs_url: String,
    /// The connection's SP entity ID (the Audience).
    pub sp_entity_id: String,
    /// The connection's AuthnRequest-signing key, as its IdP would pin it.
    pub sp_signing_key: PKey<Public>,
}

/// What the timed phase needs to know about the target.
#[derive(Clone)]
pub struct Target {
    /// The app's client id.
    pub client_id: String,
    /// The app's secret (client_secret_basic).
    pub client_secret: String,
    /// The app's redirect URI.
    pub redirect_uri: String,
    /// The issuer (`iss` of ID tokens).
    pub issuer: String,
    /// Tenants, each with its connection.
    pub tenants: Vec<TenantTarget>,
}

/// Create `tenants` tenants named `lt-<run_id>-<i>`, an app and the connections.
pub fn setup(
    gh: &Gatehouse,
    idp: &LoadIdp,
    run_id: &str,
    tenants: usize,
    call: &Call,
) -> anyhow::Result<Target> {
    let credentials = gh
        .register_client(
            call,
            NewClient {
                name: format!("load test {run_id}"),
                redirect_uris: vec![REDIRECT_URI.to_owned()],
                public: false,
                backchannel_logout_uri: None,
                post_logout_redirect_uris: vec![],
                client_id: None,
                client_secret: None,
            },
        )
        .context("registering the load-test app")?;
    let client_secret = credentials
        .client_secret
        .context("a confidential client got no secret")?;
    let mut out = Vec::with_capacity(tenants);
    for i in 0..tenants {
        let slug = format!("lt-{run_id}-{i}");
        let domain = format!("{slug}.loadtest.test");
        let mut t = NewTenant::new(&slug, &format!("Load test {run_id} #{i}"));
        t.domains = vec![domain.clone()];
        gh.create_tenant(call, t)
            .with_context(|| format!("creating tenant {slug}"))?;
        // Built from JSON as the REST API does, so fields added later take their defaults.
        let input: NewSamlConnection = serde_json::from_value(serde_json::json!({
            "name": "Load-test IdP",
            "vendor": "generic",
            "idp": { "manual": {
                "entity_id": idp.entity_id(),
                "sso_url": "http://127.0.0.1/loadtest/idp/sso",
                "certificate_pem": idp.certificate_pem,
            }},
            "sign_requests": true,
        }))?;
        let view = gh
            .create_saml_connection(call, &slug, input)
            .with_context(|| format!("creating the SAML connection of {slug}"))?;
        let row = gh
            .store()
            .transaction(|conn| storage::queries::find_saml_connection(conn, &view.id))?
            .context("the new connection is not in the database")?;
        let sp_signing_key = X509::from_pem(row.sp_signing_cert.as_bytes())?.public_key()?;
        out.push(TenantTarget {
            slug,
            domain,
            connection_id: view.id,
            acs_url: view.acs_url,
            sp_entity_id: view.sp_entity_id,
            sp_signing_key,
        });
    }
    Ok(Target {
        client_id: credentials.client.client_id,
        client_secret,
        redirect_uri: REDIRECT_URI.to_owned(),
        issuer: gh.issuer(),
        tenants: out,
    })
}
