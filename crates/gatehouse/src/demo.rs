//! Demo mode: a tenant (`acme`), an app (`demo-app`) and a bundled test IdP, so a reader can
//! sign in within a minute of starting the server. The test IdP is a real SAML IdP: it verifies
//! the signed AuthnRequest, signs a real Response with its own key, and the response goes
//! through exactly the same ACS validation as any customer IdP's. Demo mode is refused in
//! production (see `settings`).

use crate::connections::{IdpSource, NewSamlConnection, SamlConnectionUpdate};
use crate::error::{GatehouseError, Result};
use crate::{Call, Gatehouse, NewClient, NewTenant};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml_core::authn_request::{self, MessageKind, RedirectLimits};
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use std::sync::Arc;
use storage::queries;

/// The demo tenant's slug.
pub const DEMO_TENANT: &str = "acme";
/// The demo app's client id.
pub const DEMO_CLIENT_ID: &str = "demo-app";
/// The demo app's client secret (demo only; printed in the README).
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
const DEMO_CONNECTION_NAME: &str = "Demo IdP";

/// A person the demo IdP can sign in.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// E-mail (also the NameID).
    pub email: &'static str,
    /// Given name.
    pub first_name: &'static str,
    /// Family name.
    pub last_name: &'static str,
    /// Groups asserted.
    pub groups: &'static [&'static str],
}

/// The demo IdP's directory.
pub const DEMO_USERS: [DemoUser; 2] = [
    DemoUser {
        email: "alice@acme.test",
        first_name: "Alice",
        last_name: "Admin",
        groups: &["Acme-Admins", "Acme-Sales-UAE"],
    },
    DemoUser {
        email: "bob@acme.test",
        first_name: "Bob",
        last_name: "Seller",
        groups: &["Acme-Sales-India"],
    },
];

/// What demo setup created.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    /// Tenant slug.
    pub tenant: String,
    /// Connection id of the demo IdP.
    pub connection_id: String,
    /// Demo users' e-mail addresses.
    pub users: Vec<String>,
}

/// The running demo IdP (its key lives only in memory; the connection's certificate is
/// refreshed at every start).
pub(crate) struct DemoIdp {
    idp: TestIdentityProvider,
    connection_id: String,
}

/// An AuthnRequest the demo IdP received.
#[derive(Debug, Clone)]
pub struct DemoAuthnRequest {
    /// The request's ID (becomes InResponseTo).
    pub request_id: String,
    /// RelayState to return.
    pub relay_state: Option<String>,
}

impl Gatehouse {
    /// Create (or refresh) the demo tenant, app, IdP and connection.
    pub fn setup_demo(&self, call: &Call) -> Result<DemoInfo> {
        if !self.config.demo_idp {
            return Err(GatehouseError::invalid("demo", "demo mode is not enabled"));
        }
        let mut serial = [0u8; 16];
        self.with_entropy(|e| e.fill(&mut serial));
        let idp = TestIdentityProvider::generate(&self.url("/demo/idp"), call.now, 365, &serial)?;
        let cert_pem = idp.certificate_pem()?;

        if let Err(GatehouseError::NotFound { .. }) = self.show_tenant(DEMO_TENANT) {
            let mut t = NewTenant::new(DEMO_TENANT, "Acme Corp (demo)");
            t.domains = vec!["acme.test".into()];
            self.create_tenant(call, t)?;
        }
        let has_client = self
            .store
            .transaction(|conn| queries::find_client(conn, DEMO_CLIENT_ID))?
            .is_some();
        if !has_client {
            self.register_client(
                call,
                NewClient {
                    name: "Demo app".into(),
                    redirect_uris: vec![self.url("/demo/app/callback")],
                    public: false,
                    backchannel_logout_uri: None,
                    post_logout_redirect_uris: vec![],
                    client_id: Some(DEMO_CLIENT_ID.into()),
                    client_secret: Some(DEMO_CLIENT_SECRET.into()),
                },
            )?;
        }
        let source = IdpSource::Manual {
            entity_id: idp.entity_id().to_owned(),
            sso_url: self.url("/demo/idp/sso"),
            certificate_pem: cert_pem,
        };
        let existing = self
            .list_saml_connections(call, DEMO_TENANT)?
            .into_iter()
            .find(|c| c.name == DEMO_CONNECTION_NAME);
        let connection = match existing {
            Some(c) => self.update_saml_connection(
                call,
                &c.id,
                SamlConnectionUpdate {
                    idp: Some(source),
                    ..Default::default()
                },
            )?,
            None => self.create_saml_connection(
                call,
                DEMO_TENANT,
                NewSamlConnection::new(DEMO_CONNECTION_NAME, "generic", source),
            )?,
        };
        if let Ok(mut slot) = self.demo_idp.lock() {
            *slot = Some(Arc::new(DemoIdp {
                idp,
                connection_id: connection.id.clone(),
            }));
        }
        Ok(DemoInfo {
            tenant: DEMO_TENANT.into(),
            connection_id: connection.id,
            users: DEMO_USERS.iter().map(|u| u.email.to_owned()).collect(),
        })
    }

