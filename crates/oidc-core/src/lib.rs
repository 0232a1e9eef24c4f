//! OpenID Connect and JOSE protocol values shared by Gatehouse's two OIDC roles.
//!
//! * [`pkce`] — RFC 7636 `S256` challenges and verifiers (`plain` is refused).
//! * [`jose`] — RS256 signing keys with RFC 7638 `kid`s, JWKS rendering and parsing, and
//!   [`jose::verify`], which checks a compact JWS against a key set, an algorithm allow-list and
//!   a caller-supplied `now`.
//! * [`claims`] — ID token and back-channel logout token claim sets, shared by both roles.
//! * [`provider`] — Gatehouse as OpenID Provider to the app: discovery document, authorization
//!   and token request parsing, token / introspection responses, OAuth error values.
//! * [`relying_party`] — Gatehouse as relying party to a customer's IdP: discovery parsing,
//!   authorization URL, callback, code exchange request, ID and logout token validation.
//!
//! Validation functions return `Verified*` values that only they can construct; anything an
//! attacker sends is size-bounded before it is parsed, and no input makes them panic.
//!
//! The crate is pure: no storage, no HTTP server, no network, no clock and no OS randomness (the
//! one exception, RSA key generation, is documented on [`jose::SigningKey::generate`]).
//!
//! ```
//! use chrono::{DateTime, TimeDelta};
//! use oidc_core::jose::{self, Algorithm, Jwks, SigningKey};
//! use oidc_core::pkce;
//!
//! // PKCE, RFC 7636 Appendix B.
//! let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! let challenge = pkce::challenge_s256(verifier)?;
//! assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
//! assert!(pkce::verify_s256(verifier, &challenge));
//!
//! // Sign with Gatehouse's key, publish the JWKS, verify at a fixed `now`.
//! let key = SigningKey::generate(2048)?;
//! let token = key.sign(&serde_json::json!({ "sub": "u1", "exp": 1_700_000_300 }))?;
//! let jwks = Jwks::from_signing_keys([&key]);
//! let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
//! let verified = jose::verify(&token, &jwks, &[Algorithm::RS256], now, TimeDelta::seconds(30))?;
//! assert_eq!(verified.claims()["sub"], "u1");
//! assert_eq!(verified.kid(), Some(key.kid()));
//! # Ok::<(), oidc_core::OidcError>(())
//! ```

mod b64;
pub mod claims;
mod error;
pub mod jose;
pub mod pkce;
pub mod provider;
pub mod relying_party;

pub use error::OidcError;
