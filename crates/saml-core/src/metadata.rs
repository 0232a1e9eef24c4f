//! SAML 2.0 metadata: parsing an identity provider's metadata, rendering our own SP metadata.
//!
//! Parsing is a bounded streaming pass over quick-xml events (at most
//! [`MAX_METADATA_BYTES`] of input, [`MAX_DEPTH`] levels of nesting; any DOCTYPE, DTD, processing
//! instruction or non-predefined entity is refused). It never fails open: metadata without a
//! usable signing certificate or without an HTTP-Redirect / HTTP-POST single sign-on endpoint is an
//! error, because an IdP connection built from it could not be validated or used.
//!
//! Metadata itself is trusted configuration (an administrator pasted it or Gatehouse fetched it
//! from a URL the administrator gave), so its own `<ds:Signature>` is not checked here.
//!
//! ```
//! use saml_core::metadata::{render_sp_metadata, SpMetadata};
//! let xml = render_sp_metadata(&SpMetadata {
//!     entity_id: "https://sso.example.com/saml/acme".into(),
//!     acs_url: "https://sso.example.com/saml/acme/acs".into(),
//!     slo_url: None,
//!     signing_certificate_der: vec![1, 2, 3],
//!     encryption_certificate_der: vec![4, 5, 6],
//!     authn_requests_signed: true,
//!     name_id_formats: vec![],
//! });
//! assert!(xml.contains(r#"entityID="https://sso.example.com/saml/acme""#));
//! ```

use base64::Engine as _;
use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::SamlError;

/// Largest metadata document accepted (1 MiB). Single-entity IdP metadata is a few KiB; large
/// federation aggregates are not something a tenant connection is configured from.
pub const MAX_METADATA_BYTES: usize = 1 << 20;
/// Deepest element nesting accepted. Real metadata nests about 8 levels (nested
/// EntitiesDescriptor groups add a few).
pub const MAX_DEPTH: usize = 32;
/// Most signing certificates kept for one IdP (rollover needs two or three).
pub const MAX_SIGNING_CERTIFICATES: usize = 16;
/// Longest entityID the SAML metadata specification allows.
pub const MAX_ENTITY_ID_LEN: usize = 1024;

/// SAML 2.0 metadata namespace.
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML-DSig namespace.
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// SAML 2.0 protocol URI (for `protocolSupportEnumeration`).
pub const PROTOCOL_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// HTTP-Redirect binding URI.
pub const BINDING_HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// HTTP-POST binding URI.
pub const BINDING_HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// XML Encryption 1.1 AES-256-GCM.
pub const ENC_AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
/// XML Encryption 1.1 AES-128-GCM.
pub const ENC_AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
/// XML Encryption AES-256-CBC (still the default of several IdPs).
pub const ENC_AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
/// RSA-OAEP key transport with MGF1/SHA-1 (the form IdPs actually send).
pub const ENC_RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
/// XML Encryption 1.1 RSA-OAEP key transport.
pub const ENC_RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

/// The encryption algorithms advertised in our SP metadata, in order of preference.
pub const SP_ENCRYPTION_METHODS: [&str; 5] = [
    ENC_AES256_GCM,
    ENC_AES128_GCM,
    ENC_AES256_CBC,
    ENC_RSA_OAEP_MGF1P,
    ENC_RSA_OAEP,
];

/// One certificate an IdP may sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpCertificate {
    /// The DER bytes of the X.509 certificate.
    pub der: Vec<u8>,
    /// Subject distinguished name, components in certificate order (`C=US, O=Acme, CN=idp`).
    pub subject: String,
    /// End of the validity period. SAML trust comes from metadata, not from PKI, so an expired
    /// certificate is still usable; this is for expiry warnings to administrators.
    pub not_after: DateTime<Utc>,
    /// SHA-256 over the DER bytes, uppercase hex pairs joined by `:` (as `openssl x509
    /// -fingerprint -sha256` and most IdP consoles print it).
    pub sha256_fingerprint: String,
}

