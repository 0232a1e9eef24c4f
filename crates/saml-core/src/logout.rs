//! SAML 2.0 Single Logout (Core §3.7, Profiles §4.4): building our LogoutRequest and
//! LogoutResponse, and validating the IdP's — with the same rigour as a Response.
//!
//! Inbound messages are checked signature first: over the HTTP-Redirect binding the query-string
//! signature is verified over the exact received octets before the message is even inflated;
//! over HTTP-POST the enveloped XML signature is verified and only the verified bytes are read.
//! Unsigned logout messages are refused (a forged LogoutRequest would end someone's sessions; a
//! forged LogoutResponse would fake a completed logout). Then Issuer, Destination, the time
//! window and, for responses, `InResponseTo` bound to the request we sent.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use saml_core::authn_request::RequestId;
//! use saml_core::logout::{LogoutRequest, NameId};
//! let req = LogoutRequest {
//!     id: RequestId::parse("_lo1").unwrap(),
//!     issue_instant: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
//!     destination: "https://idp.example.com/slo".into(),
//!     issuer: "https://sp.example.com".into(),
//!     name_id: NameId::new("jane@example.com"),
//!     session_index: Some("_s1".into()),
//! };
//! assert!(req.to_xml().contains("<samlp:SessionIndex>_s1</samlp:SessionIndex>"));
//! ```

use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};

use crate::authn_request::{
    decode_redirect, verify_redirect_signature, MessageKind, RedirectLimits, RequestId,
};
use crate::dsig::{self, AlgorithmPolicy, TrustedKeys};
use crate::response::STATUS_SUCCESS;
use crate::xml::{self, Element, Limits};
use crate::SamlError;

const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// Status of a LogoutResponse refusing a request that was readable but not acceptable.
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
/// Status of a LogoutResponse when some session could not be ended.
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

/// Longest base64 HTTP-POST logout message accepted (logout messages are small).
pub const MAX_LOGOUT_POST_BASE64: usize = 64 * 1024;

/// How old an inbound logout message may be (plus the clock skew allowance).
pub const MAX_MESSAGE_AGE: Duration = Duration::minutes(5);

/// A subject's NameID as the IdP asserted it; a LogoutRequest must repeat it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameId {
    /// The NameID value.
    pub value: String,
    /// `Format`, if asserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `NameQualifier`, if asserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_qualifier: Option<String>,
    /// `SPNameQualifier`, if asserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_name_qualifier: Option<String>,
}

impl NameId {
    /// A NameID with only a value.
    pub fn new(value: impl Into<String>) -> Self {
        NameId {
            value: value.into(),
            format: None,
            name_qualifier: None,
            sp_name_qualifier: None,
        }
    }

    fn to_xml(&self) -> String {
        let mut out = String::from("<saml:NameID");
        for (name, value) in [
            ("Format", &self.format),
            ("NameQualifier", &self.name_qualifier),
            ("SPNameQualifier", &self.sp_name_qualifier),
        ] {
            if let Some(v) = value {
                out.push_str(&format!(" {name}=\"{}\"", escape(v.as_str())));
            }
        }
        out.push_str(&format!(">{}</saml:NameID>", escape(self.value.as_str())));
        out
    }

    fn from_element(e: &Element) -> Result<Self, SamlError> {
        let value = e.text().trim().to_owned();
        if value.is_empty() {
            return Err(structure("empty NameID"));
        }
        Ok(NameId {
            value,
            format: e.attr("Format").map(str::to_owned),
            name_qualifier: e.attr("NameQualifier").map(str::to_owned),
            sp_name_qualifier: e.attr("SPNameQualifier").map(str::to_owned),
        })
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn structure(detail: &str) -> SamlError {
    SamlError::Structure {
        detail: detail.into(),
    }
}

/// Our LogoutRequest to the IdP (SP-initiated single logout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// Request ID; the LogoutResponse's `InResponseTo` must echo it.
    pub id: RequestId,
    /// The caller's `now`.
    pub issue_instant: DateTime<Utc>,
    /// The IdP's SingleLogoutService URL.
    pub destination: String,
    /// Our SP entity ID.
    pub issuer: String,
    /// The subject, exactly as the IdP asserted it.
    pub name_id: NameId,
    /// The IdP session to end (from the assertion's AuthnStatement).
    pub session_index: Option<String>,
}

impl LogoutRequest {
    /// The request as XML (no declaration; sign it with [`dsig::sign_enveloped`] for POST).
    pub fn to_xml(&self) -> String {
        let mut out = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" \
             ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\">\n  \
             <saml:Issuer>{}</saml:Issuer>\n  {}\n",
            escape(self.id.as_str()),
            ts(self.issue_instant),
            escape(self.destination.as_str()),
            escape(self.issuer.as_str()),
            self.name_id.to_xml(),
        );
        if let Some(index) = &self.session_index {
            out.push_str(&format!(
                "  <samlp:SessionIndex>{}</samlp:SessionIndex>\n",
                escape(index.as_str())
            ));
        }
        out.push_str("</samlp:LogoutRequest>");
        out
    }
}

