//! Checking the ID tokens the run obtained, after the timed phase (verification is the app's
//! cost, not Gatehouse's, so it stays out of the measurement): RS256 signature against the
//! published JWKS, then `iss`, `aud`, `nonce`, `email` and `tenant`.

use anyhow::{bail, ensure, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use serde_json::Value;
use std::collections::HashMap;

/// The RSA keys of a JWKS document by `kid`.
pub struct Keys {
    by_kid: HashMap<String, PKey<Public>>,
}

impl Keys {
    /// Parse the RSA keys of a JWKS (`{"keys":[{"kty":"RSA","kid":…,"n":…,"e":…}]}`).
    pub fn from_jwks(jwks: &Value) -> anyhow::Result<Keys> {
        let mut by_kid = HashMap::new();
        for key in jwks["keys"].as_array().context("JWKS without keys")? {
            if key["kty"] != "RSA" {
                continue;
            }
            let field = |name: &str| -> anyhow::Result<BigNum> {
                let text = key[name]
                    .as_str()
                    .with_context(|| format!("JWK without {name}"))?;
                Ok(BigNum::from_slice(&B64URL.decode(text)?)?)
            };
            let rsa = Rsa::from_public_components(field("n")?, field("e")?)?;
            let kid = key["kid"].as_str().unwrap_or_default().to_owned();
            by_kid.insert(kid, PKey::from_rsa(rsa)?);
        }
        ensure!(!by_kid.is_empty(), "the JWKS has no RSA key");
        Ok(Keys { by_kid })
    }
}

/// What a login's ID token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `aud` (the client id).
    pub audience: &'a str,
    /// `nonce` sent at authorize.
    pub nonce: &'a str,
    /// `email` asserted by the IdP.
    pub email: &'a str,
    /// `tenant` slug.
    pub tenant: &'a str,
}

/// Verify one compact RS256 JWS and its claims; returns the claims.
pub fn verify(keys: &Keys, token: &str, expected: &Expected<'_>) -> anyhow::Result<Value> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("not a compact JWS");
    };
    let header: Value = serde_json::from_slice(&B64URL.decode(h)?)?;
    ensure!(header["alg"] == "RS256", "alg is {}", header["alg"]);
    let kid = header["kid"].as_str().unwrap_or_default();
    let key = keys
        .by_kid
        .get(kid)
        .with_context(|| format!("unknown kid {kid:?}"))?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
    verifier.update(h.as_bytes())?;
    verifier.update(b".")?;
    verifier.update(p.as_bytes())?;
    ensure!(verifier.verify(&B64URL.decode(s)?)?, "bad signature");
    let claims: Value = serde_json::from_slice(&B64URL.decode(p)?)?;
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == expected.audience,
        Value::Array(list) => list.iter().any(|a| a == expected.audience),
        _ => false,
    };
    ensure!(aud_ok, "aud is {}", claims["aud"]);
    for (name, want) in [
        ("iss", expected.issuer),
        ("nonce", expected.nonce),
        ("email", expected.email),
        ("tenant", expected.tenant),
    ] {
        ensure!(
            claims[name] == want,
            "{name} is {}, expected {want}",
            claims[name]
        );
    }
    Ok(claims)
}
