//! A minimal but real SAML 2.0 identity provider: it builds, signs and optionally encrypts
//! `Response`s. Used by the server's demo mode and by tests; what it produces goes through the
//! very same [`crate::response::validate_response`] as any third-party IdP's output.

use crate::dsig::{sign_enveloped, TrustedKeys};
use crate::encryption::{encrypt_assertion, ContentAlgorithm, KeyTransport};
use crate::response::{CM_BEARER, SAMLP_NS, SAML_NS, STATUS_SUCCESS};
use crate::xml::Limits;
use crate::SamlError;
use chrono::{DateTime, SecondsFormat, Utc};
use gatehouse_types::{random_token, Entropy};
use openssl::pkey::{PKey, Private, Public};
use openssl::x509::X509;

/// An IdP identity: entity ID, RSA signing key and its certificate.
#[derive(Clone)]
pub struct TestIdentityProvider {
    entity_id: String,
    signing_key: PKey<Private>,
    certificate: X509,
}

impl std::fmt::Debug for TestIdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdentityProvider")
            .field("entity_id", &self.entity_id)
            .finish_non_exhaustive()
    }
}

/// Encrypt the assertion for a service provider.
#[derive(Clone)]
pub struct EncryptFor {
    /// The SP's encryption public key.
    pub recipient: PKey<Public>,
    /// Content algorithm.
    pub content: ContentAlgorithm,
    /// Key transport algorithm.
    pub transport: KeyTransport,
}

impl std::fmt::Debug for EncryptFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptFor")
            .field("content", &self.content)
            .field("transport", &self.transport)
            .finish()
    }
}

/// What one Response should say.
#[derive(Debug, Clone)]
pub struct ResponseParams {
    /// The SP's ACS URL (Destination and Recipient).
    pub acs_url: String,
    /// The SP entity ID (Audience).
    pub audience: String,
    /// The AuthnRequest ID answered, or `None` for IdP-initiated.
    pub in_response_to: Option<String>,
    /// Subject NameID.
    pub name_id: String,
    /// NameID format URI.
    pub name_id_format: String,
    /// AuthnContextClassRef.
    pub authn_context_class: String,
    /// Attributes (name, values) in order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// How long the assertion is valid after `now`.
    pub lifetime: chrono::Duration,
    /// Sign the Assertion.
    pub sign_assertion: bool,
    /// Sign the Response.
    pub sign_response: bool,
    /// Encrypt the (signed) assertion.
    pub encrypt: Option<EncryptFor>,
    /// When the user authenticated at the IdP (`AuthnInstant`); `None` means `now`.
    pub authn_instant: Option<DateTime<Utc>>,
}

