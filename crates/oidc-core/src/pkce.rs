//! PKCE (RFC 7636), `S256` only.
//!
//! The `plain` method is refused everywhere: it protects nothing once the authorization request
//! leaks, and every current client library supports `S256`.

use crate::{b64, OidcError};
use gatehouse_types::Entropy;

/// Shortest `code_verifier` RFC 7636 §4.1 allows.
pub const MIN_VERIFIER_LEN: usize = 43;
/// Longest `code_verifier` RFC 7636 §4.1 allows.
pub const MAX_VERIFIER_LEN: usize = 128;
/// Length of an `S256` `code_challenge`: base64url of a SHA-256 digest, unpadded.
pub const S256_CHALLENGE_LEN: usize = 43;

/// The only `code_challenge_method` Gatehouse accepts.
pub const METHOD_S256: &str = "S256";

/// Whether `verifier` is 43–128 characters of the unreserved set `[A-Za-z0-9-._~]`.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&verifier.len())
        && verifier.bytes().all(is_unreserved)
}

/// Whether `challenge` has the exact shape of an `S256` challenge (43 base64url characters).
pub fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == S256_CHALLENGE_LEN
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `BASE64URL(SHA256(ASCII(code_verifier)))`, after checking the verifier's syntax.
pub fn challenge_s256(verifier: &str) -> Result<String, OidcError> {
    if !is_valid_verifier(verifier) {
        return Err(OidcError::InvalidCodeVerifier);
    }
    Ok(b64::encode(openssl::sha::sha256(verifier.as_bytes())))
}

/// Whether `code_verifier` is syntactically valid and hashes to `code_challenge`.
///
/// The comparison is constant-time so a caller that retries verifiers learns nothing from timing.
pub fn verify_s256(code_verifier: &str, code_challenge: &str) -> bool {
    let Ok(expected) = challenge_s256(code_verifier) else {
        return false;
    };
    expected.len() == code_challenge.len()
        && openssl::memcmp::eq(expected.as_bytes(), code_challenge.as_bytes())
}

/// Parse a `code_challenge_method` value: only `S256` is accepted (`plain` and anything else
/// is refused, returning `None`).
pub fn parse_method(method: &str) -> Option<&'static str> {
    (method == METHOD_S256).then_some(METHOD_S256)
}

/// A fresh `code_verifier`: 32 random bytes as 43 base64url characters (RFC 7636 §4.1's
/// recommendation), drawn from the caller's entropy source.
pub fn generate_verifier(entropy: &mut dyn Entropy) -> String {
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes);
    b64::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_types::FixedEntropy;

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(challenge_s256(RFC_VERIFIER).unwrap(), RFC_CHALLENGE);
        assert!(verify_s256(RFC_VERIFIER, RFC_CHALLENGE));
        assert!(is_valid_s256_challenge(RFC_CHALLENGE));
    }

    #[test]
    fn wrong_verifier_or_challenge_fails() {
        assert!(!verify_s256(
            RFC_VERIFIER,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!verify_s256(RFC_VERIFIER, ""));
        assert!(!verify_s256(RFC_VERIFIER, &RFC_CHALLENGE[..42]));
        let other = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(!verify_s256(other, RFC_CHALLENGE));
    }

    #[test]
    fn plain_is_refused() {
        // With `plain` the challenge equals the verifier; S256 must not accept that.
        let v = "a".repeat(43);
        assert!(!verify_s256(&v, &v));
        assert_eq!(parse_method("plain"), None);
        assert_eq!(parse_method("s256"), None);
        assert_eq!(parse_method("S256"), Some("S256"));
    }

    #[test]
    fn verifier_syntax_bounds() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(is_valid_verifier(&format!("{}-._~", "Az09".repeat(10))));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!is_valid_verifier(&format!("{}é", "a".repeat(43))));
        assert!(matches!(
            challenge_s256("short"),
            Err(OidcError::InvalidCodeVerifier)
        ));
        assert!(!verify_s256("short", "short"));
    }

    #[test]
    fn generated_verifier_is_valid_and_round_trips() {
        let v = generate_verifier(&mut FixedEntropy::new(3));
        assert_eq!(v.len(), 43);
        assert!(is_valid_verifier(&v));
        assert!(verify_s256(&v, &challenge_s256(&v).unwrap()));
    }
}
