//! XML-DSig enveloped signatures, restricted to the one shape SAML needs.
//!
//! [`verify_enveloped`] accepts exactly: one `ds:Signature` child of the signed element, one
//! `ds:Reference` whose URI is `#` + that element's own (document-unique) `ID`, transforms
//! enveloped-signature + exc-c14n only, exc-c14n for `SignedInfo`, algorithms from an
//! [`AlgorithmPolicy`], and a signature made by one of the pinned [`TrustedKeys`]. `KeyInfo` is
//! never consulted. On success it returns the canonical bytes of the signed element (without the
//! signature): the caller re-parses those bytes and reads nothing else.
//!
//! [`sign_enveloped`] produces such signatures (RSA-SHA256) for the bundled test IdP.

use crate::c14n::{self, canonicalize, parse_prefix_list, EXC_C14N};
use crate::xml::{self, Element, Limits, Node};
use crate::SamlError;
use base64::Engine;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The enveloped-signature transform URI.
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// A signature algorithm we know how to verify. HMAC algorithms are deliberately absent: a
/// shared-secret "signature" from an IdP is never acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `rsa-sha256` (default allow-list).
    RsaSha256,
    /// `rsa-sha384`.
    RsaSha384,
    /// `rsa-sha512` (default allow-list).
    RsaSha512,
    /// `ecdsa-sha256` (default allow-list).
    EcdsaSha256,
    /// `ecdsa-sha384` (default allow-list).
    EcdsaSha384,
    /// `rsa-sha1`: legacy, only when explicitly listed.
    RsaSha1,
    /// `rsa-md5`: broken, only when explicitly listed.
    RsaMd5,
}

impl SignatureAlgorithm {
    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Self::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            Self::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            Self::EcdsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            Self::EcdsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
            Self::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            Self::RsaMd5 => "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        }
    }

    fn from_uri(uri: &str) -> Option<Self> {
        [
            Self::RsaSha256,
            Self::RsaSha384,
            Self::RsaSha512,
            Self::EcdsaSha256,
            Self::EcdsaSha384,
            Self::RsaSha1,
            Self::RsaMd5,
        ]
        .into_iter()
        .find(|a| a.uri() == uri)
    }

    fn digest(self) -> MessageDigest {
        match self {
            Self::RsaSha256 | Self::EcdsaSha256 => MessageDigest::sha256(),
            Self::RsaSha384 | Self::EcdsaSha384 => MessageDigest::sha384(),
            Self::RsaSha512 => MessageDigest::sha512(),
            Self::RsaSha1 => MessageDigest::sha1(),
            Self::RsaMd5 => MessageDigest::md5(),
        }
    }

    fn is_ecdsa(self) -> bool {
        matches!(self, Self::EcdsaSha256 | Self::EcdsaSha384)
    }
}

/// A reference digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256 (default allow-list).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512 (default allow-list).
    Sha512,
    /// SHA-1: legacy, only when explicitly listed.
    Sha1,
    /// MD5: broken, only when explicitly listed.
    Md5,
}

impl DigestAlgorithm {
    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            Self::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            Self::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
            Self::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Self::Md5 => "http://www.w3.org/2001/04/xmldsig-more#md5",
        }
    }

    fn from_uri(uri: &str) -> Option<Self> {
        [
            Self::Sha256,
            Self::Sha384,
            Self::Sha512,
            Self::Sha1,
            Self::Md5,
        ]
        .into_iter()
        .find(|a| a.uri() == uri)
    }

    fn digest(self) -> MessageDigest {
        match self {
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
            Self::Sha1 => MessageDigest::sha1(),
            Self::Md5 => MessageDigest::md5(),
        }
    }
}

/// The signature and digest algorithms a connection accepts. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    signatures: Vec<SignatureAlgorithm>,
    digests: Vec<DigestAlgorithm>,
}