impl ResponseParams {
    /// An assertion-signed, unencrypted response for `name_id` with an e-mail NameID format,
    /// password-protected-transport context, no attributes and five minutes of validity.
    pub fn new(acs_url: &str, audience: &str, name_id: &str) -> Self {
        ResponseParams {
            acs_url: acs_url.to_owned(),
            audience: audience.to_owned(),
            in_response_to: None,
            name_id: name_id.to_owned(),
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_owned(),
            authn_context_class:
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".to_owned(),
            attributes: Vec::new(),
            lifetime: chrono::Duration::minutes(5),
            sign_assertion: true,
            sign_response: false,
            encrypt: None,
            authn_instant: None,
        }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl TestIdentityProvider {
    /// An IdP with this entity ID and RSA key + certificate.
    pub fn new(
        entity_id: &str,
        signing_key: PKey<Private>,
        certificate: X509,
    ) -> Result<Self, SamlError> {
        let cert_key = certificate.public_key().map_err(|_| SamlError::BadKey {
            detail: "certificate".into(),
        })?;
        if !signing_key.public_eq(&cert_key) {
            return Err(SamlError::BadKey {
                detail: "key does not match certificate".into(),
            });
        }
        Ok(TestIdentityProvider {
            entity_id: entity_id.to_owned(),
            signing_key,
            certificate,
        })
    }

    /// An IdP with a fresh RSA-2048 key and a self-signed certificate valid from a day before
    /// `now` for `validity_days` (demo mode, tests, load generation).
    pub fn generate(
        entity_id: &str,
        now: DateTime<Utc>,
        validity_days: i64,
        serial: &[u8],
    ) -> Result<Self, SamlError> {
        let (key, cert) = self_signed(entity_id, now, validity_days, serial)?;
        Self::new(entity_id, key, cert)
    }

    /// The signing certificate as PEM (what the SP is configured to trust).
    pub fn certificate_pem(&self) -> Result<String, SamlError> {
        let pem = self.certificate.to_pem().map_err(|_| SamlError::BadKey {
            detail: "certificate".into(),
        })?;
        String::from_utf8(pem).map_err(|_| SamlError::BadKey {
            detail: "certificate".into(),
        })
    }

    /// From PEM-encoded private key and certificate.
    pub fn from_pem(entity_id: &str, key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, SamlError> {
        let key = PKey::private_key_from_pem(key_pem).map_err(|_| SamlError::BadKey {
            detail: "private key PEM".into(),
        })?;
        let cert = X509::from_pem(cert_pem).map_err(|_| SamlError::BadKey {
            detail: "certificate PEM".into(),
        })?;
        Self::new(entity_id, key, cert)
    }

    /// The IdP entity ID.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The signing certificate (what an SP pins).
    pub fn certificate(&self) -> &X509 {
        &self.certificate
    }

    /// The trust anchor an SP needs for this IdP.
    pub fn trusted_keys(&self) -> Result<TrustedKeys, SamlError> {
        let key = self
            .certificate
            .public_key()
            .map_err(|_| SamlError::BadKey {
                detail: "certificate".into(),
            })?;
        TrustedKeys::from_public_keys(vec![key])
    }

    /// Builds a complete, signed (and optionally encrypted) `samlp:Response` document.
    pub fn response(
        &self,
        params: &ResponseParams,
        now: DateTime<Utc>,
        entropy: &mut dyn Entropy,
    ) -> Result<String, SamlError> {
        let response_id = format!("_{}", random_token(entropy, 16));
        let assertion_id = format!("_{}", random_token(entropy, 16));
        let session_index = format!("_{}", random_token(entropy, 12));
        let issue = ts(now);
        let not_before = ts(now - chrono::Duration::seconds(30));
        let not_after = ts(now + params.lifetime);
        let session_end = ts(now + chrono::Duration::hours(8));
        let authn_instant = ts(params.authn_instant.unwrap_or(now));
        let issuer = escape(&self.entity_id);
        let acs = escape(&params.acs_url);
        let irt = params
            .in_response_to
            .as_deref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();

        let mut attrs = String::new();
        if !params.attributes.is_empty() {
            attrs.push_str("\n    <saml:AttributeStatement>");
            for (name, values) in &params.attributes {
                attrs.push_str(&format!(
                    "\n      <saml:Attribute Name=\"{}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified\">",
                    escape(name)
                ));
                for v in values {
                    attrs.push_str(&format!("\n        <saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>", escape(v)));
                }
                attrs.push_str("\n      </saml:Attribute>");
            }
            attrs.push_str("\n    </saml:AttributeStatement>");
        }
        let assertion = format!(
            r#"<saml:Assertion xmlns:saml="{SAML_NS}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{assertion_id}" Version="2.0" IssueInstant="{issue}">
    <saml:Issuer>{issuer}</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="{nif}">{name_id}</saml:NameID>
      <saml:SubjectConfirmation Method="{CM_BEARER}">
        <saml:SubjectConfirmationData{irt} NotOnOrAfter="{not_after}" Recipient="{acs}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_after}">
      <saml:AudienceRestriction>
        <saml:Audience>{audience}</saml:Audience>
      </saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="{authn_instant}" SessionIndex="{session_index}" SessionNotOnOrAfter="{session_end}">
      <saml:AuthnContext>
        <saml:AuthnContextClassRef>{class}</saml:AuthnContextClassRef>
      </saml:AuthnContext>
    </saml:AuthnStatement>{attrs}
  </saml:Assertion>"#,
            nif = escape(&params.name_id_format),
            name_id = escape(&params.name_id),
            audience = escape(&params.audience),
            class = escape(&params.authn_context_class),
        );
        let limits = Limits::default();
        let mut assertion = if params.sign_assertion {
            sign_enveloped(
                &assertion,
                &assertion_id,
                &self.signing_key,
                Some(&self.certificate),
                &limits,
            )?
        } else {
            assertion
        };
        if let Some(enc) = &params.encrypt {
            assertion = encrypt_assertion(
                &assertion,
                &enc.recipient,
                enc.content,
                enc.transport,
                entropy,
            )?;
        }
        let response = format!(
            r#"<samlp:Response xmlns:samlp="{SAMLP_NS}" xmlns:saml="{SAML_NS}" ID="{response_id}" Version="2.0" IssueInstant="{issue}" Destination="{acs}"{irt}>
  <saml:Issuer>{issuer}</saml:Issuer>
  <samlp:Status>
    <samlp:StatusCode Value="{STATUS_SUCCESS}"/>
  </samlp:Status>
  {assertion}
</samlp:Response>"#
        );
        let response = if params.sign_response {
            sign_enveloped(
                &response,
                &response_id,
                &self.signing_key,
                Some(&self.certificate),
                &limits,
            )?
        } else {
            response
        };
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{response}\n"
        ))
    }
}

impl TestIdentityProvider {
    /// A Response without an assertion carrying a failed status: `top` (e.g.
    /// `urn:oasis:names:tc:SAML:2.0:status:Responder`) with the optional second-level `sub`
    /// (e.g. [`crate::response::STATUS_NO_PASSIVE`]). Signed when `params.sign_response`.
    pub fn status_response(
        &self,
        params: &ResponseParams,
        top: &str,
        sub: Option<&str>,
        now: DateTime<Utc>,
        entropy: &mut dyn Entropy,
    ) -> Result<String, SamlError> {
        let response_id = format!("_{}", random_token(entropy, 16));
        let irt = params
            .in_response_to
            .as_deref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();
        let code = match sub {
            Some(sub) => format!(
                "<samlp:StatusCode Value=\"{}\"><samlp:StatusCode Value=\"{}\"/></samlp:StatusCode>",
                escape(top),
                escape(sub)
            ),
            None => format!("<samlp:StatusCode Value=\"{}\"/>", escape(top)),
        };
        let response = format!(
            r#"<samlp:Response xmlns:samlp="{SAMLP_NS}" xmlns:saml="{SAML_NS}" ID="{response_id}" Version="2.0" IssueInstant="{issue}" Destination="{acs}"{irt}>
  <saml:Issuer>{issuer}</saml:Issuer>
  <samlp:Status>
    {code}
  </samlp:Status>
</samlp:Response>"#,
            issue = ts(now),
            acs = escape(&params.acs_url),
            issuer = escape(&self.entity_id),
        );
        let response = if params.sign_response {
            sign_enveloped(
                &response,
                &response_id,
                &self.signing_key,
                Some(&self.certificate),
                &Limits::default(),
            )?
        } else {
            response
        };
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{response}\n"
        ))
    }
}

