//! Secrets at rest (SP private keys, token-signing keys) are sealed with AES-256-GCM under a key
//! the operator supplies through the environment. The stored form is `v1.<base64(nonce|ct|tag)>`,
//! versioned so the scheme can change without guessing.

use crate::error::{GatehouseError, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use gatehouse_types::Entropy;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

const PREFIX: &str = "v1.";

/// Seals and opens secrets with one 256-bit key.
#[derive(Clone)]
pub struct SecretBox {
    key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box over a raw 32-byte key.
    pub fn new(key: [u8; 32]) -> Self {
        SecretBox { key }
    }

    /// Parse the key as configured: 32 bytes, base64 (standard alphabet) or 64 hex digits.
    pub fn from_encoded(encoded: &str) -> Result<Self> {
        let encoded = encoded.trim();
        let bytes = if encoded.len() == 64 && encoded.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&encoded[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| GatehouseError::invalid("secret key", "not hex"))?
        } else {
            B64.decode(encoded)
                .map_err(|_| GatehouseError::invalid("secret key", "not base64 or hex"))?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| GatehouseError::invalid("secret key", "must be exactly 32 bytes"))?;
        Ok(SecretBox { key })
    }

    /// Encrypt `plaintext`.
    pub fn seal(&self, plaintext: &[u8], entropy: &mut dyn Entropy) -> Result<String> {
        let mut nonce = [0u8; 12];
        entropy.fill(&mut nonce);
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            PREFIX.as_bytes(),
            plaintext,
            &mut tag,
        )?;
        let mut out = Vec::with_capacity(12 + ct.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Decrypt what [`SecretBox::seal`] produced. A wrong key or tampered value is an internal
    /// error (it means the deployment's key changed, not bad user input).
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| GatehouseError::internal("sealed secret has an unknown version"))?;
        let raw = B64
            .decode(body)
            .map_err(|_| GatehouseError::internal("sealed secret is not base64"))?;
        if raw.len() < 28 {
            return Err(GatehouseError::internal("sealed secret too short"));
        }
        let (nonce, rest) = raw.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            PREFIX.as_bytes(),
            ct,
            tag,
        )
        .map_err(|_| {
            GatehouseError::internal("sealed secret does not open with the configured key")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_types::FixedEntropy;

    #[test]
    fn seal_open_round_trip_and_wrong_key_fails() {
        let a = SecretBox::new([1; 32]);
        let sealed = a.seal(b"private key", &mut FixedEntropy::new(1)).unwrap();
        assert!(sealed.starts_with("v1."));
        assert_eq!(a.open(&sealed).unwrap(), b"private key");
        assert!(SecretBox::new([2; 32]).open(&sealed).is_err());
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(a.open(&String::from_utf8(tampered).unwrap()).is_err());
    }

    #[test]
    fn key_encodings() {
        assert!(SecretBox::from_encoded(&"ab".repeat(32)).is_ok());
        assert!(SecretBox::from_encoded(&B64.encode([7u8; 32])).is_ok());
        assert!(SecretBox::from_encoded(&B64.encode([7u8; 31])).is_err());
        assert!(SecretBox::from_encoded("").is_err());
    }
}