impl AlgorithmPolicy {
    /// A policy allowing exactly these algorithms; refuses an empty list of either kind (there is
    /// no "allow everything" policy).
    pub fn new(
        signatures: &[SignatureAlgorithm],
        digests: &[DigestAlgorithm],
    ) -> Result<Self, SamlError> {
        if signatures.is_empty() || digests.is_empty() {
            return Err(SamlError::Config {
                detail: "algorithm allow-list must not be empty".into(),
            });
        }
        Ok(AlgorithmPolicy {
            signatures: signatures.to_vec(),
            digests: digests.to_vec(),
        })
    }

    /// Is this signature algorithm allowed?
    pub fn allows_signature(&self, a: SignatureAlgorithm) -> bool {
        self.signatures.contains(&a)
    }

    /// Is this digest algorithm allowed?
    pub fn allows_digest(&self, a: DigestAlgorithm) -> bool {
        self.digests.contains(&a)
    }

    fn signature(&self, uri: &str) -> Result<SignatureAlgorithm, SamlError> {
        SignatureAlgorithm::from_uri(uri)
            .filter(|a| self.allows_signature(*a))
            .ok_or_else(|| SamlError::AlgorithmNotAllowed {
                algorithm: uri.chars().take(100).collect(),
            })
    }

    fn digest(&self, uri: &str) -> Result<DigestAlgorithm, SamlError> {
        DigestAlgorithm::from_uri(uri)
            .filter(|a| self.allows_digest(*a))
            .ok_or_else(|| SamlError::AlgorithmNotAllowed {
                algorithm: uri.chars().take(100).collect(),
            })
    }
}

impl Default for AlgorithmPolicy {
    /// RSA-SHA256/512 and ECDSA-SHA256/384 signatures, SHA-256/512 digests.
    fn default() -> Self {
        AlgorithmPolicy {
            signatures: vec![
                SignatureAlgorithm::RsaSha256,
                SignatureAlgorithm::RsaSha512,
                SignatureAlgorithm::EcdsaSha256,
                SignatureAlgorithm::EcdsaSha384,
            ],
            digests: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Sha512],
        }
    }
}

/// The pinned IdP verification keys of one connection. Never empty; certificates are parsed
/// once, at construction.
#[derive(Clone)]
pub struct TrustedKeys {
    keys: Vec<PKey<Public>>,
}

impl std::fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKeys")
            .field("count", &self.keys.len())
            .finish()
    }
}

impl TrustedKeys {
    /// From bare public keys; refuses an empty set.
    pub fn from_public_keys(keys: Vec<PKey<Public>>) -> Result<Self, SamlError> {
        if keys.is_empty() {
            return Err(SamlError::Config {
                detail: "no trusted IdP keys".into(),
            });
        }
        Ok(TrustedKeys { keys })
    }

    /// From PEM certificates (each input may hold several); refuses an empty set.
    pub fn from_pem_certificates(pems: &[&[u8]]) -> Result<Self, SamlError> {
        let mut keys = Vec::new();
        for pem in pems {
            let certs =
                X509::stack_from_pem(pem).map_err(|_| bad_key("unreadable PEM certificate"))?;
            if certs.is_empty() {
                return Err(bad_key("no certificate in PEM"));
            }
            for cert in certs {
                keys.push(cert.public_key().map_err(|_| bad_key("certificate key"))?);
            }
        }
        Self::from_public_keys(keys)
    }

    /// From DER certificates (e.g. the base64-decoded `X509Certificate` of IdP metadata).
    pub fn from_der_certificates(ders: &[&[u8]]) -> Result<Self, SamlError> {
        let mut keys = Vec::new();
        for der in ders {
            let cert = X509::from_der(der).map_err(|_| bad_key("unreadable DER certificate"))?;
            keys.push(cert.public_key().map_err(|_| bad_key("certificate key"))?);
        }
        Self::from_public_keys(keys)
    }

