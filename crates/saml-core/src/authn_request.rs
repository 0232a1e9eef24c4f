//! AuthnRequest construction and the two front-channel bindings (SAML Bindings §3.4 HTTP-Redirect,
//! §3.5 HTTP-POST).
//!
//! The bindings are message-agnostic: the same functions carry AuthnRequests, LogoutRequests
//! ([`MessageKind::Request`], parameter `SAMLRequest`) and LogoutResponses / Responses
//! ([`MessageKind::Response`], parameter `SAMLResponse`).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use gatehouse_types::FixedEntropy;
//! use saml_core::authn_request::{redirect_url, AuthnRequest, RequestId};
//!
//! let request = AuthnRequest {
//!     id: RequestId::generate(&mut FixedEntropy::new(1)),
//!     issue_instant: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
//!     destination: "https://idp.example.com/sso".into(),
//!     acs_url: "https://sp.example.com/acs".into(),
//!     sp_entity_id: "https://sp.example.com".into(),
//!     force_authn: false,
//!     is_passive: false,
//!     requested_authn_context: None,
//!     name_id_format: None,
//! };
//! let url = redirect_url(&request.destination, &request.to_xml(), Some("abc"), None).unwrap();
//! assert!(url.starts_with("https://idp.example.com/sso?SAMLRequest="));
//! ```

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use gatehouse_types::{random_token, Entropy};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use quick_xml::escape::escape;
use url::form_urlencoded;

use crate::SamlError;

/// SAML 2.0 protocol namespace.
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 assertion namespace.
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The only `SAMLEncoding` the Redirect binding defines (and the default when absent).
pub const ENCODING_DEFLATE: &str = "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE";
/// RSA PKCS#1 v1.5 with SHA-256: what we sign Redirect-binding messages with.
pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// RSA PKCS#1 v1.5 with SHA-512 (accepted when verifying).
pub const SIG_ALG_RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
/// The RelayState bound of SAML Bindings §3.4.3 / §3.5.3.
pub const MAX_RELAY_STATE_BYTES: usize = 80;
/// Smallest RSA key we sign with or accept signatures from.
pub const MIN_RSA_BITS: u32 = 2048;

/// An AuthnRequest / LogoutRequest ID: an `xs:ID` (NCName) that starts with `_` or a letter.
///
/// Generated IDs are `_` followed by 40 hex characters (160 random bits), so they never start
/// with a digit, which `xs:ID` forbids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh random ID.
    pub fn generate(entropy: &mut dyn Entropy) -> Self {
        Self(format!("_{}", random_token(entropy, 20)))
    }

    /// Accept an existing ID (for instance one stored with the browser flow) if it is a valid
    /// NCName of at most 256 characters.
    pub fn parse(id: &str) -> Result<Self, SamlError> {
        let mut chars = id.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !first_ok || !rest_ok || id.len() > 256 {
            return Err(SamlError::Structure {
                detail: "request ID is not an NCName starting with a letter or '_'".into(),
            });
        }
        Ok(Self(id.to_owned()))
    }

    /// The ID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Comparison` of a RequestedAuthnContext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthnContextComparison {
    /// The IdP must use one of the listed classes.
    Exact,
    /// At least as strong as one of the listed classes.
    Minimum,
    /// At most as strong as one of the listed classes.
    Maximum,
    /// Stronger than any of the listed classes.
    Better,
}

impl AuthnContextComparison {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
            Self::Better => "better",
        }
    }
}

/// `<samlp:RequestedAuthnContext>`: which authentication context classes we ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedAuthnContext {
    /// How the IdP compares its context with `class_refs`.
    pub comparison: AuthnContextComparison,
    /// AuthnContextClassRef URIs (the schema requires at least one; an empty list omits the
    /// element).
    pub class_refs: Vec<String>,
}