impl IdpCertificate {
    /// Parse a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, SamlError> {
        let cert = X509::from_der(der).map_err(|_| SamlError::BadKey {
            detail: "certificate in metadata is not valid DER X.509".into(),
        })?;
        let mut subject = String::new();
        for entry in cert.subject_name().entries() {
            let key = match entry.object().nid().short_name() {
                Ok(name) => name.to_owned(),
                Err(_) => entry.object().to_string(),
            };
            let value = entry
                .data()
                .to_string()
                .unwrap_or_else(|_| String::from("?"));
            if !subject.is_empty() {
                subject.push_str(", ");
            }
            subject.push_str(&key);
            subject.push('=');
            subject.push_str(&value);
        }
        let not_after = asn1_to_utc(cert.not_after())?;
        let digest =
            openssl::hash::hash(MessageDigest::sha256(), der).map_err(|_| SamlError::BadKey {
                detail: "cannot hash certificate".into(),
            })?;
        let sha256_fingerprint = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(Self {
            der: der.to_vec(),
            subject,
            not_after,
            sha256_fingerprint,
        })
    }

    /// The certificate's public key, for signature verification.
    pub fn public_key(&self) -> Result<PKey<Public>, SamlError> {
        X509::from_der(&self.der)
            .and_then(|c| c.public_key())
            .map_err(|_| SamlError::BadKey {
                detail: "cannot extract public key from certificate".into(),
            })
    }
}

fn asn1_to_utc(t: &Asn1TimeRef) -> Result<DateTime<Utc>, SamlError> {
    let bad = || SamlError::BadKey {
        detail: "certificate validity time out of range".into(),
    };
    // Measure the distance from the Unix epoch instead of formatting and re-parsing the
    // ASN.1 time: no clock is involved and both UTCTime and GeneralizedTime are handled.
    let epoch = Asn1Time::from_unix(0).map_err(|_| bad())?;
    let diff = epoch.diff(t).map_err(|_| bad())?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(secs, 0).ok_or_else(bad)
}

/// What Gatehouse needs from an identity provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The IdP's entityID (the Issuer its responses must carry).
    pub entity_id: String,
    /// SingleSignOnService Location for the HTTP-Redirect binding, if offered.
    pub sso_redirect_url: Option<String>,
    /// SingleSignOnService Location for the HTTP-POST binding, if offered.
    pub sso_post_url: Option<String>,
    /// SingleLogoutService Location for the HTTP-Redirect binding, if offered.
    pub slo_redirect_url: Option<String>,
    /// SingleLogoutService Location for the HTTP-POST binding, if offered.
    pub slo_post_url: Option<String>,
    /// `WantAuthnRequestsSigned` (false when absent, per the schema default).
    pub want_authn_requests_signed: bool,
    /// Declared NameIDFormat URIs, in document order.
    pub name_id_formats: Vec<String>,
    /// Every certificate from a KeyDescriptor with `use="signing"` or no `use`, in document
    /// order, duplicates removed. Several during certificate rollover; never empty.
    pub signing_certificates: Vec<IdpCertificate>,
    /// The earliest `validUntil` on the entity or an enclosing EntitiesDescriptor, if any. The
    /// caller compares it with its `now` (this crate has no clock).
    pub valid_until: Option<DateTime<Utc>>,
}

/// Parse IdP metadata that describes exactly one identity provider.
///
/// The root may be an `EntityDescriptor`, or an `EntitiesDescriptor` holding exactly one entity
/// with an `IDPSSODescriptor`. With several IdP entities this fails; list them with
/// [`list_idp_entity_ids`] and pick one with [`parse_idp_metadata_for`].
pub fn parse_idp_metadata(xml: &[u8]) -> Result<IdpMetadata, SamlError> {
    let mut entities = scan(xml)?;
    match entities.len() {
        0 => Err(SamlError::Structure {
            detail: "metadata contains no entity with a SAML 2.0 IDPSSODescriptor".into(),
        }),
        1 => entities.remove(0).finish(),
        n => Err(SamlError::Structure {
            detail: format!(
                "metadata contains {n} identity providers; pick one by entity id \
                 (parse_idp_metadata_for): {}",
                summarize_ids(&entities)
            ),
        }),
    }
}

