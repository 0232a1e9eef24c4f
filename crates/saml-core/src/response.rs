//! SAML 2.0 Web-SSO `Response` validation: one pure function from an explicit
//! [`ValidationRequest`] and the posted bytes to a [`VerifiedAssertion`].
//!
//! Order of operations (each step fails closed):
//! 1. bounded base64 decoding and bounded, DTD-free parsing;
//! 2. shape: exactly one `samlp:Response` root, `Version="2.0"`, top-level status `Success`, and
//!    exactly one `Assertion`/`EncryptedAssertion` in the *whole* document, as a child of the root;
//! 3. signatures: the Response's own signature (if present) must verify; the assertion must be
//!    covered by its own signature or by the Response's; encrypted assertions are decrypted and
//!    must carry their own signature;
//! 4. the verified canonical bytes are **re-parsed** and every value (issuer, subject, conditions,
//!    attributes) is read from that re-parsed tree only. Whatever an attacker wraps around or
//!    next to the signed element (XSW1–XSW8) is simply not in those bytes;
//! 5. issuer, destination, recipient, audience, time window and InResponseTo checks.
//!
//! Replay protection is the caller's: store [`VerifiedAssertion::assertion_id`] until
//! [`VerifiedAssertion::not_on_or_after`].

use crate::dsig::{self, AlgorithmPolicy, TrustedKeys};
use crate::encryption::decrypt_assertion;
use crate::xml::{self, Element, Limits};
use crate::SamlError;
use base64::Engine;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private};

/// The SAML 2.0 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The SAML 2.0 protocol namespace.
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The top-level status code of a successful response.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// The bearer subject confirmation method.
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Which AuthnRequest, if any, this browser flow is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedRequest<'a> {
    /// We sent an AuthnRequest with this ID; the response must answer exactly it.
    Solicited(&'a str),
    /// No request is bound to this flow and IdP-initiated login is enabled for the connection:
    /// the response must then not claim to answer any request.
    UnsolicitedAllowed,
}

/// Everything the validator needs; nothing is read from globals or the clock.
#[derive(Debug, Clone)]
pub struct ValidationRequest<'a> {
    /// The IdP's pinned signing keys.
    pub trusted_keys: &'a TrustedKeys,
    /// Accepted signature and digest algorithms.
    pub algorithms: &'a AlgorithmPolicy,
    /// The IdP entity ID every `Issuer` must equal.
    pub expected_issuer: &'a str,
    /// Our SP entity ID, which an `AudienceRestriction` must name.
    pub expected_audience: &'a str,
    /// Our Assertion Consumer Service URL (Destination and Recipient must equal it).
    pub acs_url: &'a str,
    /// The request this response must answer.
    pub in_response_to: ExpectedRequest<'a>,
    /// The current time, captured once by the caller.
    pub now: DateTime<Utc>,
    /// Allowed clock difference with the IdP.
    pub clock_skew: chrono::Duration,
    /// SP decryption keys; when empty an `EncryptedAssertion` is refused.
    pub decryption_keys: &'a [PKey<Private>],
    /// Parser bounds (also bound the base64 input and decrypted content).
    pub limits: Limits,
}

/// An assertion whose signature, issuer, audience, recipient, time window and InResponseTo
/// have all been checked. Only [`validate_response`] / [`validate_response_xml`] construct it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    assertion_id: String,
    issuer: String,
    name_id: String,
    name_id_format: Option<String>,
    name_qualifier: Option<String>,
    sp_name_qualifier: Option<String>,
    session_index: Option<String>,
    authn_instant: Option<DateTime<Utc>>,
    authn_context_class: Option<String>,
    attributes: Vec<(String, Vec<String>)>,
    not_on_or_after: DateTime<Utc>,
    in_response_to: Option<String>,
    response_signed: bool,
}