/// A SAML 2.0 AuthnRequest, asking for the response by HTTP-POST to `acs_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    /// Request ID; the response's `InResponseTo` must echo it.
    pub id: RequestId,
    /// When the request was issued (the caller's `now`).
    pub issue_instant: DateTime<Utc>,
    /// The IdP SSO URL the request is sent to.
    pub destination: String,
    /// Our AssertionConsumerService URL.
    pub acs_url: String,
    /// Our SP entityID (the `Issuer`).
    pub sp_entity_id: String,
    /// Ask the IdP to re-authenticate even with a live session.
    pub force_authn: bool,
    /// Ask the IdP not to interact with the user.
    pub is_passive: bool,
    /// Requested authentication context, if any.
    pub requested_authn_context: Option<RequestedAuthnContext>,
    /// NameIDPolicy Format, if we ask for one (with `AllowCreate="true"`).
    pub name_id_format: Option<String>,
}

impl AuthnRequest {
    /// The request as an XML document (no XML declaration, as bindings carry it).
    ///
    /// Children follow the schema's order: Issuer, NameIDPolicy, RequestedAuthnContext.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str(&format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" \
             ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" \
             AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{}\"",
            escape(self.id.as_str()),
            self.issue_instant
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            escape(self.destination.as_str()),
            escape(self.acs_url.as_str()),
            crate::metadata::BINDING_HTTP_POST,
        ));
        if self.force_authn {
            out.push_str(" ForceAuthn=\"true\"");
        }
        if self.is_passive {
            out.push_str(" IsPassive=\"true\"");
        }
        out.push_str(">\n");
        out.push_str(&format!(
            "  <saml:Issuer>{}</saml:Issuer>\n",
            escape(self.sp_entity_id.as_str())
        ));
        if let Some(format) = &self.name_id_format {
            out.push_str(&format!(
                "  <samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>\n",
                escape(format.as_str())
            ));
        }
        if let Some(ctx) = self
            .requested_authn_context
            .as_ref()
            .filter(|c| !c.class_refs.is_empty())
        {
            out.push_str(&format!(
                "  <samlp:RequestedAuthnContext Comparison=\"{}\">\n",
                ctx.comparison.as_str()
            ));
            for class_ref in &ctx.class_refs {
                out.push_str(&format!(
                    "    <saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>\n",
                    escape(class_ref.as_str())
                ));
            }
            out.push_str("  </samlp:RequestedAuthnContext>\n");
        }
        out.push_str("</samlp:AuthnRequest>");
        out
    }
}

/// Which of the two binding parameters a message travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// AuthnRequest, LogoutRequest: `SAMLRequest`.
    Request,
    /// Response, LogoutResponse: `SAMLResponse`.
    Response,
}

impl MessageKind {
    /// The query / form parameter name.
    pub fn param_name(self) -> &'static str {
        match self {
            Self::Request => "SAMLRequest",
            Self::Response => "SAMLResponse",
        }
    }
}

/// Check a RelayState value we send or receive: at most 80 bytes (SAML Bindings §3.4.3) and no
/// control characters (it is echoed into URLs and HTML).
pub fn validate_relay_state(relay_state: &str) -> Result<(), SamlError> {
    if relay_state.len() > MAX_RELAY_STATE_BYTES {
        return Err(SamlError::TooLarge {
            limit: "RelayState is longer than 80 bytes",
        });
    }
    if relay_state.chars().any(char::is_control) {
        return Err(SamlError::BadEncoding {
            detail: "RelayState contains control characters".into(),
        });
    }
    Ok(())
}

/// Signs HTTP-Redirect binding messages with RSA-SHA256.
pub struct RedirectSigner {
    key: PKey<Private>,
}

impl std::fmt::Debug for RedirectSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("RedirectSigner").finish_non_exhaustive()
    }
}

impl RedirectSigner {
    /// A signer over an RSA private key of at least [`MIN_RSA_BITS`] bits.
    pub fn new(key: PKey<Private>) -> Result<Self, SamlError> {
        if key.id() != Id::RSA {
            return Err(SamlError::BadKey {
                detail: "Redirect-binding signing key must be RSA".into(),
            });
        }
        if key.bits() < MIN_RSA_BITS {
            return Err(SamlError::BadKey {
                detail: format!("RSA key shorter than {MIN_RSA_BITS} bits"),
            });
        }
        Ok(Self { key })
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SamlError> {
        let fail = |_| SamlError::BadKey {
            detail: "signing failed".into(),
        };
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).map_err(fail)?;
        signer.update(data).map_err(fail)?;
        signer.sign_to_vec().map_err(fail)
    }
}