/// Parse the identity provider with entityID `entity_id` out of (possibly aggregated) metadata.
pub fn parse_idp_metadata_for(xml: &[u8], entity_id: &str) -> Result<IdpMetadata, SamlError> {
    let entities = scan(xml)?;
    let mut found = entities.into_iter().filter(|e| e.entity_id == entity_id);
    match (found.next(), found.next()) {
        (Some(entity), None) => entity.finish(),
        (Some(_), Some(_)) => Err(SamlError::Structure {
            detail: "entity id appears more than once in metadata".into(),
        }),
        (None, _) => Err(SamlError::Structure {
            detail: "no identity provider with that entity id in metadata".into(),
        }),
    }
}

/// The entityIDs of every SAML 2.0 identity provider in the metadata, in document order (for an
/// administrator to choose from when the metadata is an aggregate).
pub fn list_idp_entity_ids(xml: &[u8]) -> Result<Vec<String>, SamlError> {
    Ok(scan(xml)?.into_iter().map(|e| e.entity_id).collect())
}

fn summarize_ids(entities: &[RawEntity]) -> String {
    const SHOWN: usize = 5;
    let mut ids: Vec<&str> = entities
        .iter()
        .take(SHOWN)
        .map(|e| e.entity_id.as_str())
        .collect();
    if entities.len() > SHOWN {
        ids.push("...");
    }
    ids.join(", ")
}

/// One IDPSSODescriptor as found in the document, before any validation.
#[derive(Debug, Default)]
struct RawIdp {
    want_authn_requests_signed: bool,
    sso: Vec<(String, String)>,
    slo: Vec<(String, String)>,
    name_id_formats: Vec<String>,
    /// Base64 text of each signing certificate.
    certificates: Vec<String>,
}

#[derive(Debug)]
struct RawEntity {
    entity_id: String,
    valid_until: Option<DateTime<Utc>>,
    idps: Vec<RawIdp>,
}

impl RawEntity {
    fn finish(mut self) -> Result<IdpMetadata, SamlError> {
        if self.idps.len() != 1 {
            return Err(SamlError::Structure {
                detail: "entity has more than one SAML 2.0 IDPSSODescriptor".into(),
            });
        }
        let idp = self.idps.remove(0);
        let first = |list: &[(String, String)], binding: &str| {
            list.iter()
                .find(|(b, _)| b == binding)
                .map(|(_, location)| location.clone())
        };
        let sso_redirect_url = first(&idp.sso, BINDING_HTTP_REDIRECT);
        let sso_post_url = first(&idp.sso, BINDING_HTTP_POST);
        if sso_redirect_url.is_none() && sso_post_url.is_none() {
            return Err(SamlError::Structure {
                detail: "IdP metadata has no SingleSignOnService with the HTTP-Redirect or \
                         HTTP-POST binding"
                    .into(),
            });
        }
        let slo_redirect_url = first(&idp.slo, BINDING_HTTP_REDIRECT);
        let slo_post_url = first(&idp.slo, BINDING_HTTP_POST);
        for url in [
            &sso_redirect_url,
            &sso_post_url,
            &slo_redirect_url,
            &slo_post_url,
        ]
        .into_iter()
        .flatten()
        {
            check_endpoint_url(url)?;
        }

        let mut signing_certificates: Vec<IdpCertificate> = Vec::new();
        for text in &idp.certificates {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| SamlError::BadEncoding {
                    detail: "X509Certificate in metadata is not base64".into(),
                })?;
            let cert = IdpCertificate::from_der(&der)?;
            if !signing_certificates
                .iter()
                .any(|c| c.sha256_fingerprint == cert.sha256_fingerprint)
            {
                signing_certificates.push(cert);
            }
        }
        if signing_certificates.is_empty() {
            return Err(SamlError::Structure {
                detail: "IdP metadata has no signing certificate (KeyDescriptor with \
                         use=\"signing\" or without use)"
                    .into(),
            });
        }
        if signing_certificates.len() > MAX_SIGNING_CERTIFICATES {
            return Err(SamlError::TooLarge {
                limit: "signing certificates in metadata",
            });
        }
        Ok(IdpMetadata {
            entity_id: self.entity_id,
            sso_redirect_url,
            sso_post_url,
            slo_redirect_url,
            slo_post_url,
            want_authn_requests_signed: idp.want_authn_requests_signed,
            name_id_formats: idp.name_id_formats,
            signing_certificates,
            valid_until: self.valid_until,
        })
    }
}

