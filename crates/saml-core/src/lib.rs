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
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod attribute_mapping;
pub mod authn_request;
pub mod c14n;
pub mod dsig;
pub mod encryption;
mod error;
pub mod idp;
pub mod metadata;
pub mod response;
pub mod xml;

pub use error::SamlError;