fn url_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, SamlError> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|_| SamlError::BadEncoding {
            detail: "DEFLATE failed".into(),
        })
}

/// An HTTP-Redirect URL carrying an AuthnRequest (or LogoutRequest) as `SAMLRequest`.
///
/// See [`redirect_url_for`].
pub fn redirect_url(
    sso_url: &str,
    xml: &str,
    relay_state: Option<&str>,
    signer: Option<&RedirectSigner>,
) -> Result<String, SamlError> {
    redirect_url_for(MessageKind::Request, sso_url, xml, relay_state, signer)
}

/// An HTTP-Redirect URL (SAML Bindings §3.4.4): raw DEFLATE, base64, URL-encode.
///
/// With a signer, `SigAlg` (RSA-SHA256) and `Signature` are added; the signature covers exactly
/// `SAMLRequest=…&RelayState=…&SigAlg=…` with the values URL-encoded as they appear in the URL
/// (§3.4.4.1). `url` may already carry a query string; its parameters are kept and not signed.
pub fn redirect_url_for(
    kind: MessageKind,
    url: &str,
    xml: &str,
    relay_state: Option<&str>,
    signer: Option<&RedirectSigner>,
) -> Result<String, SamlError> {
    let parsed = url::Url::parse(url).map_err(|_| SamlError::Config {
        detail: "binding endpoint is not an absolute URL".into(),
    })?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.fragment().is_some() {
        return Err(SamlError::Config {
            detail: "binding endpoint must be an http(s) URL without fragment".into(),
        });
    }
    if let Some(rs) = relay_state {
        validate_relay_state(rs)?;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflate(xml.as_bytes())?);
    let mut query = format!("{}={}", kind.param_name(), url_encode(&encoded));
    if let Some(rs) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&url_encode(rs));
    }
    if let Some(signer) = signer {
        query.push_str("&SigAlg=");
        query.push_str(&url_encode(SIG_ALG_RSA_SHA256));
        let signature = signer.sign(query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&url_encode(
            &base64::engine::general_purpose::STANDARD.encode(signature),
        ));
    }
    let separator = match parsed.query() {
        None => "?",
        Some(_) if url.ends_with('?') || url.ends_with('&') => "",
        Some(_) => "&",
    };
    Ok(format!("{url}{separator}{query}"))
}

/// Bounds applied when decoding an HTTP-Redirect message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectLimits {
    /// Longest query string accepted.
    pub max_query_bytes: usize,
    /// Largest inflated message accepted (protects against DEFLATE bombs).
    pub max_inflated_bytes: usize,
}

impl RedirectLimits {
    /// 64 KiB of query (beyond what browsers send) and 1 MiB inflated (the XML parser's bound).
    pub const DEFAULT: Self = Self {
        max_query_bytes: 64 * 1024,
        max_inflated_bytes: 1 << 20,
    };
}

/// The signature parameters of a Redirect-binding message (not yet verified: see
/// [`verify_redirect_signature`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedRedirectSignature {
    /// The `SigAlg` URI.
    pub sig_alg: String,
    /// The decoded `Signature` bytes.
    pub signature: Vec<u8>,
}

/// A decoded HTTP-Redirect message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRedirect {
    /// Which parameter carried the message.
    pub kind: MessageKind,
    /// The inflated XML (still unparsed and unverified).
    pub xml: Vec<u8>,
    /// RelayState, if present.
    pub relay_state: Option<String>,
    /// Signature parameters, if the message is signed.
    pub signature: Option<UnverifiedRedirectSignature>,
}

/// The query parameters that matter to the binding, as they appear on the wire (still
/// URL-encoded): signatures are computed over these exact bytes.
#[derive(Debug, Default)]
struct RawParams<'q> {
    message: Option<(MessageKind, &'q str)>,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
    encoding: Option<&'q str>,
}