/// Our LogoutResponse to the IdP (answering its LogoutRequest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutResponse {
    /// Response ID.
    pub id: RequestId,
    /// The IdP's LogoutRequest ID.
    pub in_response_to: String,
    /// The caller's `now`.
    pub issue_instant: DateTime<Utc>,
    /// The IdP's SingleLogoutService (response) URL.
    pub destination: String,
    /// Our SP entity ID.
    pub issuer: String,
    /// Top-level status URI ([`STATUS_SUCCESS`], [`STATUS_REQUESTER`], ...).
    pub status: String,
}

impl LogoutResponse {
    /// The response as XML (no declaration).
    pub fn to_xml(&self) -> String {
        format!(
            "<samlp:LogoutResponse xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" \
             ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" InResponseTo=\"{}\">\n  \
             <saml:Issuer>{}</saml:Issuer>\n  <samlp:Status>\n    \
             <samlp:StatusCode Value=\"{}\"/>\n  </samlp:Status>\n</samlp:LogoutResponse>",
            escape(self.id.as_str()),
            ts(self.issue_instant),
            escape(self.destination.as_str()),
            escape(self.in_response_to.as_str()),
            escape(self.issuer.as_str()),
            escape(self.status.as_str()),
        )
    }
}

/// An inbound logout message as it arrived.
#[derive(Debug, Clone, Copy)]
pub enum Inbound<'a> {
    /// HTTP-Redirect: the raw (still URL-encoded) query string.
    Redirect {
        /// The query string after `?`.
        query: &'a str,
    },
    /// HTTP-POST: the `SAMLRequest`/`SAMLResponse` form value and the `RelayState` field.
    Post {
        /// Base64 message.
        message: &'a str,
        /// RelayState, if posted.
        relay_state: Option<&'a str>,
    },
}

/// What an inbound logout message is checked against.
#[derive(Debug, Clone)]
pub struct LogoutValidation<'a> {
    /// The IdP's signing keys.
    pub trusted_keys: &'a TrustedKeys,
    /// Allowed XML-signature algorithms (HTTP-POST).
    pub algorithms: &'a AlgorithmPolicy,
    /// The IdP's entity ID (`Issuer` must equal it).
    pub expected_issuer: &'a str,
    /// Our SLO endpoint (`Destination` must equal it).
    pub destination: &'a str,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Allowed clock difference.
    pub clock_skew: Duration,
    /// Parser bounds.
    pub limits: Limits,
}

/// An IdP's LogoutRequest whose signature, issuer, destination and time window were checked.
/// Only [`validate_logout_request`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutRequest {
    id: String,
    name_id: NameId,
    session_indexes: Vec<String>,
    relay_state: Option<String>,
    keep_until: DateTime<Utc>,
}

impl VerifiedLogoutRequest {
    /// The request ID (answer with it; key of the replay cache).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The subject to log out.
    pub fn name_id(&self) -> &NameId {
        &self.name_id
    }
    /// The IdP sessions to end; empty means every session of the subject.
    pub fn session_indexes(&self) -> &[String] {
        &self.session_indexes
    }
    /// RelayState to return with the response.
    pub fn relay_state(&self) -> Option<&str> {
        self.relay_state.as_deref()
    }
    /// Until when the request could still be presented: keep its ID in the replay cache.
    pub fn keep_until(&self) -> DateTime<Utc> {
        self.keep_until
    }
}

/// An IdP's LogoutResponse to our request, signature and binding checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutResponse {
    status: String,
    relay_state: Option<String>,
}

impl VerifiedLogoutResponse {
    /// The top-level status URI.
    pub fn status(&self) -> &str {
        &self.status
    }
    /// Whether the IdP ended its session.
    pub fn is_success(&self) -> bool {
        self.status == STATUS_SUCCESS
    }
    /// RelayState it returned (ours: the logout flow id).
    pub fn relay_state(&self) -> Option<&str> {
        self.relay_state.as_deref()
    }
}

/// Signature first, then parse only what was verified.
fn verified_message(
    v: &LogoutValidation<'_>,
    inbound: Inbound<'_>,
    kind: MessageKind,
) -> Result<(Element, Option<String>), SamlError> {
    match inbound {
        Inbound::Redirect { query } => {
            verify_redirect_signature(query, v.trusted_keys.public_keys())?;
            let decoded = decode_redirect(query, &RedirectLimits::DEFAULT)?;
            if decoded.kind != kind {
                return Err(structure("wrong binding parameter for this message"));
            }
            let element = xml::parse(&decoded.xml, &v.limits)?;
            Ok((element, decoded.relay_state))
        }
        Inbound::Post {
            message,
            relay_state,
        } => {
            if message.len() > MAX_LOGOUT_POST_BASE64 {
                return Err(SamlError::TooLarge {
                    limit: "logout message",
                });
            }
            let compact: String = message
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| SamlError::BadEncoding {
                    detail: "logout message is not base64".into(),
                })?;
            let doc = xml::parse(&bytes, &v.limits)?;
            let verified = dsig::verify_enveloped(&doc, &doc, v.trusted_keys, v.algorithms)?;
            let element = xml::parse(&verified, &v.limits)?;
            if let Some(rs) = relay_state {
                crate::authn_request::validate_relay_state(rs)?;
            }
            Ok((element, relay_state.map(str::to_owned)))
        }
    }
}

