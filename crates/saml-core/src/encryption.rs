//! `saml:EncryptedAssertion` (XML Encryption 1.1) decryption and, for the test IdP, encryption.
//!
//! Accepted: key transport RSA-OAEP (`xmlenc#rsa-oaep-mgf1p` with SHA-1 or SHA-256 digest, or
//! `xmlenc11#rsa-oaep` with an MGF1 SHA-1/SHA-256), content AES-128/256-GCM and AES-128/256-CBC.
//! RSA PKCS#1 v1.5 key transport is refused (Bleichenbacher). Every failure is the same
//! [`SamlError::DecryptionFailed`] so that the error channel is not a padding or format oracle.
//!
//! Decryption does not make anything trusted: the decrypted `Assertion` must carry its own valid
//! signature (checked by [`crate::response`]).

use crate::dsig::{decode_base64_text, DSIG_NS};
use crate::xml::Element;
use crate::SamlError;
use base64::Engine;
use gatehouse_types::Entropy;
use openssl::encrypt::{Decrypter, Encrypter};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Padding;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher, Crypter, Mode};

/// The XML Encryption 1.0 namespace.
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
/// The XML Encryption 1.1 namespace.
pub const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP_11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

/// Content (bulk) encryption algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentAlgorithm {
    /// AES-128-GCM (`xmlenc11#aes128-gcm`).
    Aes128Gcm,
    /// AES-256-GCM (`xmlenc11#aes256-gcm`).
    Aes256Gcm,
    /// AES-128-CBC (`xmlenc#aes128-cbc`), still the default of several IdPs.
    Aes128Cbc,
    /// AES-256-CBC (`xmlenc#aes256-cbc`).
    Aes256Cbc,
}

impl ContentAlgorithm {
    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Self::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            Self::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            Self::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        }
    }

    fn from_uri(uri: &str) -> Option<Self> {
        [
            Self::Aes128Gcm,
            Self::Aes256Gcm,
            Self::Aes128Cbc,
            Self::Aes256Cbc,
        ]
        .into_iter()
        .find(|a| a.uri() == uri)
    }

    fn cipher(self) -> Cipher {
        match self {
            Self::Aes128Gcm => Cipher::aes_128_gcm(),
            Self::Aes256Gcm => Cipher::aes_256_gcm(),
            Self::Aes128Cbc => Cipher::aes_128_cbc(),
            Self::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }

    fn is_gcm(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes256Gcm)
    }

    fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm | Self::Aes128Cbc => 16,
            Self::Aes256Gcm | Self::Aes256Cbc => 32,
        }
    }
}

/// Key transport algorithm (RSA-OAEP with MGF1; the named digest is the OAEP digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyTransport {
    /// `rsa-oaep-mgf1p` with SHA-1 OAEP digest (MGF1-SHA1): the common IdP default.
    RsaOaepSha1,
    /// `rsa-oaep-mgf1p` with SHA-256 OAEP digest (MGF1-SHA1, as that URI defines).
    RsaOaepSha256,
}

fn failed<T>(_: T) -> SamlError {
    SamlError::DecryptionFailed
}

fn digest_from_uri(uri: Option<&str>) -> Result<MessageDigest, SamlError> {
    match uri {
        None | Some("http://www.w3.org/2000/09/xmldsig#sha1") => Ok(MessageDigest::sha1()),
        Some("http://www.w3.org/2001/04/xmlenc#sha256") => Ok(MessageDigest::sha256()),
        _ => Err(SamlError::DecryptionFailed),
    }
}

