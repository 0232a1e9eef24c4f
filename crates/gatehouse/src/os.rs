//! The operating system's clock and random number generator: the only place library code
//! touches them, and only the binaries call in here (embedders pass their own).

use chrono::{DateTime, Utc};
use gatehouse_types::Entropy;

/// The OS CSPRNG (through OpenSSL).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    #[allow(clippy::disallowed_methods)] // this is the sanctioned source of randomness
    fn fill(&mut self, buf: &mut [u8]) {
        if let Err(e) = openssl::rand::rand_bytes(buf) {
            // Without randomness nothing secure can be produced; continuing would hand out
            // predictable tokens.
            tracing::error!(error = %e, "OS random number generator failed");
            std::process::abort();
        }
    }
}

/// The wall clock, read once per request at the entry point.
#[allow(clippy::disallowed_methods)] // the sanctioned clock
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// `len` bytes from the OS RNG as hex (correlation ids).
pub fn random_hex(len: usize) -> String {
    gatehouse_types::random_token(&mut OsEntropy, len)
}