impl VerifiedAssertion {
    /// The assertion `ID` (key of the caller's replay cache).
    pub fn assertion_id(&self) -> &str {
        &self.assertion_id
    }
    /// The assertion issuer (equal to the expected IdP entity ID).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The subject `NameID` value, read in full (comments cannot truncate it).
    pub fn name_id(&self) -> &str {
        &self.name_id
    }
    /// The `NameID` `Format`, if given.
    pub fn name_id_format(&self) -> Option<&str> {
        self.name_id_format.as_deref()
    }
    /// The `NameID` `NameQualifier`, if given (a LogoutRequest must repeat it).
    pub fn name_qualifier(&self) -> Option<&str> {
        self.name_qualifier.as_deref()
    }
    /// The `NameID` `SPNameQualifier`, if given (a LogoutRequest must repeat it).
    pub fn sp_name_qualifier(&self) -> Option<&str> {
        self.sp_name_qualifier.as_deref()
    }
    /// The IdP session index (for single logout), if given.
    pub fn session_index(&self) -> Option<&str> {
        self.session_index.as_deref()
    }
    /// When the user authenticated at the IdP.
    pub fn authn_instant(&self) -> Option<DateTime<Utc>> {
        self.authn_instant
    }
    /// The `AuthnContextClassRef`, if given.
    pub fn authn_context_class(&self) -> Option<&str> {
        self.authn_context_class.as_deref()
    }
    /// Attributes by `Name`, values in document order (repeated attributes merged).
    pub fn attributes(&self) -> &[(String, Vec<String>)] {
        &self.attributes
    }
    /// The earliest of Conditions and bearer SubjectConfirmationData `NotOnOrAfter`: keep the
    /// assertion ID in the replay cache at least until then.
    pub fn not_on_or_after(&self) -> DateTime<Utc> {
        self.not_on_or_after
    }
    /// The AuthnRequest ID this answers (`None` for IdP-initiated).
    pub fn in_response_to(&self) -> Option<&str> {
        self.in_response_to.as_deref()
    }
    /// Whether the enclosing Response carried a valid signature too.
    pub fn response_signed(&self) -> bool {
        self.response_signed
    }
}

fn structure(detail: &str) -> SamlError {
    SamlError::Structure {
        detail: detail.into(),
    }
}

/// Validates a base64 `SAMLResponse` form value (whitespace tolerated).
pub fn validate_response(
    req: &ValidationRequest<'_>,
    saml_response_base64: &[u8],
) -> Result<VerifiedAssertion, SamlError> {
    // Bound before allocating: base64 expands 3 bytes to 4.
    if saml_response_base64.len() / 4 * 3 > req.limits.max_bytes.saturating_mul(2) {
        return Err(SamlError::TooLarge { limit: "max_bytes" });
    }
    let compact: Vec<u8> = saml_response_base64
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.len() / 4 * 3 > req.limits.max_bytes + 3 {
        return Err(SamlError::TooLarge { limit: "max_bytes" });
    }
    let xml = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|_| SamlError::BadEncoding {
            detail: "SAMLResponse is not base64".into(),
        })?;
    validate_response_xml(req, &xml)
}