fn check_endpoint_url(location: &str) -> Result<(), SamlError> {
    let url = url::Url::parse(location).map_err(|_| SamlError::Structure {
        detail: "endpoint Location in metadata is not an absolute URL".into(),
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(SamlError::Structure {
            detail: "endpoint Location in metadata is not an http(s) URL".into(),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Md,
    Ds,
    Other,
}

#[derive(Debug)]
struct Frame {
    ns: Ns,
    /// Local name; only kept for metadata and dsig elements (nothing else is looked at).
    local: String,
}

impl Frame {
    fn is(&self, ns: Ns, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

/// Where we are inside the entity being read.
#[derive(Debug, Default)]
struct EntityState {
    /// Stack depth of the EntityDescriptor element.
    depth: usize,
    entity_id: String,
    valid_until: Option<DateTime<Utc>>,
    idps: Vec<RawIdp>,
    /// The IDPSSODescriptor being read (and its stack depth), if it advertises SAML 2.0.
    idp: Option<(usize, RawIdp)>,
    /// Stack depth of the current signing KeyDescriptor, if inside one.
    signing_key_depth: Option<usize>,
}

fn malformed(detail: impl Into<String>) -> SamlError {
    SamlError::MalformedXml {
        detail: detail.into(),
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, SamlError> {
    for a in e.attributes().with_checks(true) {
        let a = a.map_err(|_| malformed("bad attribute"))?;
        // Only unprefixed attributes are meaningful on metadata elements.
        if a.key.as_ref() == name.as_bytes() {
            let v = a
                .unescape_value()
                .map_err(|_| malformed("bad attribute value"))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn parse_bool(v: Option<String>) -> Result<bool, SamlError> {
    match v.as_deref().map(str::trim) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(SamlError::Structure {
            detail: "boolean attribute is not true/false".into(),
        }),
    }
}

fn parse_valid_until(v: Option<String>) -> Result<Option<DateTime<Utc>>, SamlError> {
    match v {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| SamlError::Structure {
                detail: "validUntil is not an xs:dateTime".into(),
            }),
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// One bounded pass over the document collecting every entity with a SAML 2.0 IdP role.
fn scan(xml: &[u8]) -> Result<Vec<RawEntity>, SamlError> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(SamlError::TooLarge {
            limit: "metadata size",
        });
    }
    let mut reader = NsReader::from_reader(xml);
    {
        let config = reader.config_mut();
        config.trim_text(true);
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.check_comments = true;
    }

    let mut stack: Vec<Frame> = Vec::new();
    // validUntil of each enclosing EntitiesDescriptor, by depth.
    let mut group_valid_until: Vec<(usize, Option<DateTime<Utc>>)> = Vec::new();
    let mut entity: Option<EntityState> = None;
    let mut entities: Vec<RawEntity> = Vec::new();
    let mut text = String::new();
    let mut seen_root = false;

    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(format!("XML syntax error: {e}")))?;
        let ns = match resolved {
            ResolveResult::Bound(n) if n.as_ref() == NS_METADATA.as_bytes() => Ns::Md,
            ResolveResult::Bound(n) if n.as_ref() == NS_DSIG.as_bytes() => Ns::Ds,
            ResolveResult::Unknown(_) => return Err(malformed("undeclared namespace prefix")),
            _ => Ns::Other,
        };
        match event {
            Event::Start(e) => {
                if stack.is_empty() && seen_root {
                    return Err(malformed("content after the root element"));
                }
                seen_root = true;
                if stack.len() >= MAX_DEPTH {
                    return Err(SamlError::TooLarge {
                        limit: "metadata nesting depth",
                    });
                }
                let local = if ns == Ns::Other {
                    String::new()
                } else {
                    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
                };
                let frame = Frame { ns, local };
                let depth = stack.len();
                text.clear();

                if depth == 0
                    && !(frame.is(Ns::Md, "EntityDescriptor")
                        || frame.is(Ns::Md, "EntitiesDescriptor"))
                {
                    return Err(SamlError::Structure {
                        detail: "root element is not md:EntityDescriptor or md:EntitiesDescriptor"
                            .into(),
                    });
                }
                if frame.is(Ns::Md, "EntitiesDescriptor") {
                    if entity.is_some() {
                        return Err(SamlError::Structure {
                            detail: "EntitiesDescriptor inside EntityDescriptor".into(),
                        });
                    }
                    group_valid_until.push((depth, parse_valid_until(attr(&e, "validUntil")?)?));
                } else if frame.is(Ns::Md, "EntityDescriptor") {
                    if entity.is_some() {
                        return Err(SamlError::Structure {
                            detail: "nested EntityDescriptor".into(),
                        });
                    }
                    let entity_id = attr(&e, "entityID")?.unwrap_or_default();
                    if entity_id.trim().is_empty() {
                        return Err(SamlError::Structure {
                            detail: "EntityDescriptor without entityID".into(),
                        });
                    }
                    if entity_id.len() > MAX_ENTITY_ID_LEN {
                        return Err(SamlError::TooLarge {
                            limit: "entityID length",
                        });
                    }
                    let mut valid_until = parse_valid_until(attr(&e, "validUntil")?)?;
                    for (_, group) in &group_valid_until {
                        valid_until = earliest(valid_until, *group);
                    }
                    entity = Some(EntityState {
                        depth,
                        entity_id,
                        valid_until,
                        ..EntityState::default()
                    });
                } else if let Some(state) = entity.as_mut() {
                    on_entity_child_start(state, &frame, depth, &e)?;
                }
                stack.push(frame);
            }
            Event::End(_) => {
                let frame = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                let depth = stack.len();
                let body = std::mem::take(&mut text);
                if frame.is(Ns::Md, "EntitiesDescriptor") {
                    group_valid_until.retain(|(d, _)| *d < depth);
                } else if let Some(state) = entity.as_mut() {
                    if depth == state.depth {
                        if let Some(state) = entity.take() {
                            if !state.idps.is_empty() {
                                entities.push(RawEntity {
                                    entity_id: state.entity_id,
                                    valid_until: state.valid_until,
                                    idps: state.idps,
                                });
                            }
                        }
                    } else {
                        on_entity_child_end(state, &stack, &frame, depth, body);
                    }
                }
            }
            Event::Text(t) => {
                let s = t
                    .xml10_content()
                    .map_err(|_| malformed("text is not valid UTF-8"))?;
                if stack.is_empty() {
                    return Err(malformed("text outside the root element"));
                }
                text.push_str(&s);
            }
            Event::CData(c) => {
                let s = c
                    .decode()
                    .map_err(|_| malformed("CDATA is not valid UTF-8"))?;
                text.push_str(&s);
            }
            Event::GeneralRef(r) => {
                if let Some(ch) = r
                    .resolve_char_ref()
                    .map_err(|_| malformed("bad character reference"))?
                {
                    text.push(ch);
                } else {
                    let name = r.decode().map_err(|_| malformed("bad entity reference"))?;
                    let ch = match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(malformed("reference to an undeclared entity")),
                    };
                    text.push(ch);
                }
            }
            Event::DocType(_) => return Err(malformed("DOCTYPE / DTD is not allowed")),
            Event::PI(_) => return Err(malformed("processing instructions are not allowed")),
            Event::Comment(_) | Event::Decl(_) => {}
            Event::Empty(_) => {
                // expand_empty_elements turns these into Start + End.
                return Err(malformed("unexpected empty-element event"));
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() || !seen_root {
        return Err(malformed("document ends before the root element is closed"));
    }
    Ok(entities)
}

fn on_entity_child_start(
    state: &mut EntityState,
    frame: &Frame,
    depth: usize,
    e: &BytesStart<'_>,
) -> Result<(), SamlError> {
    let rel = depth - state.depth;
    if rel == 1 && frame.is(Ns::Md, "IDPSSODescriptor") {
        let protocols = attr(e, "protocolSupportEnumeration")?.unwrap_or_default();
        if protocols
            .split_ascii_whitespace()
            .any(|p| p == PROTOCOL_SAML2)
        {
            let idp = RawIdp {
                want_authn_requests_signed: parse_bool(attr(e, "WantAuthnRequestsSigned")?)?,
                ..RawIdp::default()
            };
            state.idp = Some((depth, idp));
        }
        return Ok(());
    }
    let Some((idp_depth, idp)) = state.idp.as_mut() else {
        return Ok(());
    };
    if depth != *idp_depth + 1 {
        return Ok(());
    }
    if frame.is(Ns::Md, "KeyDescriptor") {
        // A KeyDescriptor without `use` applies to both signing and encryption.
        match attr(e, "use")?.as_deref() {
            None | Some("signing") => state.signing_key_depth = Some(depth),
            Some(_) => {}
        }
    } else if frame.is(Ns::Md, "SingleSignOnService") || frame.is(Ns::Md, "SingleLogoutService") {
        let binding = attr(e, "Binding")?.unwrap_or_default();
        let location = attr(e, "Location")?.unwrap_or_default();
        if binding.is_empty() || location.is_empty() {
            return Err(SamlError::Structure {
                detail: "endpoint without Binding or Location".into(),
            });
        }
        let list = if frame.local == "SingleSignOnService" {
            &mut idp.sso
        } else {
            &mut idp.slo
        };
        list.push((binding, location.trim().to_owned()));
    }
    Ok(())
}

fn on_entity_child_end(
    state: &mut EntityState,
    stack: &[Frame],
    frame: &Frame,
    depth: usize,
    body: String,
) {
    let Some((idp_depth, _)) = state.idp.as_ref() else {
        return;
    };
    let idp_depth = *idp_depth;
    if depth == idp_depth {
        if let Some((_, idp)) = state.idp.take() {
            state.idps.push(idp);
        }
        return;
    }
    if depth == idp_depth + 1 && frame.is(Ns::Md, "KeyDescriptor") {
        state.signing_key_depth = None;
        return;
    }
    if depth == idp_depth + 1 && frame.is(Ns::Md, "NameIDFormat") {
        let format = body.trim();
        if let Some((_, idp)) = state.idp.as_mut() {
            if !format.is_empty() {
                idp.name_id_formats.push(format.to_owned());
            }
        }
        return;
    }
    // KeyDescriptor / ds:KeyInfo / ds:X509Data / ds:X509Certificate
    if let Some(key_depth) = state.signing_key_depth {
        let path = stack.get(key_depth + 1..);
        let is_cert = frame.is(Ns::Ds, "X509Certificate")
            && depth == key_depth + 3
            && matches!(path, Some([info, data]) if info.is(Ns::Ds, "KeyInfo") && data.is(Ns::Ds, "X509Data"));
        if is_cert {
            if let Some((_, idp)) = state.idp.as_mut() {
                idp.certificates.push(body);
            }
        }
    }
}

/// What we publish about our service provider for one connection.
///
/// No `Default`: every field is a deliberate choice of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    /// Our SP entityID for this connection.
    pub entity_id: String,
    /// AssertionConsumerService URL (HTTP-POST).
    pub acs_url: String,
    /// SingleLogoutService URL (published for HTTP-Redirect and HTTP-POST), if we offer SLO.
    pub slo_url: Option<String>,
    /// DER of the certificate whose key signs our AuthnRequests and logout messages.
    pub signing_certificate_der: Vec<u8>,
    /// DER of the certificate whose (RSA) key IdPs encrypt assertions to.
    pub encryption_certificate_der: Vec<u8>,
    /// Whether we sign AuthnRequests (`AuthnRequestsSigned`).
    pub authn_requests_signed: bool,
    /// NameIDFormat URIs we accept, in order of preference (may be empty).
    pub name_id_formats: Vec<String>,
}

/// Render SP metadata: one `EntityDescriptor` with an `SPSSODescriptor`.
///
/// Element order follows the SAML 2.0 metadata schema (KeyDescriptor*, SingleLogoutService*,
/// NameIDFormat*, AssertionConsumerService+). We always ask for signed assertions.
pub fn render_sp_metadata(sp: &SpMetadata) -> String {
    let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<md:EntityDescriptor xmlns:md=\"{NS_METADATA}\" xmlns:ds=\"{NS_DSIG}\" entityID=\"{}\">\n",
        escape(sp.entity_id.as_str())
    ));
    out.push_str(&format!(
        "  <md:SPSSODescriptor protocolSupportEnumeration=\"{PROTOCOL_SAML2}\" \
         AuthnRequestsSigned=\"{}\" WantAssertionsSigned=\"true\">\n",
        sp.authn_requests_signed
    ));
    let key_info = |der: &[u8]| {
        format!(
            "      <ds:KeyInfo>\n        <ds:X509Data>\n          \
             <ds:X509Certificate>{}</ds:X509Certificate>\n        </ds:X509Data>\n      \
             </ds:KeyInfo>\n",
            b64(der)
        )
    };
    out.push_str("    <md:KeyDescriptor use=\"signing\">\n");
    out.push_str(&key_info(&sp.signing_certificate_der));
    out.push_str("    </md:KeyDescriptor>\n");
    out.push_str("    <md:KeyDescriptor use=\"encryption\">\n");
    out.push_str(&key_info(&sp.encryption_certificate_der));
    for algorithm in SP_ENCRYPTION_METHODS {
        out.push_str(&format!(
            "      <md:EncryptionMethod Algorithm=\"{algorithm}\"/>\n"
        ));
    }
    out.push_str("    </md:KeyDescriptor>\n");
    if let Some(slo) = &sp.slo_url {
        for binding in [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST] {
            out.push_str(&format!(
                "    <md:SingleLogoutService Binding=\"{binding}\" Location=\"{}\"/>\n",
                escape(slo.as_str())
            ));
        }
    }
    for format in &sp.name_id_formats {
        out.push_str(&format!(
            "    <md:NameIDFormat>{}</md:NameIDFormat>\n",
            escape(format.as_str())
        ));
    }
    out.push_str(&format!(
        "    <md:AssertionConsumerService Binding=\"{BINDING_HTTP_POST}\" Location=\"{}\" \
         index=\"0\" isDefault=\"true\"/>\n",
        escape(sp.acs_url.as_str())
    ));
    out.push_str("  </md:SPSSODescriptor>\n");
    out.push_str("</md:EntityDescriptor>\n");
    out
}