    fn demo(&self) -> Result<Arc<DemoIdp>> {
        self.demo_idp
            .lock()
            .ok()
            .and_then(|slot| slot.clone())
            .ok_or(GatehouseError::NotFound { what: "demo IdP" })
    }

    /// The demo IdP's SSO endpoint: decode the AuthnRequest (HTTP-Redirect) and verify its
    /// signature with the demo connection's SP certificate, as a real IdP would.
    pub fn demo_idp_request(&self, query: &str) -> Result<DemoAuthnRequest> {
        let demo = self.demo()?;
        let decoded = authn_request::decode_redirect(query, &RedirectLimits::DEFAULT)?;
        if decoded.kind != MessageKind::Request {
            return Err(GatehouseError::invalid(
                "SAMLRequest",
                "expected an AuthnRequest",
            ));
        }
        let row = self
            .transaction(|conn| crate::connections::find_connection(conn, &demo.connection_id))?;
        if row.sign_requests {
            let cert = openssl::x509::X509::from_pem(row.sp_signing_cert.as_bytes())?;
            authn_request::verify_redirect_signature(query, &[cert.public_key()?])?;
        }
        let root = saml_core::xml::parse(&decoded.xml, &Default::default())?;
        if !root.is(saml_core::authn_request::NS_PROTOCOL, "AuthnRequest") {
            return Err(GatehouseError::invalid(
                "SAMLRequest",
                "expected an AuthnRequest",
            ));
        }
        let request_id = root
            .attr("ID")
            .ok_or_else(|| GatehouseError::invalid("SAMLRequest", "no ID"))?
            .to_owned();
        Ok(DemoAuthnRequest {
            request_id,
            relay_state: decoded.relay_state,
        })
    }

    /// Sign `user` in at the demo IdP: returns the auto-submitting HTML form that POSTs the
    /// signed Response to the demo connection's ACS.
    pub fn demo_idp_respond(&self, call: &Call, query: &str, email: &str) -> Result<String> {
        let request = self.demo_idp_request(query)?;
        let demo = self.demo()?;
        let user = DEMO_USERS
            .iter()
            .find(|u| u.email == email)
            .ok_or(GatehouseError::NotFound { what: "demo user" })?;
        let acs = self.acs_url(&demo.connection_id);
        let mut params =
            ResponseParams::new(&acs, &self.sp_entity_id(&demo.connection_id), user.email);
        params.in_response_to = Some(request.request_id);
        params.attributes = vec![
            ("email".into(), vec![user.email.into()]),
            ("firstName".into(), vec![user.first_name.into()]),
            ("lastName".into(), vec![user.last_name.into()]),
            (
                "groups".into(),
                user.groups.iter().map(|g| g.to_string()).collect(),
            ),
        ];
        let xml = self.with_entropy(|e| demo.idp.response(&params, call.now, e))?;
        Ok(authn_request::post_form_html(
            &acs,
            MessageKind::Response,
            &B64.encode(xml),
            request.relay_state.as_deref(),
        ))
    }
}