/// Validates a `samlp:Response` document.
pub fn validate_response_xml(
    req: &ValidationRequest<'_>,
    xml_bytes: &[u8],
) -> Result<VerifiedAssertion, SamlError> {
    let doc = xml::parse(xml_bytes, &req.limits)?;
    if !doc.is(SAMLP_NS, "Response") {
        return Err(structure("root is not samlp:Response"));
    }
    if doc.attr("Version") != Some("2.0") {
        return Err(structure("Response Version is not 2.0"));
    }
    // A failed status only ever produces an error, so reading it before the signature is safe,
    // and IdP error responses are frequently unsigned.
    check_status(req, &doc)?;

    let mut assertions = 0usize;
    doc.walk(&mut |e| {
        if e.is(SAML_NS, "Assertion") || e.is(SAML_NS, "EncryptedAssertion") {
            assertions += 1;
        }
    });
    if assertions != 1 {
        return Err(structure("exactly one assertion required"));
    }
    let unverified_child = doc
        .elements()
        .find(|e| e.is(SAML_NS, "Assertion") || e.is(SAML_NS, "EncryptedAssertion"))
        .ok_or_else(|| structure("assertion is not a child of Response"))?;

    // The Response signature, if any, must verify; then the Response is read from its bytes.
    let verified_response = match dsig::signature_of(&doc)? {
        Some(_) => {
            let bytes = dsig::verify_enveloped(&doc, &doc, req.trusted_keys, req.algorithms)?;
            Some(xml::parse(&bytes, &req.limits)?)
        }
        None => None,
    };
    let response_signed = verified_response.is_some();
    let response_view = verified_response.as_ref().unwrap_or(&doc);

    let verified_assertion: Element = if unverified_child.is(SAML_NS, "EncryptedAssertion") {
        // Take the ciphertext from the signed Response when there is one.
        let enc = response_view
            .child(SAML_NS, "EncryptedAssertion")
            .ok_or_else(|| structure("EncryptedAssertion"))?;
        // CBC is malleable: any distinguishable outcome between "decrypted" and "signature
        // verified" (parse error vs. bad signature, ...) is an oracle that decrypts the content
        // (Jager & Somorovsky, "How to Break XML Encryption", 2011). So every failure in this
        // block is the same DecryptionFailed.
        decrypt_and_verify(req, enc).map_err(|_| SamlError::DecryptionFailed)?
    } else {
        match dsig::signature_of(unverified_child)? {
            Some(_) => {
                let bytes = dsig::verify_enveloped(
                    &doc,
                    unverified_child,
                    req.trusted_keys,
                    req.algorithms,
                )?;
                match &verified_response {
                    // Both signed and both verified: the signed Response's re-parsed tree already
                    // holds exactly these assertion bytes, so a third parse would add nothing.
                    Some(r) => r
                        .child(SAML_NS, "Assertion")
                        .cloned()
                        .ok_or_else(|| structure("Assertion"))?,
                    None => xml::parse(&bytes, &req.limits)?,
                }
            }
            None => match &verified_response {
                Some(r) => r
                    .child(SAML_NS, "Assertion")
                    .cloned()
                    .ok_or_else(|| structure("Assertion"))?,
                None => return Err(SamlError::Unsigned),
            },
        }
    };
    if !verified_assertion.is(SAML_NS, "Assertion") {
        return Err(structure("signed element is not an Assertion"));
    }
    check_assertion(req, response_view, response_signed, &verified_assertion)
}

fn decrypt_and_verify(req: &ValidationRequest<'_>, enc: &Element) -> Result<Element, SamlError> {
    let plaintext = decrypt_assertion(enc, req.decryption_keys, req.limits.max_bytes)?;
    let inner = xml::parse_with_namespaces(&plaintext, &req.limits, &enc.in_scope)?;
    if !inner.is(SAML_NS, "Assertion") {
        return Err(structure("decrypted content is not an Assertion"));
    }
    let mut nested = 0usize;
    inner.walk(&mut |e| {
        if e.is(SAML_NS, "Assertion") || e.is(SAML_NS, "EncryptedAssertion") {
            nested += 1;
        }
    });
    if nested != 1 {
        return Err(structure("exactly one assertion required"));
    }
    let bytes = dsig::verify_enveloped(&inner, &inner, req.trusted_keys, req.algorithms)?;
    xml::parse(&bytes, &req.limits)
}

/// Status NoPassive, as a top-level or (usually, under `Responder`) second-level code.
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";