/// Version, ID, IssueInstant window, Issuer and Destination: common to both messages.
fn check_common<'e>(v: &LogoutValidation<'_>, e: &'e Element) -> Result<&'e str, SamlError> {
    if e.attr("Version") != Some("2.0") {
        return Err(structure("Version is not 2.0"));
    }
    let id = e
        .attr("ID")
        .filter(|i| !i.is_empty() && i.len() <= 256)
        .ok_or_else(|| structure("ID"))?;
    let issued = e
        .attr("IssueInstant")
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| structure("IssueInstant"))?;
    if issued > v.now + v.clock_skew || issued + MAX_MESSAGE_AGE + v.clock_skew < v.now {
        return Err(SamlError::Expired);
    }
    let issuer = e.only_child(NS_ASSERTION, "Issuer")?;
    if issuer.text().trim() != v.expected_issuer {
        return Err(SamlError::WrongIssuer);
    }
    if e.attr("Destination") != Some(v.destination) {
        return Err(SamlError::WrongRecipient);
    }
    Ok(id)
}

/// Validate an IdP-initiated LogoutRequest (either binding). Unsigned requests are refused.
pub fn validate_logout_request(
    v: &LogoutValidation<'_>,
    inbound: Inbound<'_>,
) -> Result<VerifiedLogoutRequest, SamlError> {
    let (e, relay_state) = verified_message(v, inbound, MessageKind::Request)?;
    if !e.is(NS_PROTOCOL, "LogoutRequest") {
        return Err(structure("root is not samlp:LogoutRequest"));
    }
    let id = check_common(v, &e)?.to_owned();
    let mut keep_until = v.now + MAX_MESSAGE_AGE + v.clock_skew;
    if let Some(noa) = e.attr("NotOnOrAfter") {
        let noa = DateTime::parse_from_rfc3339(noa.trim())
            .map_err(|_| structure("NotOnOrAfter"))?
            .with_timezone(&Utc);
        if noa + v.clock_skew <= v.now {
            return Err(SamlError::Expired);
        }
        keep_until = keep_until.max(noa + v.clock_skew);
    }
    if e.child(NS_ASSERTION, "EncryptedID").is_some() {
        return Err(structure(
            "encrypted NameID in LogoutRequest is not supported",
        ));
    }
    let name_id = NameId::from_element(e.only_child(NS_ASSERTION, "NameID")?)?;
    let session_indexes: Vec<String> = e
        .children_named(NS_PROTOCOL, "SessionIndex")
        .map(|s| s.text().trim().to_owned())
        .filter(|s| !s.is_empty())
        .take(64)
        .collect();
    Ok(VerifiedLogoutRequest {
        id,
        name_id,
        session_indexes,
        relay_state,
        keep_until,
    })
}

/// Validate the IdP's LogoutResponse to our LogoutRequest `expected_request_id`.
pub fn validate_logout_response(
    v: &LogoutValidation<'_>,
    inbound: Inbound<'_>,
    expected_request_id: &str,
) -> Result<VerifiedLogoutResponse, SamlError> {
    let (e, relay_state) = verified_message(v, inbound, MessageKind::Response)?;
    if !e.is(NS_PROTOCOL, "LogoutResponse") {
        return Err(structure("root is not samlp:LogoutResponse"));
    }
    check_common(v, &e)?;
    if e.attr("InResponseTo") != Some(expected_request_id) {
        return Err(SamlError::InResponseToMismatch);
    }
    let status = e
        .only_child(NS_PROTOCOL, "Status")?
        .only_child(NS_PROTOCOL, "StatusCode")?
        .attr("Value")
        .ok_or_else(|| structure("StatusCode Value"))?
        .chars()
        .take(200)
        .collect();
    Ok(VerifiedLogoutResponse {
        status,
        relay_state,
    })
}

/// The `InResponseTo` of an inbound LogoutResponse, read *before* verification only to find the
/// logout flow (and so the connection and keys) it belongs to. Never trust it further: pass the
/// flow's request id to [`validate_logout_response`].
pub fn peek_in_response_to(inbound: Inbound<'_>, limits: &Limits) -> Option<String> {
    let bytes = match inbound {
        Inbound::Redirect { query } => decode_redirect(query, &RedirectLimits::DEFAULT).ok()?.xml,
        Inbound::Post { message, .. } => {
            if message.len() > MAX_LOGOUT_POST_BASE64 {
                return None;
            }
            let compact: String = message
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()?
        }
    };
    let e = xml::parse(&bytes, limits).ok()?;
    e.attr("InResponseTo")
        .filter(|v| v.len() <= 256)
        .map(str::to_owned)
}
