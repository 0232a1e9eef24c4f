//! The load generator's own SAML identity provider: saml-core's `TestIdentityProvider` with a
//! fresh RSA-2048 key, plus the IdP side of the HTTP-Redirect binding (decode the AuthnRequest,
//! check Gatehouse's signature on it, answer with a signed Response).

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use gatehouse_types::Entropy;
use openssl::pkey::{PKey, Public};
use saml_core::authn_request::{self, MessageKind, RedirectLimits};
use saml_core::idp::{ResponseParams, TestIdentityProvider};

/// The generator's IdP and the certificate Gatehouse pins for it.
pub struct LoadIdp {
    idp: TestIdentityProvider,
    /// The signing certificate (PEM) for the connection's `IdpSource::Manual`.
    pub certificate_pem: String,
}

/// What the IdP learnt from one AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The AuthnRequest's ID (the Response's InResponseTo).
    pub request_id: String,
    /// RelayState to send back (Gatehouse's login-flow id).
    pub relay_state: String,
}

/// One person the IdP signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// E-mail, also the NameID.
    pub email: String,
    /// Groups asserted.
    pub groups: Vec<String>,
}

impl LoadIdp {
    /// A new IdP with its own RSA-2048 key and a self-signed certificate; `serial` comes from
    /// the caller's entropy.
    pub fn generate(
        entity_id: &str,
        now: DateTime<Utc>,
        serial: &[u8; 16],
    ) -> anyhow::Result<Self> {
        let idp = TestIdentityProvider::generate(entity_id, now, 1, serial)?;
        let certificate_pem = idp.certificate_pem()?;
        Ok(LoadIdp {
            idp,
            certificate_pem,
        })
    }

    /// The IdP's entity ID.
    pub fn entity_id(&self) -> &str {
        self.idp.entity_id()
    }

    /// A signed Response for `person`, base64 as the HTTP-POST binding carries it. The RSA
    /// signature is computed here, in the generator, before the timed phase.
    pub fn respond(
        &self,
        request: &ReceivedRequest,
        acs_url: &str,
        audience: &str,
        person: &Person,
        now: DateTime<Utc>,
        entropy: &mut dyn Entropy,
    ) -> anyhow::Result<String> {
        let mut params = ResponseParams::new(acs_url, audience, &person.email);
        params.in_response_to = Some(request.request_id.clone());
        // Long enough for the whole run (Gatehouse's login flows live 10 minutes).
        params.lifetime = chrono::Duration::minutes(10);
        params.attributes = vec![
            ("email".into(), vec![person.email.clone()]),
            ("firstName".into(), vec!["Load".into()]),
            ("lastName".into(), vec!["Test".into()]),
            ("groups".into(), person.groups.clone()),
        ];
        let xml = self.idp.response(&params, now, entropy)?;
        Ok(B64.encode(xml))
    }
}

/// The IdP's SSO endpoint for the HTTP-Redirect binding: decode the AuthnRequest from the URL
/// Gatehouse redirected the browser to, and check Gatehouse's signature on it as a real IdP
/// would.
pub fn receive(
    redirect_url: &str,
    sp_signing_key: &PKey<Public>,
) -> anyhow::Result<ReceivedRequest> {
    let url = url::Url::parse(redirect_url).context("the IdP redirect is not a URL")?;
    let query = url.query().context("the IdP redirect has no query")?;
    let decoded = authn_request::decode_redirect(query, &RedirectLimits::DEFAULT)?;
    if decoded.kind != MessageKind::Request {
        bail!("the IdP redirect carries no SAMLRequest");
    }
    authn_request::verify_redirect_signature(query, std::slice::from_ref(sp_signing_key))
        .context("Gatehouse's AuthnRequest signature")?;
    let root = saml_core::xml::parse(&decoded.xml, &Default::default())?;
    if !root.is(authn_request::NS_PROTOCOL, "AuthnRequest") {
        bail!("the SAMLRequest is not an AuthnRequest");
    }
    let request_id = root
        .attr("ID")
        .context("AuthnRequest without ID")?
        .to_owned();
    let relay_state = decoded
        .relay_state
        .context("AuthnRequest without RelayState (Gatehouse's flow id)")?;
    Ok(ReceivedRequest {
        request_id,
        relay_state,
    })
}