    /// The trusted keys (for the HTTP-Redirect binding's query-string signature).
    pub fn public_keys(&self) -> &[PKey<Public>] {
        &self.keys
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false (the constructors refuse an empty set); present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn bad_key(detail: &str) -> SamlError {
    SamlError::BadKey {
        detail: detail.into(),
    }
}

fn bad_sig(detail: &str) -> SamlError {
    SamlError::BadSignature {
        detail: detail.into(),
    }
}

fn algorithm_attr(el: &Element) -> Result<&str, SamlError> {
    el.attr("Algorithm")
        .ok_or_else(|| bad_sig("missing Algorithm"))
}

fn inclusive_prefixes(method: &Element) -> Vec<Option<String>> {
    method
        .child(EXC_C14N, "InclusiveNamespaces")
        .and_then(|i| i.attr("PrefixList"))
        .map(parse_prefix_list)
        .unwrap_or_default()
}

/// Decodes base64 as found in XML text (line breaks and spaces allowed).
pub(crate) fn decode_base64_text(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

/// The direct `ds:Signature` child of `element`, if any (more than one is an error).
pub fn signature_of(element: &Element) -> Result<Option<&Element>, SamlError> {
    let mut sigs = element.children_named(DSIG_NS, "Signature");
    match (sigs.next(), sigs.next()) {
        (None, _) => Ok(None),
        (Some(s), None) => Ok(Some(s)),
        (Some(_), Some(_)) => Err(bad_sig("more than one Signature")),
    }
}

/// How many elements of `document` carry an `ID`/`Id`/`id` attribute equal to `id`.
fn id_count(document: &Element, id: &str) -> usize {
    let mut n = 0;
    document.walk(&mut |e| {
        n += ["ID", "Id", "id"]
            .iter()
            .filter(|a| e.attr(a) == Some(id))
            .count();
    });
    n
}

/// Verifies the enveloped signature of `target` (an element of `document`) and returns the
/// exclusive-c14n bytes of `target` without its signature: the only bytes the caller may trust.
///
/// [`SamlError::Unsigned`] when `target` has no `ds:Signature` child.
pub fn verify_enveloped(
    document: &Element,
    target: &Element,
    keys: &TrustedKeys,
    policy: &AlgorithmPolicy,
) -> Result<Vec<u8>, SamlError> {
    let signature = signature_of(target)?.ok_or(SamlError::Unsigned)?;
    let signed_info = signature
        .only_child(DSIG_NS, "SignedInfo")
        .map_err(|_| bad_sig("SignedInfo"))?;
    if signature
        .elements()
        .next()
        .map(|e| std::ptr::eq(e, signed_info))
        != Some(true)
    {
        return Err(bad_sig("SignedInfo must come first"));
    }
    let c14n_method = signed_info
        .only_child(DSIG_NS, "CanonicalizationMethod")
        .map_err(|_| bad_sig("CanonicalizationMethod"))?;
    if algorithm_attr(c14n_method)? != EXC_C14N {
        return Err(bad_sig("canonicalization must be exc-c14n"));
    }
    let sig_method = signed_info
        .only_child(DSIG_NS, "SignatureMethod")
        .map_err(|_| bad_sig("SignatureMethod"))?;
    if sig_method.elements().next().is_some() {
        // HMACOutputLength and friends: never meaningful for public-key signatures.
        return Err(bad_sig("SignatureMethod parameters"));
    }
    let sig_alg = policy.signature(algorithm_attr(sig_method)?)?;
    let reference = signed_info
        .only_child(DSIG_NS, "Reference")
        .map_err(|_| bad_sig("exactly one Reference"))?;

    let id = target
        .attr("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad_sig("signed element has no ID"))?;
    if reference.attr("URI").and_then(|u| u.strip_prefix('#')) != Some(id) {
        return Err(bad_sig("Reference does not point at the signed element"));
    }
    if id_count(document, id) != 1 {
        return Err(bad_sig("duplicate ID"));
    }

    let mut enveloped = false;
    let mut exc: Option<&Element> = None;
    if let Some(transforms) = reference.child(DSIG_NS, "Transforms") {
        for t in transforms.elements() {
            if !t.is(DSIG_NS, "Transform") {
                return Err(bad_sig("unexpected element in Transforms"));
            }
            match algorithm_attr(t)? {
                ENVELOPED_SIGNATURE if !enveloped => enveloped = true,
                EXC_C14N if exc.is_none() => exc = Some(t),
                _ => return Err(bad_sig("transform not allowed")),
            }
        }
    }
    let exc = match (enveloped, exc) {
        (true, Some(exc)) => exc,
        _ => {
            return Err(bad_sig(
                "transforms must be enveloped-signature and exc-c14n",
            ))
        }
    };
    let digest_method = reference
        .only_child(DSIG_NS, "DigestMethod")
        .map_err(|_| bad_sig("DigestMethod"))?;
    let digest_alg = policy.digest(algorithm_attr(digest_method)?)?;
    let expected_digest = reference
        .only_child(DSIG_NS, "DigestValue")
        .ok()
        .and_then(|d| decode_base64_text(&d.text()))
        .ok_or_else(|| bad_sig("DigestValue"))?;
    let signature_value = signature
        .only_child(DSIG_NS, "SignatureValue")
        .ok()
        .and_then(|d| decode_base64_text(&d.text()))
        .ok_or_else(|| bad_sig("SignatureValue"))?;

    // 1. The signature over SignedInfo, with a pinned key.
    let si_prefixes = inclusive_prefixes(c14n_method);
    let si_bytes = canonicalize(
        signed_info,
        &c14n::Options {
            inclusive_prefixes: &si_prefixes,
            exclude: None,
        },
    );
    if !keys
        .keys
        .iter()
        .any(|k| verify_with(k, sig_alg, &si_bytes, &signature_value))
    {
        return Err(bad_sig(
            "signature value does not verify with a trusted key",
        ));
    }

    // 2. The digest of the referenced element.
    let ref_prefixes = inclusive_prefixes(exc);
    let bytes = canonicalize(
        target,
        &c14n::Options {
            inclusive_prefixes: &ref_prefixes,
            exclude: Some(signature),
        },
    );
    let actual = hash(digest_alg.digest(), &bytes).map_err(|_| bad_sig("digest"))?;
    if actual.len() != expected_digest.len() || !openssl::memcmp::eq(&actual, &expected_digest) {
        return Err(bad_sig("digest mismatch"));
    }
    Ok(bytes)
}

fn verify_with(key: &PKey<Public>, alg: SignatureAlgorithm, data: &[u8], sig: &[u8]) -> bool {
    let der;
    let sig = if alg.is_ecdsa() {
        if key.id() != Id::EC || sig.is_empty() || !sig.len().is_multiple_of(2) {
            return false;
        }
        let (r, s) = sig.split_at(sig.len() / 2);
        der = match (BigNum::from_slice(r), BigNum::from_slice(s)) {
            (Ok(r), Ok(s)) => {
                match EcdsaSig::from_private_components(r, s).and_then(|e| e.to_der()) {
                    Ok(d) => d,
                    Err(_) => return false,
                }
            }
            _ => return false,
        };
        &der[..]
    } else {
        if key.id() != Id::RSA {
            return false;
        }
        sig
    };
    match Verifier::new(alg.digest(), key) {
        Ok(mut v) => v.update(data).and_then(|_| v.verify(sig)).unwrap_or(false),
        Err(_) => false,
    }
}

fn find_by_id<'e>(el: &'e Element, id: &str) -> Option<&'e Element> {
    if el.attr("ID") == Some(id) {
        return Some(el);
    }
    el.elements().find_map(|c| find_by_id(c, id))
}

/// Signs the element whose `ID` is `element_id` in `document` with an enveloped RSA-SHA256 /
/// exc-c14n signature placed right after its `Issuer` child (first child if it has none). The
/// rest of `document` is returned byte for byte (so namespace declarations that are only used
/// inside attribute values, like `xmlns:xs` for `xsi:type="xs:string"`, survive).
///
/// `certificate`, if given, is embedded in `KeyInfo` for the benefit of other verifiers; ours
/// ignore it.
pub fn sign_enveloped(
    document: &str,
    element_id: &str,
    key: &PKey<Private>,
    certificate: Option<&X509>,
    limits: &Limits,
) -> Result<String, SamlError> {
    if key.id() != Id::RSA {
        return Err(bad_key("signing key must be RSA"));
    }
    let root = xml::parse(document.as_bytes(), limits)?;
    if id_count(&root, element_id) != 1 {
        return Err(SamlError::Structure {
            detail: "ID missing or not unique".into(),
        });
    }
    let target = find_by_id(&root, element_id).ok_or_else(|| SamlError::Structure {
        detail: "no element with that ID".into(),
    })?;
    if signature_of(target)?.is_some() {
        return Err(SamlError::Structure {
            detail: "element is already signed".into(),
        });
    }
    let bytes = canonicalize(target, &c14n::Options::default());
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = hash(MessageDigest::sha256(), &bytes).map_err(|_| bad_key("digest"))?;
    let key_info = match certificate {
        Some(c) => {
            let der = c.to_der().map_err(|_| bad_key("certificate"))?;
            format!("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>", b64.encode(der))
        }
        None => String::new(),
    };
    let template = format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{}\"/><ds:Reference URI=\"#{element_id}\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"/><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>SIG</ds:SignatureValue>{key_info}</ds:Signature>",
        SignatureAlgorithm::RsaSha256.uri(),
        DigestAlgorithm::Sha256.uri(),
        b64.encode(digest),
    );
    let mut signature = xml::parse(template.as_bytes(), limits)?;
    let si = signature
        .child(DSIG_NS, "SignedInfo")
        .ok_or_else(|| bad_sig("template"))?;
    let si_bytes = canonicalize(si, &c14n::Options::default());
    let mut signer = Signer::new(MessageDigest::sha256(), key).map_err(|_| bad_key("signer"))?;
    let value = signer
        .update(&si_bytes)
        .and_then(|_| signer.sign_to_vec())
        .map_err(|_| bad_key("signing failed"))?;
    for child in signature.children.iter_mut() {
        if let Node::Element(e) = child {
            if e.is(DSIG_NS, "SignatureValue") {
                e.children = vec![Node::Text(b64.encode(&value))];
            }
        }
    }
    let at = target
        .elements()
        .find(|e| e.name.local == "Issuer")
        .map(|issuer| issuer.span.end)
        .unwrap_or(target.span.start_tag_end);
    let rendered = canonicalize(&signature, &c14n::Options::default());
    let rendered = std::str::from_utf8(&rendered).map_err(|_| bad_sig("utf-8"))?;
    let (head, tail) = (document.get(..at), document.get(at..));
    match (head, tail) {
        (Some(head), Some(tail)) => Ok(format!("{head}{rendered}{tail}")),
        _ => Err(SamlError::Structure {
            detail: "span".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../fixtures/saml/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn idp_key() -> PKey<Private> {
        PKey::private_key_from_pem(&key_file("idp.key.pem")).unwrap()
    }

    fn trusted() -> TrustedKeys {
        TrustedKeys::from_pem_certificates(&[&key_file("idp.cert.pem")]).unwrap()
    }

    const DOC: &str = "<r:Outer xmlns:r=\"urn:r\"><r:Inner ID=\"_1\"><r:Issuer>i</r:Issuer><r:V a=\"1\">x</r:V></r:Inner></r:Outer>";

    fn signed(doc: &str) -> String {
        sign_enveloped(doc, "_1", &idp_key(), None, &Limits::default()).unwrap()
    }

    /// Verifies the `Inner` element of `doc`.
    fn verify(doc: &str) -> Result<String, SamlError> {
        let root = xml::parse(doc.as_bytes(), &Limits::default())?;
        let inner = root.elements().next().unwrap();
        verify_enveloped(&root, inner, &trusted(), &AlgorithmPolicy::default())
            .map(|b| String::from_utf8(b).unwrap())
    }

    fn code(r: Result<String, SamlError>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.reason_code())
    }

    #[test]
    fn sign_then_verify_returns_the_canonical_unsigned_element() {
        let doc = signed(DOC);
        assert!(
            doc.contains("<r:Issuer>i</r:Issuer><ds:Signature"),
            "signature goes after Issuer"
        );
        assert_eq!(
            verify(&doc).unwrap(),
            "<r:Inner xmlns:r=\"urn:r\" ID=\"_1\"><r:Issuer>i</r:Issuer><r:V a=\"1\">x</r:V></r:Inner>"
        );
    }

    #[test]
    fn constructors_fail_closed() {
        assert!(matches!(
            AlgorithmPolicy::new(&[], &[DigestAlgorithm::Sha256]),
            Err(SamlError::Config { .. })
        ));
        assert!(matches!(
            AlgorithmPolicy::new(&[SignatureAlgorithm::RsaSha256], &[]),
            Err(SamlError::Config { .. })
        ));
        assert!(matches!(
            TrustedKeys::from_public_keys(vec![]),
            Err(SamlError::Config { .. })
        ));
        assert!(matches!(
            TrustedKeys::from_pem_certificates(&[]),
            Err(SamlError::Config { .. })
        ));
        assert!(matches!(
            TrustedKeys::from_pem_certificates(&[b"junk"]),
            Err(SamlError::BadKey { .. })
        ));
        assert!(matches!(
            TrustedKeys::from_der_certificates(&[b"junk"]),
            Err(SamlError::BadKey { .. })
        ));
        let p = AlgorithmPolicy::default();
        assert!(!p.allows_signature(SignatureAlgorithm::RsaSha1));
        assert!(!p.allows_digest(DigestAlgorithm::Sha1));
        assert!(!p.allows_digest(DigestAlgorithm::Md5));
    }

    #[test]
    fn sha1_is_accepted_only_when_listed() {
        // Re-sign with SHA-1 digest by hand (our signer only does SHA-256): build the
        // SignedInfo with rsa-sha1 / sha1 and sign it.
        let root = xml::parse(DOC.as_bytes(), &Limits::default()).unwrap();
        let inner = root.elements().next().unwrap();
        let digest = hash(
            MessageDigest::sha1(),
            &canonicalize(inner, &c14n::Options::default()),
        )
        .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let si = format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\"><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod><ds:Reference URI=\"#_1\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"></ds:Transform><ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{}\"></ds:DigestMethod><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>", SignatureAlgorithm::RsaSha1.uri(), DigestAlgorithm::Sha1.uri(), b64.encode(digest));
        let mut signer = Signer::new(MessageDigest::sha1(), &idp_key()).unwrap();
        signer.update(si.as_bytes()).unwrap();
        let sig = b64.encode(signer.sign_to_vec().unwrap());
        let doc = DOC.replace(
            "</r:Issuer>",
            &format!("</r:Issuer><ds:Signature xmlns:ds=\"{DSIG_NS}\">{}<ds:SignatureValue>{sig}</ds:SignatureValue></ds:Signature>", si.replace(&format!(" xmlns:ds=\"{DSIG_NS}\""), "")),
        );
        assert_eq!(code(verify(&doc)), "algorithm_not_allowed");
        let legacy =
            AlgorithmPolicy::new(&[SignatureAlgorithm::RsaSha1], &[DigestAlgorithm::Sha1]).unwrap();
        let root = xml::parse(doc.as_bytes(), &Limits::default()).unwrap();
        let inner = root.elements().next().unwrap();
        assert!(verify_enveloped(&root, inner, &trusted(), &legacy).is_ok());
    }

    #[test]
    fn refuses_every_other_signature_shape() {
        let doc = signed(DOC);
        let cases: Vec<(&str, String)> = vec![
            ("no signature", DOC.to_owned()),
            ("tampered content", doc.replace(">x<", ">y<")),
            ("tampered attribute", doc.replace("a=\"1\"", "a=\"2\"")),
            ("reference to another ID", doc.replace("URI=\"#_1\"", "URI=\"#_2\"")),
            ("empty reference URI", doc.replace("URI=\"#_1\"", "URI=\"\"")),
            (
                "two references",
                doc.replace("</ds:Reference>", "</ds:Reference><ds:Reference URI=\"#_1\"></ds:Reference>"),
            ),
            ("two signatures", doc.replace("</ds:Signature>", "</ds:Signature><ds:Signature></ds:Signature>")),
            // The duplicate sits outside the signed subtree: without the uniqueness check this
            // would verify.
            ("duplicate ID", doc.replace("</r:Outer>", "<r:Other ID=\"_1\"></r:Other></r:Outer>")),
            (
                "missing enveloped transform",
                doc.replace(&format!("<ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"></ds:Transform>"), ""),
            ),
            (
                "HMACOutputLength",
                doc.replace("rsa-sha256\"></ds:SignatureMethod>", "rsa-sha256\"><ds:HMACOutputLength>0</ds:HMACOutputLength></ds:SignatureMethod>"),
            ),
        ];
        for (what, doc) in cases {
            let c = code(verify(&doc));
            assert!(c != "ok", "{what} was accepted");
        }
        assert_eq!(code(verify(DOC)), "unsigned");
        assert_eq!(
            code(verify(&signed(DOC).replace("URI=\"#_1\"", "URI=\"#_2\""))),
            "bad_signature"
        );
    }

    #[test]
    fn key_info_is_ignored_and_only_pinned_keys_count() {
        let attacker = PKey::private_key_from_pem(&key_file("attacker.key.pem")).unwrap();
        let attacker_cert = X509::from_pem(&key_file("attacker.cert.pem")).unwrap();
        let forged = sign_enveloped(
            DOC,
            "_1",
            &attacker,
            Some(&attacker_cert),
            &Limits::default(),
        )
        .unwrap();
        assert!(forged.contains("<ds:X509Certificate>"));
        assert_eq!(code(verify(&forged)), "bad_signature");
        // A genuine signature carrying a misleading KeyInfo still verifies: KeyInfo is not read.
        let genuine = sign_enveloped(
            DOC,
            "_1",
            &idp_key(),
            Some(&attacker_cert),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(code(verify(&genuine)), "ok");
    }

    #[test]
    fn ecdsa_signatures_verify_in_xmldsig_raw_form() {
        let ec = PKey::private_key_from_pem(&key_file("idp-ec.key.pem")).unwrap();
        let keys = TrustedKeys::from_pem_certificates(&[&key_file("idp-ec.cert.pem")]).unwrap();
        let root = xml::parse(DOC.as_bytes(), &Limits::default()).unwrap();
        let inner = root.elements().next().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let digest = hash(
            MessageDigest::sha256(),
            &canonicalize(inner, &c14n::Options::default()),
        )
        .unwrap();
        let si = format!("<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod><ds:Reference URI=\"#_1\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"></ds:Transform><ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{}\"></ds:DigestMethod><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>", SignatureAlgorithm::EcdsaSha256.uri(), DigestAlgorithm::Sha256.uri(), b64.encode(digest));
        let canonical_si = si.replacen(
            "<ds:SignedInfo>",
            &format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">"),
            1,
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &ec).unwrap();
        signer.update(canonical_si.as_bytes()).unwrap();
        let der = EcdsaSig::from_der(&signer.sign_to_vec().unwrap()).unwrap();
        let mut raw = vec![0u8; 64];
        let (r, s) = (der.r().to_vec(), der.s().to_vec());
        raw[32 - r.len()..32].copy_from_slice(&r);
        raw[64 - s.len()..].copy_from_slice(&s);
        let doc = DOC.replace("</r:Issuer>", &format!("</r:Issuer><ds:Signature xmlns:ds=\"{DSIG_NS}\">{si}<ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>", b64.encode(&raw)));
        let root = xml::parse(doc.as_bytes(), &Limits::default()).unwrap();
        let inner = root.elements().next().unwrap();
        assert!(verify_enveloped(&root, inner, &keys, &AlgorithmPolicy::default()).is_ok());
        // The RSA trust anchor does not verify it, and a flipped bit breaks it.
        assert!(verify_enveloped(&root, inner, &trusted(), &AlgorithmPolicy::default()).is_err());
        raw[10] ^= 1;
        let bad = DOC.replace("</r:Issuer>", &format!("</r:Issuer><ds:Signature xmlns:ds=\"{DSIG_NS}\">{si}<ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>", b64.encode(&raw)));
        let root = xml::parse(bad.as_bytes(), &Limits::default()).unwrap();
        let inner = root.elements().next().unwrap();
        assert!(verify_enveloped(&root, inner, &keys, &AlgorithmPolicy::default()).is_err());
    }
}