fn split_query<'q>(query: &'q str, limits: &RedirectLimits) -> Result<RawParams<'q>, SamlError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    if query.len() > limits.max_query_bytes {
        return Err(SamlError::TooLarge {
            limit: "redirect query length",
        });
    }
    let mut params = RawParams::default();
    let duplicate = |name: &str| SamlError::BadEncoding {
        detail: format!("duplicate {name} parameter"),
    };
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let slot = match name {
            "SAMLRequest" | "SAMLResponse" => {
                if params.message.is_some() {
                    return Err(duplicate("SAMLRequest/SAMLResponse"));
                }
                let kind = if name == "SAMLRequest" {
                    MessageKind::Request
                } else {
                    MessageKind::Response
                };
                params.message = Some((kind, value));
                continue;
            }
            "RelayState" => &mut params.relay_state,
            "SigAlg" => &mut params.sig_alg,
            "Signature" => &mut params.signature,
            "SAMLEncoding" => &mut params.encoding,
            // Other parameters belong to the application and are not part of the message.
            _ => continue,
        };
        if slot.is_some() {
            return Err(duplicate(name));
        }
        *slot = Some(value);
    }
    Ok(params)
}

fn url_decode(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn base64_decode_lenient(value: &str, what: &str) -> Result<Vec<u8>, SamlError> {
    // Some senders do not percent-encode '+' in base64, which then arrives as a space; the
    // base64 alphabet has no space, so mapping it back is unambiguous. Line breaks are dropped.
    let cleaned: String = value
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|_| SamlError::BadEncoding {
            detail: format!("{what} is not base64"),
        })
}