impl TestIdentityProvider {
    /// A protocol message (e.g. a [`crate::logout::LogoutRequest`]) whose root `ID` is `id`,
    /// enveloped-signed and base64-encoded for the HTTP-POST binding.
    pub fn sign_for_post(&self, xml: &str, id: &str) -> Result<String, SamlError> {
        use base64::Engine as _;
        let signed = sign_enveloped(
            xml,
            id,
            &self.signing_key,
            Some(&self.certificate),
            &Limits::default(),
        )?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signed))
    }

    /// A protocol message as an HTTP-Redirect URL to `url` with a signed query string.
    pub fn sign_for_redirect(
        &self,
        kind: crate::authn_request::MessageKind,
        url: &str,
        xml: &str,
        relay_state: Option<&str>,
    ) -> Result<String, SamlError> {
        let signer = crate::authn_request::RedirectSigner::new(self.signing_key.clone())?;
        crate::authn_request::redirect_url_for(kind, url, xml, relay_state, Some(&signer))
    }
}

/// A fresh RSA-2048 key and a self-signed X.509 v3 certificate for `common_name`, valid from a
/// day before `now` for `validity_days`. Key generation uses OpenSSL's own CSPRNG; `serial`
/// comes from the caller's entropy.
pub fn self_signed(
    common_name: &str,
    now: DateTime<Utc>,
    validity_days: i64,
    serial: &[u8],
) -> Result<(PKey<Private>, X509), SamlError> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;
    let fail = |what: &str| SamlError::BadKey {
        detail: format!("certificate generation: {what}"),
    };
    let key = Rsa::generate(2048)
        .and_then(PKey::from_rsa)
        .map_err(|_| fail("key"))?;
    let mut name = X509NameBuilder::new().map_err(|_| fail("name"))?;
    // X.509 caps a common name at 64 characters.
    let cn: String = common_name.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn)
        .map_err(|_| fail("name"))?;
    let name = name.build();
    let serial = BigNum::from_slice(serial)
        .and_then(|n| n.to_asn1_integer())
        .map_err(|_| fail("serial"))?;
    let not_before = Asn1Time::from_unix(now.timestamp() - 86_400).map_err(|_| fail("time"))?;
    let not_after =
        Asn1Time::from_unix(now.timestamp() + validity_days * 86_400).map_err(|_| fail("time"))?;
    let mut b = X509::builder().map_err(|_| fail("builder"))?;
    b.set_version(2).map_err(|_| fail("version"))?;
    b.set_serial_number(&serial).map_err(|_| fail("serial"))?;
    b.set_subject_name(&name).map_err(|_| fail("name"))?;
    b.set_issuer_name(&name).map_err(|_| fail("name"))?;
    b.set_pubkey(&key).map_err(|_| fail("key"))?;
    b.set_not_before(&not_before).map_err(|_| fail("time"))?;
    b.set_not_after(&not_after).map_err(|_| fail("time"))?;
    b.sign(&key, MessageDigest::sha256())
        .map_err(|_| fail("sign"))?;
    Ok((key, b.build()))
}