fn check_status(req: &ValidationRequest<'_>, response: &Element) -> Result<(), SamlError> {
    let status = response.only_child(SAMLP_NS, "Status")?;
    let code = status.only_child(SAMLP_NS, "StatusCode")?;
    let value = code.attr("Value").unwrap_or("");
    if value == STATUS_SUCCESS {
        return Ok(());
    }
    let sub = code
        .child(SAMLP_NS, "StatusCode")
        .and_then(|s| s.attr("Value"));
    if value == STATUS_NO_PASSIVE || sub == Some(STATUS_NO_PASSIVE) {
        // NoPassive changes what the app is told (`login_required` instead of an error page),
        // so it must be an answer to *our* request from *our* IdP: a signature, when present,
        // must verify; Issuer and Destination, when present, must match; InResponseTo must name
        // the request bound to this browser's flow. Anything less stays a generic refusal.
        let attributable = (|| -> Result<(), SamlError> {
            if dsig::signature_of(response)?.is_some() {
                dsig::verify_enveloped(response, response, req.trusted_keys, req.algorithms)?;
            }
            if let Some(issuer) = response.child(SAML_NS, "Issuer") {
                if issuer.text().trim() != req.expected_issuer {
                    return Err(SamlError::WrongIssuer);
                }
            }
            if response
                .attr("Destination")
                .is_some_and(|d| d != req.acs_url)
            {
                return Err(SamlError::WrongRecipient);
            }
            match (req.in_response_to, response.attr("InResponseTo")) {
                (ExpectedRequest::Solicited(id), Some(v)) if v == id => Ok(()),
                _ => Err(SamlError::InResponseToMismatch),
            }
        })();
        return Err(attributable.map_or_else(|e| e, |()| SamlError::NoPassive));
    }
    let mut status = value.chars().take(200).collect::<String>();
    if let Some(sub) = sub {
        status.push(' ');
        status.extend(sub.chars().take(200));
    }
    Err(SamlError::Status { status })
}

fn parse_time(value: Option<&str>, what: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    match value {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| structure(what)),
    }
}

fn check_in_response_to(
    expected: ExpectedRequest<'_>,
    value: Option<&str>,
) -> Result<(), SamlError> {
    match (expected, value) {
        (_, None) => Ok(()),
        (ExpectedRequest::Solicited(id), Some(v)) if v == id => Ok(()),
        (_, Some(_)) => Err(SamlError::InResponseToMismatch),
    }
}

