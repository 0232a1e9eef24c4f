//! OpenID Connect and JOSE protocol values shared by Gatehouse's two OIDC roles.
//!
//! * [`pkce`] — RFC 7636 `S256` challenges and verifiers (`plain` is refused).
//! * [`jose`] — RS256 signing keys with RFC 7638 `kid`s, JWKS rendering and parsing, and
//!   [`jose::verify`], which checks a compact JWS against a key set, an algorithm allow-list and
//!   a caller-supplied `now`.
//!
//! The crate is pure: no storage, no HTTP server, no network, no clock and no OS randomness (the
//! one exception, RSA key generation, is documented on [`jose::SigningKey::generate`]).
//!
//! ```
//! use oidc_core::pkce;
//! let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! let challenge = pkce::challenge_s256(verifier)?;
//! assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
//! assert!(pkce::verify_s256(verifier, &challenge));
//! # Ok::<(), oidc_core::OidcError>(())
//! ```

mod b64;
pub mod claims;
mod error;
pub mod jose;
pub mod pkce;
pub mod provider;

pub use error::OidcError;