/// Decode an HTTP-Redirect message from the request's raw query string (with or without the
/// leading `?`): URL-decode, base64, bounded raw INFLATE. Signatures are *not* checked here.
pub fn decode_redirect(query: &str, limits: &RedirectLimits) -> Result<DecodedRedirect, SamlError> {
    let params = split_query(query, limits)?;
    let (kind, raw_message) = params.message.ok_or_else(|| SamlError::Structure {
        detail: "no SAMLRequest or SAMLResponse parameter".into(),
    })?;
    if let Some(encoding) = params.encoding {
        if url_decode(encoding) != ENCODING_DEFLATE {
            return Err(SamlError::BadEncoding {
                detail: "unsupported SAMLEncoding".into(),
            });
        }
    }
    let compressed = base64_decode_lenient(&url_decode(raw_message), kind.param_name())?;
    let mut xml = Vec::new();
    let limit = u64::try_from(limits.max_inflated_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .take(limit)
        .read_to_end(&mut xml)
        .map_err(|_| SamlError::BadEncoding {
            detail: "message is not raw DEFLATE".into(),
        })?;
    if xml.len() > limits.max_inflated_bytes {
        return Err(SamlError::TooLarge {
            limit: "inflated redirect message",
        });
    }
    let relay_state = match params.relay_state {
        Some(raw) => {
            let rs = url_decode(raw);
            validate_relay_state(&rs)?;
            Some(rs)
        }
        None => None,
    };
    let signature = match (params.sig_alg, params.signature) {
        (None, None) => None,
        (Some(alg), Some(sig)) => Some(UnverifiedRedirectSignature {
            sig_alg: url_decode(alg),
            signature: base64_decode_lenient(&url_decode(sig), "Signature")?,
        }),
        _ => {
            return Err(SamlError::BadSignature {
                detail: "SigAlg and Signature must appear together".into(),
            })
        }
    };
    Ok(DecodedRedirect {
        kind,
        xml,
        relay_state,
        signature,
    })
}

/// Verify the signature of an HTTP-Redirect message against the IdP's keys.
///
/// The signed string is rebuilt from the *original* URL-encoded pieces of `query` in the order
/// §3.4.4.1 fixes (`SAMLRequest`/`SAMLResponse`, `RelayState` if present, `SigAlg`), whatever
/// their order in the URL. Succeeds if any key verifies. Accepts RSA-SHA256 and RSA-SHA512 only.
/// Fails closed: no keys is a configuration error, an unsigned message is [`SamlError::Unsigned`].
/// The query is bounded by [`RedirectLimits::DEFAULT`]`.max_query_bytes`; call
/// [`decode_redirect`] for the message itself (this function does not inflate it).
pub fn verify_redirect_signature(query: &str, keys: &[PKey<Public>]) -> Result<(), SamlError> {
    if keys.is_empty() {
        return Err(SamlError::Config {
            detail: "no IdP keys to verify the Redirect-binding signature with".into(),
        });
    }
    let params = split_query(query, &RedirectLimits::DEFAULT)?;
    let (kind, raw_message) = params.message.ok_or_else(|| SamlError::Structure {
        detail: "no SAMLRequest or SAMLResponse parameter".into(),
    })?;
    let (Some(raw_alg), Some(raw_sig)) = (params.sig_alg, params.signature) else {
        return Err(SamlError::Unsigned);
    };
    let sig_alg = url_decode(raw_alg);
    let digest = match sig_alg.as_str() {
        SIG_ALG_RSA_SHA256 => MessageDigest::sha256(),
        SIG_ALG_RSA_SHA512 => MessageDigest::sha512(),
        _ => {
            return Err(SamlError::AlgorithmNotAllowed { algorithm: sig_alg });
        }
    };
    let signature = base64_decode_lenient(&url_decode(raw_sig), "Signature")?;
    let mut signed = format!("{}={raw_message}", kind.param_name());
    if let Some(rs) = params.relay_state {
        signed.push_str("&RelayState=");
        signed.push_str(rs);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(raw_alg);

    for key in keys {
        if key.id() != Id::RSA || key.bits() < MIN_RSA_BITS {
            continue;
        }
        let Ok(mut verifier) = Verifier::new(digest, key) else {
            continue;
        };
        if verifier.update(signed.as_bytes()).is_err() {
            continue;
        }
        if verifier.verify(&signature).unwrap_or(false) {
            return Ok(());
        }
    }
    Err(SamlError::BadSignature {
        detail: "Redirect-binding signature does not verify with any IdP key".into(),
    })
}

/// The only script in the POST-binding page. It submits the form; kept as a constant so a
/// strict Content-Security-Policy can allow exactly it by hash ([`post_form_script_csp_hash`]).
pub const POST_FORM_SCRIPT: &str = "document.getElementById(\"saml-post\").submit();";

/// The CSP source expression (`'sha256-…'`) allowing [`POST_FORM_SCRIPT`] in `script-src`.
pub fn post_form_script_csp_hash() -> String {
    let digest = openssl::sha::sha256(POST_FORM_SCRIPT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// An HTTP-POST binding page (SAML Bindings §3.5): a form posting `base64_value` as
/// `SAMLRequest`/`SAMLResponse` (and RelayState) to `action_url`.
///
/// Every value is HTML-escaped. The form is submitted by [`POST_FORM_SCRIPT`] (no inline event
/// handlers); without JavaScript a `<noscript>` block shows a Continue button. Callers validate
/// `relay_state` with [`validate_relay_state`] when they accept it from outside.
pub fn post_form_html(
    action_url: &str,
    kind: MessageKind,
    base64_value: &str,
    relay_state: Option<&str>,
) -> String {
    let mut out = String::with_capacity(base64_value.len() + 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    out.push_str("<title>Continuing sign-in</title>\n</head>\n<body>\n");
    out.push_str(&format!(
        "<form id=\"saml-post\" method=\"post\" action=\"{}\">\n",
        escape(action_url)
    ));
    out.push_str(&format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
        kind.param_name(),
        escape(base64_value)
    ));
    if let Some(rs) = relay_state {
        out.push_str(&format!(
            "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">\n",
            escape(rs)
        ));
    }
    out.push_str(
        "<noscript><p>JavaScript is disabled. Press Continue to proceed.</p>\
         <button type=\"submit\">Continue</button></noscript>\n",
    );
    out.push_str("</form>\n");
    out.push_str(&format!("<script>{POST_FORM_SCRIPT}</script>\n"));
    out.push_str("</body>\n</html>\n");
    out
}