fn check_assertion(
    req: &ValidationRequest<'_>,
    response: &Element,
    response_signed: bool,
    a: &Element,
) -> Result<VerifiedAssertion, SamlError> {
    let now = req.now;
    let skew = req.clock_skew;
    if a.attr("Version") != Some("2.0") {
        return Err(structure("Assertion Version is not 2.0"));
    }
    let assertion_id = a
        .attr("ID")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| structure("Assertion ID"))?;
    let issue_instant = parse_time(a.attr("IssueInstant"), "IssueInstant")?
        .ok_or_else(|| structure("IssueInstant"))?;
    if issue_instant > now + skew {
        return Err(SamlError::Expired);
    }

    // Issuers.
    if let Some(ri) = response.child(SAML_NS, "Issuer") {
        if ri.text().trim() != req.expected_issuer {
            return Err(SamlError::WrongIssuer);
        }
    }
    let issuer = a.only_child(SAML_NS, "Issuer")?.text();
    if issuer.trim() != req.expected_issuer {
        return Err(SamlError::WrongIssuer);
    }

    // Destination: must match when present, and a signed Response must state it.
    match response.attr("Destination") {
        Some(d) if d != req.acs_url => return Err(SamlError::WrongRecipient),
        None if response_signed => return Err(SamlError::WrongRecipient),
        _ => {}
    }

    // InResponseTo on the Response.
    let response_irt = response.attr("InResponseTo");
    check_in_response_to(req.in_response_to, response_irt)?;

    // Subject and bearer confirmation.
    let subject = a.only_child(SAML_NS, "Subject")?;
    let name_id_el = subject.only_child(SAML_NS, "NameID")?;
    let name_id = name_id_el.text();
    if name_id.trim().is_empty() {
        return Err(structure("empty NameID"));
    }
    let mut first_error: Option<SamlError> = None;
    let mut confirmed: Option<(DateTime<Utc>, Option<String>)> = None;
    for sc in subject.children_named(SAML_NS, "SubjectConfirmation") {
        if sc.attr("Method") != Some(CM_BEARER) {
            continue;
        }
        match check_confirmation(req, sc) {
            Ok(c) => {
                confirmed = Some(c);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let (scd_not_on_or_after, scd_irt) = match (confirmed, first_error) {
        (Some(c), _) => c,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(structure("no bearer SubjectConfirmation")),
    };
    // Only a signed InResponseTo can make a response "solicited": an unsigned Response element
    // around a signed IdP-initiated assertion must not borrow our request ID.
    let signed_irt =
        scd_irt.or_else(|| response_irt.filter(|_| response_signed).map(str::to_owned));
    if let ExpectedRequest::Solicited(_) = req.in_response_to {
        if signed_irt.is_none() {
            return Err(SamlError::UnsolicitedNotAllowed);
        }
    }

    // Conditions.
    let conditions = a.only_child(SAML_NS, "Conditions")?;
    if let Some(nb) = parse_time(conditions.attr("NotBefore"), "NotBefore")? {
        if now + skew < nb {
            return Err(SamlError::Expired);
        }
    }
    let cond_noa = parse_time(conditions.attr("NotOnOrAfter"), "NotOnOrAfter")?;
    if let Some(noa) = cond_noa {
        if now - skew >= noa {
            return Err(SamlError::Expired);
        }
    }
    let mut restrictions = conditions
        .children_named(SAML_NS, "AudienceRestriction")
        .peekable();
    if restrictions.peek().is_none() {
        return Err(SamlError::WrongAudience);
    }
    for r in restrictions {
        if !r
            .children_named(SAML_NS, "Audience")
            .any(|au| au.text().trim() == req.expected_audience)
        {
            return Err(SamlError::WrongAudience);
        }
    }

    // Authentication statement.
    let authn = a
        .child(SAML_NS, "AuthnStatement")
        .ok_or_else(|| structure("no AuthnStatement"))?;
    if let Some(snoa) = parse_time(authn.attr("SessionNotOnOrAfter"), "SessionNotOnOrAfter")? {
        if now - skew >= snoa {
            return Err(SamlError::Expired);
        }
    }
    let authn_instant = parse_time(authn.attr("AuthnInstant"), "AuthnInstant")?;
    let authn_context_class = authn
        .child(SAML_NS, "AuthnContext")
        .and_then(|c| c.child(SAML_NS, "AuthnContextClassRef"))
        .map(|c| c.text().trim().to_owned());

    // Attributes.
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in a.children_named(SAML_NS, "AttributeStatement") {
        for attr in statement.children_named(SAML_NS, "Attribute") {
            let name = attr
                .attr("Name")
                .ok_or_else(|| structure("Attribute without Name"))?;
            let values = attr
                .children_named(SAML_NS, "AttributeValue")
                .map(|v| v.text());
            match attributes.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name.to_owned(), values.collect())),
            }
        }
    }

    let not_on_or_after = match cond_noa {
        Some(c) => c.min(scd_not_on_or_after),
        None => scd_not_on_or_after,
    };
    Ok(VerifiedAssertion {
        assertion_id: assertion_id.to_owned(),
        issuer: issuer.trim().to_owned(),
        name_id: name_id.trim().to_owned(),
        name_id_format: name_id_el.attr("Format").map(str::to_owned),
        name_qualifier: name_id_el.attr("NameQualifier").map(str::to_owned),
        sp_name_qualifier: name_id_el.attr("SPNameQualifier").map(str::to_owned),
        session_index: authn.attr("SessionIndex").map(str::to_owned),
        authn_instant,
        authn_context_class,
        attributes,
        not_on_or_after,
        in_response_to: signed_irt,
        response_signed,
    })
}

fn check_confirmation(
    req: &ValidationRequest<'_>,
    sc: &Element,
) -> Result<(DateTime<Utc>, Option<String>), SamlError> {
    let scd = sc.only_child(SAML_NS, "SubjectConfirmationData")?;
    if scd.attr("Recipient") != Some(req.acs_url) {
        return Err(SamlError::WrongRecipient);
    }
    let noa = parse_time(scd.attr("NotOnOrAfter"), "NotOnOrAfter")?
        .ok_or_else(|| structure("SubjectConfirmationData without NotOnOrAfter"))?;
    if req.now - req.clock_skew >= noa {
        return Err(SamlError::Expired);
    }
    if let Some(nb) = parse_time(scd.attr("NotBefore"), "NotBefore")? {
        if req.now + req.clock_skew < nb {
            return Err(SamlError::Expired);
        }
    }
    let irt = scd.attr("InResponseTo");
    check_in_response_to(req.in_response_to, irt)?;
    Ok((noa, irt.map(str::to_owned)))
}