fn mgf_from_uri(uri: Option<&str>) -> Result<MessageDigest, SamlError> {
    match uri {
        None | Some("http://www.w3.org/2009/xmlenc11#mgf1sha1") => Ok(MessageDigest::sha1()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha256") => Ok(MessageDigest::sha256()),
        _ => Err(SamlError::DecryptionFailed),
    }
}

fn cipher_value(el: &Element) -> Result<Vec<u8>, SamlError> {
    el.only_child(XENC_NS, "CipherData")
        .and_then(|c| c.only_child(XENC_NS, "CipherValue"))
        .ok()
        .and_then(|v| decode_base64_text(&v.text()))
        .ok_or(SamlError::DecryptionFailed)
}

/// Unwraps one `xenc:EncryptedKey` with one private key.
fn unwrap_key(encrypted_key: &Element, key: &PKey<Private>) -> Result<Vec<u8>, SamlError> {
    let method = encrypted_key
        .only_child(XENC_NS, "EncryptionMethod")
        .map_err(failed)?;
    let (oaep_md, mgf_md) = match method.attr("Algorithm") {
        Some(RSA_OAEP_MGF1P) => {
            let d = method
                .child(DSIG_NS, "DigestMethod")
                .and_then(|d| d.attr("Algorithm"));
            (digest_from_uri(d)?, MessageDigest::sha1())
        }
        Some(RSA_OAEP_11) => {
            let d = method
                .child(DSIG_NS, "DigestMethod")
                .and_then(|d| d.attr("Algorithm"));
            let m = method
                .child(XENC11_NS, "MGF")
                .and_then(|d| d.attr("Algorithm"));
            (digest_from_uri(d)?, mgf_from_uri(m)?)
        }
        // rsa-1_5 and everything else.
        _ => return Err(SamlError::DecryptionFailed),
    };
    if method.child(XENC_NS, "OAEPparams").is_some() {
        return Err(SamlError::DecryptionFailed);
    }
    let wrapped = cipher_value(encrypted_key)?;
    let mut d = Decrypter::new(key).map_err(failed)?;
    d.set_rsa_padding(Padding::PKCS1_OAEP).map_err(failed)?;
    d.set_rsa_oaep_md(oaep_md).map_err(failed)?;
    d.set_rsa_mgf1_md(mgf_md).map_err(failed)?;
    let mut out = vec![0u8; d.decrypt_len(&wrapped).map_err(failed)?];
    let n = d.decrypt(&wrapped, &mut out).map_err(failed)?;
    out.truncate(n);
    Ok(out)
}

/// Decrypts an `EncryptedAssertion` element and returns the plaintext (the serialized
/// `saml:Assertion`, to be parsed in the namespace context of `encrypted_assertion`).
pub fn decrypt_assertion(
    encrypted_assertion: &Element,
    keys: &[PKey<Private>],
    max_bytes: usize,
) -> Result<Vec<u8>, SamlError> {
    if keys.is_empty() {
        return Err(SamlError::DecryptionFailed);
    }
    let data = encrypted_assertion
        .only_child(XENC_NS, "EncryptedData")
        .map_err(failed)?;
    let content = data
        .only_child(XENC_NS, "EncryptionMethod")
        .ok()
        .and_then(|m| m.attr("Algorithm"))
        .and_then(ContentAlgorithm::from_uri)
        .ok_or(SamlError::DecryptionFailed)?;
    // EncryptedKey inside EncryptedData/KeyInfo, or (Okta, Entra with RetrievalMethod) as a
    // sibling of EncryptedData.
    let mut encrypted_keys: Vec<&Element> = Vec::new();
    if let Some(ki) = data.child(DSIG_NS, "KeyInfo") {
        encrypted_keys.extend(ki.children_named(XENC_NS, "EncryptedKey"));
    }
    encrypted_keys.extend(encrypted_assertion.children_named(XENC_NS, "EncryptedKey"));
    let ciphertext = cipher_value(data)?;
    if ciphertext.len() > max_bytes {
        return Err(SamlError::DecryptionFailed);
    }
    let cek = encrypted_keys
        .iter()
        .flat_map(|ek| keys.iter().map(move |k| (ek, k)))
        .find_map(|(ek, k)| unwrap_key(ek, k).ok())
        .ok_or(SamlError::DecryptionFailed)?;
    if cek.len() != content.key_len() {
        return Err(SamlError::DecryptionFailed);
    }
    let cipher = content.cipher();
    if content.is_gcm() {
        if ciphertext.len() < 12 + 16 {
            return Err(SamlError::DecryptionFailed);
        }
        let (iv, rest) = ciphertext.split_at(12);
        let (body, tag) = rest.split_at(rest.len() - 16);
        decrypt_aead(cipher, &cek, Some(iv), &[], body, tag).map_err(failed)
    } else {
        if ciphertext.len() < 32 || !ciphertext.len().is_multiple_of(16) {
            return Err(SamlError::DecryptionFailed);
        }
        let (iv, body) = ciphertext.split_at(16);
        let mut c = Crypter::new(cipher, Mode::Decrypt, &cek, Some(iv)).map_err(failed)?;
        // XML Encryption padding: only the last byte (the pad length) is defined.
        c.pad(false);
        let mut out = vec![0u8; body.len() + 16];
        let mut n = c.update(body, &mut out).map_err(failed)?;
        n += c.finalize(&mut out[n..]).map_err(failed)?;
        out.truncate(n);
        let pad = usize::from(*out.last().ok_or(SamlError::DecryptionFailed)?);
        if pad == 0 || pad > 16 || pad > out.len() {
            return Err(SamlError::DecryptionFailed);
        }
        out.truncate(out.len() - pad);
        Ok(out)
    }
}

/// Encrypts a serialized `saml:Assertion` (which must declare the namespaces it uses) for
/// `recipient` and returns a complete `<saml:EncryptedAssertion>` element.
///
/// The content key and IV come from `entropy`; the OAEP seed comes from OpenSSL's own generator.
pub fn encrypt_assertion(
    assertion_xml: &str,
    recipient: &PKey<Public>,
    content: ContentAlgorithm,
    transport: KeyTransport,
    entropy: &mut dyn Entropy,
) -> Result<String, SamlError> {
    let bad = |_| SamlError::BadKey {
        detail: "encryption failed".into(),
    };
    let mut cek = vec![0u8; content.key_len()];
    entropy.fill(&mut cek);
    let plaintext = assertion_xml.as_bytes();
    let mut data = Vec::new();
    if content.is_gcm() {
        let mut iv = [0u8; 12];
        entropy.fill(&mut iv);
        let mut tag = [0u8; 16];
        let body = encrypt_aead(content.cipher(), &cek, Some(&iv), &[], plaintext, &mut tag)
            .map_err(bad)?;
        data.extend_from_slice(&iv);
        data.extend_from_slice(&body);
        data.extend_from_slice(&tag);
    } else {
        let mut iv = [0u8; 16];
        entropy.fill(&mut iv);
        let pad = 16 - plaintext.len() % 16;
        let mut padded = plaintext.to_vec();
        padded.extend(std::iter::repeat_n(pad as u8, pad));
        let mut c = Crypter::new(content.cipher(), Mode::Encrypt, &cek, Some(&iv)).map_err(bad)?;
        c.pad(false);
        let mut out = vec![0u8; padded.len() + 16];
        let mut n = c.update(&padded, &mut out).map_err(bad)?;
        n += c.finalize(&mut out[n..]).map_err(bad)?;
        out.truncate(n);
        data.extend_from_slice(&iv);
        data.extend_from_slice(&out);
    }
    let (oaep_md, digest_uri) = match transport {
        KeyTransport::RsaOaepSha1 => (
            MessageDigest::sha1(),
            "http://www.w3.org/2000/09/xmldsig#sha1",
        ),
        KeyTransport::RsaOaepSha256 => (
            MessageDigest::sha256(),
            "http://www.w3.org/2001/04/xmlenc#sha256",
        ),
    };
    let mut e = Encrypter::new(recipient).map_err(bad)?;
    e.set_rsa_padding(Padding::PKCS1_OAEP).map_err(bad)?;
    e.set_rsa_oaep_md(oaep_md).map_err(bad)?;
    e.set_rsa_mgf1_md(MessageDigest::sha1()).map_err(bad)?;
    let mut wrapped = vec![0u8; e.encrypt_len(&cek).map_err(bad)?];
    let n = e.encrypt(&cek, &mut wrapped).map_err(bad)?;
    wrapped.truncate(n);
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(format!(
        "<saml:EncryptedAssertion xmlns:saml=\"{SAML_NS}\"><xenc:EncryptedData xmlns:xenc=\"{XENC_NS}\" Type=\"http://www.w3.org/2001/04/xmlenc#Element\"><xenc:EncryptionMethod Algorithm=\"{}\"/><ds:KeyInfo xmlns:ds=\"{DSIG_NS}\"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"{RSA_OAEP_MGF1P}\"><ds:DigestMethod Algorithm=\"{digest_uri}\"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>",
        content.uri(),
        b64.encode(wrapped),
        b64.encode(data),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};
    use gatehouse_types::FixedEntropy;
    use openssl::rsa::Rsa;

    #[test]
    fn round_trips_every_content_algorithm_and_refuses_rsa_1_5() {
        let rsa = Rsa::generate(2048).unwrap();
        let private = PKey::from_rsa(rsa.clone()).unwrap();
        let public = PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let plain =
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a\"/>";
        let mut entropy = FixedEntropy::new(1);
        for content in [
            ContentAlgorithm::Aes128Gcm,
            ContentAlgorithm::Aes256Gcm,
            ContentAlgorithm::Aes128Cbc,
            ContentAlgorithm::Aes256Cbc,
        ] {
            for transport in [KeyTransport::RsaOaepSha1, KeyTransport::RsaOaepSha256] {
                let enc =
                    encrypt_assertion(plain, &public, content, transport, &mut entropy).unwrap();
                let el = parse(enc.as_bytes(), &Limits::default()).unwrap();
                let out = decrypt_assertion(&el, std::slice::from_ref(&private), 1 << 20).unwrap();
                assert_eq!(out, plain.as_bytes());
                assert_eq!(
                    decrypt_assertion(&el, std::slice::from_ref(&other), 1 << 20),
                    Err(SamlError::DecryptionFailed)
                );
                assert_eq!(
                    decrypt_assertion(&el, &[], 1 << 20),
                    Err(SamlError::DecryptionFailed)
                );
                // Same ciphertext, key transport relabelled rsa-1_5: refused.
                let downgraded =
                    enc.replace(RSA_OAEP_MGF1P, "http://www.w3.org/2001/04/xmlenc#rsa-1_5");
                let el = parse(downgraded.as_bytes(), &Limits::default()).unwrap();
                assert_eq!(
                    decrypt_assertion(&el, std::slice::from_ref(&private), 1 << 20),
                    Err(SamlError::DecryptionFailed)
                );
            }
        }
    }
}
