//! SAML 2.0 service-provider protocol logic for Gatehouse.
//!
//! Everything here is pure: no HTTP server, no database, no network, no clock. Time (`now`),
//! randomness and trusted keys are arguments. The central entry point is
//! [`response::validate_response`], one function over an explicit [`response::ValidationRequest`]
//! that returns a [`response::VerifiedAssertion`] — a type only the verifier can construct — or a
//! typed [`SamlError`].
//!
//! Modules:
//! - [`xml`]: bounded, DTD-free XML parsing into a small owned tree.
//! - [`c14n`]: exclusive XML canonicalization (the only transform we accept).
//! - [`dsig`]: XML-DSig enveloped-signature verification (and signing, for the bundled test IdP).
//! - [`response`]: Response/Assertion validation (signature first, then only the signed bytes).
//! - [`encryption`]: EncryptedAssertion decryption (RSA-OAEP key transport, AES-GCM/CBC).
//! - [`idp`]: a minimal, real SAML IdP that builds and signs Responses (demo mode and tests).
//! - [`metadata`]: IdP metadata parsing, SP metadata rendering.
//! - [`authn_request`]: AuthnRequest construction and the HTTP-Redirect / HTTP-POST bindings.
//! - [`attribute_mapping`]: per-vendor presets mapping assertion attributes to an
//!   [`gatehouse_types::ExternalIdentity`].
//!
//! We do not use libxmlsec1: signatures are verified with our own exclusive c14n and OpenSSL so
//! that exactly the referenced element is canonicalized, and then only those canonical bytes
//! are re-parsed and read (signature first, then only the verified bytes).
//!
//! ```
//! use gatehouse_types::FixedEntropy;
//! use saml_core::dsig::{AlgorithmPolicy, TrustedKeys};
//! use saml_core::idp::{ResponseParams, TestIdentityProvider};
//! use saml_core::response::{validate_response_xml, ExpectedRequest, ValidationRequest};
//!
//! # fn main() -> Result<(), saml_core::SamlError> {
//! let keys_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/saml/keys/");
//! let read = |f: &str| std::fs::read(format!("{keys_dir}{f}")).unwrap();
//! let now = "2026-01-15T10:00:00Z".parse().unwrap();
//!
//! // A response from the bundled test IdP (test-only key)...
//! let idp = TestIdentityProvider::from_pem(
//!     "https://idp.example.com",
//!     &read("idp.key.pem"),
//!     &read("idp.cert.pem"),
//! )?;
//! let mut params =
//!     ResponseParams::new("https://sp.example.com/acs", "https://sp.example.com", "jane@example.com");
//! params.in_response_to = Some("_req1".into());
//! let xml = idp.response(&params, now, &mut FixedEntropy::new(1))?;
//!
//! // ...validated like any IdP's, against the pinned certificate.
//! let trusted_keys = TrustedKeys::from_pem_certificates(&[&read("idp.cert.pem")])?;
//! let request = ValidationRequest {
//!     trusted_keys: &trusted_keys,
//!     algorithms: &AlgorithmPolicy::default(),
//!     expected_issuer: "https://idp.example.com",
//!     expected_audience: "https://sp.example.com",
//!     acs_url: "https://sp.example.com/acs",
//!     in_response_to: ExpectedRequest::Solicited("_req1"),
//!     now,
//!     clock_skew: chrono::Duration::seconds(60),
//!     decryption_keys: &[],
//!     limits: Default::default(),
//! };
//! let verified = validate_response_xml(&request, xml.as_bytes())?;
//! assert_eq!(verified.name_id(), "jane@example.com");
//! assert_eq!(verified.in_response_to(), Some("_req1"));
//! # Ok(())
//! # }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod attribute_mapping;
pub mod authn_request;
pub mod c14n;
pub mod dsig;
pub mod encryption;
mod error;
pub mod idp;
pub mod logout;
pub mod metadata;
pub mod response;
pub mod xml;

pub use error::SamlError;
