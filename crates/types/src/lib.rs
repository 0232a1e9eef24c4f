//! Shared vocabulary of Gatehouse: the normalised [`ExternalIdentity`] every upstream protocol
//! produces, and the [`Entropy`] parameter through which randomness enters library code.
//!
//! This crate knows nothing else in the workspace (see `docs/architecture.md`).
//!
//! ```
//! use gatehouse_types::{Entropy, FixedEntropy, random_token};
//! let mut entropy = FixedEntropy::new(7);
//! let token = random_token(&mut entropy, 16);
//! assert_eq!(token.len(), 32);
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A source of cryptographically strong random bytes.
///
/// Library crates never read the operating system's RNG themselves: the binaries pass the OS
/// source in, tests pass a [`FixedEntropy`] so their output is reproducible.
pub trait Entropy: Send {
    /// Fill `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Deterministic entropy for tests and benchmarks (a counter-seeded xorshift; never use it to
/// protect anything).
#[derive(Debug, Clone)]
pub struct FixedEntropy {
    state: u64,
}

impl FixedEntropy {
    /// A generator whose output is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }
}

impl Entropy for FixedEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for byte in buf.iter_mut() {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *byte = (self.state >> 24) as u8;
        }
    }
}

/// `len` random bytes rendered as lowercase hex (so `2 * len` characters).
pub fn random_token(entropy: &mut dyn Entropy, len: usize) -> String {
    let mut bytes = vec![0u8; len];
    entropy.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How the upstream identity provider authenticated the user, as it asserted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthnContext {
    /// Authentication context class (SAML `AuthnContextClassRef` or OIDC `acr`), if asserted.
    pub acr: Option<String>,
    /// Authentication methods (OIDC `amr`, or derived from the SAML context class).
    pub amr: Vec<String>,
    /// When the user authenticated at the IdP, if asserted.
    pub auth_time: Option<DateTime<Utc>>,
    /// The IdP's own session index (SAML `SessionIndex`), used for single logout.
    pub session_index: Option<String>,
}

/// Everything Gatehouse learned about a user from one verified upstream authentication,
/// normalised across SAML, OIDC and WS-Federation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    /// Stable subject at the IdP (NameID or mapped attribute; OIDC `sub`).
    pub subject: String,
    /// E-mail address, if the IdP sent one.
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Group names the IdP asserted.
    pub groups: Vec<String>,
    /// Every attribute as received (name → values), for role rules and audit.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// How the user authenticated.
    pub authn: AuthnContext,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_entropy_is_reproducible_and_not_constant() {
        let a = random_token(&mut FixedEntropy::new(1), 8);
        let b = random_token(&mut FixedEntropy::new(1), 8);
        let c = random_token(&mut FixedEntropy::new(2), 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, "0000000000000000");
    }
}
