//! JWS (RFC 7515) compact serialization, JWK/JWKS (RFC 7517) and JWK thumbprints (RFC 7638).
//!
//! Gatehouse signs with RS256 only ([`SigningKey`]); it verifies RS256 and ES256 ([`verify`]).
//! `none` and every `HS*` algorithm are refused before any key is looked at: a JWKS holds public
//! keys, and treating one as an HMAC secret is the classic algorithm-confusion attack.
//!
//! Verification is fail-closed by construction: [`verify`] needs a non-empty algorithm allow-list
//! and a key set, requires `exp`, and decodes the payload only after the signature over the exact
//! received bytes has verified. Duplicate JSON member names resolve to the lexically last one,
//! which RFC 7515 §4 permits.

use crate::{b64, OidcError};
use chrono::{DateTime, TimeDelta, Utc};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Largest compact JWS [`verify`] will look at (16 KiB); anything longer is refused unparsed.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Largest JWKS document [`Jwks::parse`] accepts.
pub const MAX_JWKS_LEN: usize = 128 * 1024;
/// Most keys [`Jwks::parse`] accepts in one set.
pub const MAX_JWKS_KEYS: usize = 64;
/// Smallest RSA modulus accepted for signing or verification.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest RSA modulus accepted, which bounds the cost of one verification.
pub const MAX_RSA_BITS: u32 = 8192;
/// Largest PEM document [`SigningKey::from_pem`] accepts.
pub const MAX_PEM_LEN: usize = 64 * 1024;

/// A JWS algorithm this crate can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the algorithm Gatehouse signs with).
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }

    /// Map an `alg` header value to a supported algorithm. `none`, `HS*` and anything unknown
    /// are [`OidcError::UnsupportedAlgorithm`].
    pub fn parse(alg: &str) -> Result<Self, OidcError> {
        match alg {
            "RS256" => Ok(Algorithm::RS256),
            "ES256" => Ok(Algorithm::ES256),
            other => Err(OidcError::UnsupportedAlgorithm {
                alg: truncate(other),
            }),
        }
    }

    fn kty(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RSA",
            Algorithm::ES256 => "EC",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key as published in a JWKS (RFC 7517), RSA or EC.
///
/// Deserialization is lenient (unknown members ignored, key material optional) so that one odd
/// key in a provider's set does not make the whole set unusable; a malformed key is refused only
/// when a token actually selects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA` or `EC`.
    pub kty: String,
    /// Key id: the RFC 7638 thumbprint for Gatehouse's own keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm the key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use: `sig` for every key Gatehouse publishes; `enc` keys are never used to verify.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// RSA modulus, base64url big-endian without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url big-endian without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve name (`P-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl Jwk {
    /// The RFC 7638 JWK thumbprint: base64url(SHA-256) of the required members in
    /// lexicographic order with no whitespace.
    pub fn thumbprint(&self) -> Result<String, OidcError> {
        // Built by hand rather than via serde so member order and escaping are exactly the RFC's;
        // the values are base64url or fixed names, which need no JSON escaping, and are checked.
        let canonical =
            match self.kty.as_str() {
                "RSA" => format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64_member(&self.e, "e")?,
                    b64_member(&self.n, "n")?
                ),
                "EC" => {
                    let crv = self.crv.as_deref().filter(|c| *c == "P-256").ok_or(
                        OidcError::InvalidKey {
                            reason: "EC key is not on P-256",
                        },
                    )?;
                    format!(
                        r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                        b64_member(&self.x, "x")?,
                        b64_member(&self.y, "y")?
                    )
                }
                _ => {
                    return Err(OidcError::InvalidKey {
                        reason: "unsupported kty",
                    })
                }
            };
        Ok(b64::encode(openssl::sha::sha256(canonical.as_bytes())))
    }

    /// Whether this key may verify a token signed with `alg`: same key type, not an
    /// encryption key, and no conflicting `alg` member.
    fn usable_for(&self, alg: Algorithm) -> bool {
        self.kty == alg.kty()
            && self.use_.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }

    fn public_key(&self, alg: Algorithm) -> Result<PKey<Public>, OidcError> {
        match alg {
            Algorithm::RS256 => {
                let n = BigNum::from_slice(&b64_bytes(&self.n, "n")?)?;
                let e = BigNum::from_slice(&b64_bytes(&self.e, "e")?)?;
                let bits = n.num_bits();
                if bits < MIN_RSA_BITS as i32 {
                    return Err(OidcError::InvalidKey {
                        reason: "RSA modulus shorter than 2048 bits",
                    });
                }
                if bits > MAX_RSA_BITS as i32 || e.num_bits() > 64 {
                    return Err(OidcError::InvalidKey {
                        reason: "RSA key too large",
                    });
                }
                Ok(PKey::from_rsa(Rsa::from_public_components(n, e)?)?)
            }
            Algorithm::ES256 => {
                if self.crv.as_deref() != Some("P-256") {
                    return Err(OidcError::InvalidKey {
                        reason: "EC key is not on P-256",
                    });
                }
                let x = b64_bytes(&self.x, "x")?;
                let y = b64_bytes(&self.y, "y")?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(OidcError::InvalidKey {
                        reason: "P-256 coordinates must be 32 bytes",
                    });
                }
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                let (x, y) = (BigNum::from_slice(&x)?, BigNum::from_slice(&y)?);
                // OpenSSL checks the point is on the curve here (invalid-curve attacks).
                let key =
                    EcKey::from_public_key_affine_coordinates(&group, &x, &y).map_err(|_| {
                        OidcError::InvalidKey {
                            reason: "EC point is not on P-256",
                        }
                    })?;
                Ok(PKey::from_ec_key(key)?)
            }
        }
    }
}

fn b64_member<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, OidcError> {
    let text = value.as_deref().ok_or(OidcError::InvalidKey {
        reason: missing_member(name),
    })?;
    // Decoding proves the text is canonical base64url, hence safe to embed in JSON unescaped.
    b64::decode(text).ok_or(OidcError::InvalidKey {
        reason: "key member is not base64url",
    })?;
    Ok(text)
}

fn b64_bytes(value: &Option<String>, name: &'static str) -> Result<Vec<u8>, OidcError> {
    let text = value.as_deref().ok_or(OidcError::InvalidKey {
        reason: missing_member(name),
    })?;
    b64::decode(text).ok_or(OidcError::InvalidKey {
        reason: "key member is not base64url",
    })
}

fn missing_member(name: &'static str) -> &'static str {
    match name {
        "n" => "RSA key without n",
        "e" => "RSA key without e",
        "x" => "EC key without x",
        _ => "EC key without y",
    }
}

/// A JWK Set: what `/oauth/jwks` serves and what an upstream provider's `jwks_uri` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys, in publication order.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The public set for Gatehouse's own signing keys. Publish the current key and, during
    /// rotation, the previous ones until every token they signed has expired.
    pub fn from_signing_keys<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> Self {
        Jwks {
            keys: keys.into_iter().map(|k| k.public_jwk().clone()).collect(),
        }
    }

    /// Parse a JWKS document fetched from a provider, bounded in size and key count.
    pub fn parse(bytes: &[u8]) -> Result<Self, OidcError> {
        if bytes.len() > MAX_JWKS_LEN {
            return Err(OidcError::TooLarge {
                what: "JWKS",
                len: bytes.len(),
                max: MAX_JWKS_LEN,
            });
        }
        let jwks: Jwks = serde_json::from_slice(bytes).map_err(|source| OidcError::Json {
            what: "JWKS",
            source,
        })?;
        if jwks.keys.len() > MAX_JWKS_KEYS {
            return Err(OidcError::TooLarge {
                what: "JWKS key count",
                len: jwks.keys.len(),
                max: MAX_JWKS_KEYS,
            });
        }
        Ok(jwks)
    }

    /// The set as a JSON document.
    pub fn to_json(&self) -> Value {
        // A struct of strings always serializes; fall back to an empty set rather than panic.
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({ "keys": [] }))
    }
}

/// Gatehouse's RS256 signing key: an RSA private key of at least 2048 bits and its `kid`.
///
/// `Debug` shows only the `kid`, never key material.
#[derive(Clone)]
pub struct SigningKey {
    key: PKey<Private>,
    jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .field("alg", &"RS256")
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Load an RSA private key from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    /// Refuses non-RSA keys, keys under 2048 bits and keys failing OpenSSL's consistency check.
    pub fn from_pem(pem: &[u8]) -> Result<Self, OidcError> {
        if pem.len() > MAX_PEM_LEN {
            return Err(OidcError::TooLarge {
                what: "PEM key",
                len: pem.len(),
                max: MAX_PEM_LEN,
            });
        }
        let key = PKey::private_key_from_pem(pem).map_err(|_| OidcError::InvalidKey {
            reason: "not a PEM private key",
        })?;
        Self::from_pkey(key)
    }

    fn from_pkey(key: PKey<Private>) -> Result<Self, OidcError> {
        let rsa = key.rsa().map_err(|_| OidcError::InvalidKey {
            reason: "signing key is not RSA",
        })?;
        let bits = rsa.n().num_bits();
        if bits < MIN_RSA_BITS as i32 || bits > MAX_RSA_BITS as i32 {
            return Err(OidcError::InvalidKey {
                reason: "RSA signing key must be 2048 to 8192 bits",
            });
        }
        if !rsa.check_key().unwrap_or(false) {
            return Err(OidcError::InvalidKey {
                reason: "RSA key fails consistency check",
            });
        }
        let mut jwk = Jwk {
            kty: "RSA".to_owned(),
            kid: None,
            alg: Some("RS256".to_owned()),
            use_: Some("sig".to_owned()),
            n: Some(b64::encode(rsa.n().to_vec())),
            e: Some(b64::encode(rsa.e().to_vec())),
            crv: None,
            x: None,
            y: None,
        };
        jwk.kid = Some(jwk.thumbprint()?);
        Ok(SigningKey { key, jwk })
    }

    /// Generate a fresh RSA key of `bits` (2048–8192).
    ///
    /// Key generation draws from OpenSSL's own CSPRNG, the one exception to "randomness is a
    /// parameter": an [`gatehouse_types::Entropy`] stream cannot be fed to OpenSSL's prime
    /// search, and a key generated from test entropy must never exist anyway. Call it from the
    /// binaries (key creation / rotation commands), not from request handling.
    pub fn generate(bits: u32) -> Result<Self, OidcError> {
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(OidcError::InvalidKey {
                reason: "RSA signing key must be 2048 to 8192 bits",
            });
        }
        Self::from_pkey(PKey::from_rsa(Rsa::generate(bits)?)?)
    }

    /// The private key as PKCS#8 PEM, for storage (encrypt it at rest).
    pub fn to_pem(&self) -> Result<Vec<u8>, OidcError> {
        Ok(self.key.private_key_to_pem_pkcs8()?)
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        self.jwk.kid.as_deref().unwrap_or_default()
    }

    /// The signing algorithm (always RS256).
    pub fn alg(&self) -> Algorithm {
        Algorithm::RS256
    }

    /// The public half as a JWK (`kty`, `n`, `e`, `kid`, `alg`, `use=sig`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Sign `claims` as a compact JWS with header `{"alg":"RS256","kid":…,"typ":"JWT"}`.
    pub fn sign(&self, claims: &Value) -> Result<String, OidcError> {
        self.sign_with_typ(claims, "JWT")
    }

    /// Sign with an explicit `typ` header (e.g. `logout+jwt`, so a logout token can never be
    /// mistaken for an ID token by a recipient that checks types).
    pub fn sign_with_typ(&self, claims: &Value, typ: &str) -> Result<String, OidcError> {
        let header = serde_json::json!({ "alg": "RS256", "kid": self.kid(), "typ": typ });
        let header = serde_json::to_vec(&header).map_err(|source| OidcError::Json {
            what: "JWS header",
            source,
        })?;
        let payload = serde_json::to_vec(claims).map_err(|source| OidcError::Json {
            what: "JWS payload",
            source,
        })?;
        let signing_input = format!("{}.{}", b64::encode(header), b64::encode(payload));
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        let signature = signer.sign_oneshot_to_vec(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64::encode(signature)))
    }
}

/// Generate a fresh RS256 signing key of `bits` (see [`SigningKey::generate`] for the RNG note).
pub fn generate_rsa_key(bits: u32) -> Result<SigningKey, OidcError> {
    SigningKey::generate(bits)
}

/// A JWS whose signature verified and whose time claims are in range. Only [`verify`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJws {
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
    claims: Map<String, Value>,
}

impl VerifiedJws {
    /// The algorithm that verified.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
    /// The header `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The header `typ`, if any.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
    /// The verified claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
    /// Take the verified claims.
    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }
}

/// Verify a compact JWS against `keys` and return its claims.
///
/// Refuses, in this order: tokens over [`MAX_TOKEN_LEN`]; anything but three base64url segments;
/// `alg` `none`/`HS*`/unknown; an `alg` not in `allowed_algs` (which must be non-empty); `crit`;
/// a `kid` (or, without `kid`, an algorithm) no published key matches; a signature that no
/// candidate key verifies; a payload that is not a JSON object; a missing or past `exp`; an `nbf`
/// or `iat` in the future. `leeway` (negative counts as zero) widens each time comparison.
pub fn verify(
    token: &str,
    keys: &Jwks,
    allowed_algs: &[Algorithm],
    now: DateTime<Utc>,
    leeway: TimeDelta,
) -> Result<VerifiedJws, OidcError> {
    let verified = verify_signature(token, keys, allowed_algs)?;
    check_times(&verified.claims, now, leeway)?;
    Ok(verified)
}

/// Everything [`verify`] checks except the time claims, for the one caller with its own time
/// rule (`id_token_hint`, which may be expired). Crate-private so no caller can forget times.
pub(crate) fn verify_signature(
    token: &str,
    keys: &Jwks,
    allowed_algs: &[Algorithm],
) -> Result<VerifiedJws, OidcError> {
    if allowed_algs.is_empty() {
        return Err(OidcError::EmptyAlgorithmAllowList);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(OidcError::TooLarge {
            what: "JWS",
            len: token.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::MalformedToken {
            reason: "not three dot-separated segments",
        });
    };
    let header = decode_json_object(header_b64, "header is not a base64url JSON object")?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(OidcError::MalformedToken {
            reason: "header has no string alg",
        })?;
    let alg = Algorithm::parse(alg_name)?;
    if !allowed_algs.contains(&alg) {
        return Err(OidcError::AlgorithmNotAllowed {
            alg: alg.as_str().to_owned(),
        });
    }
    if header.contains_key("crit") {
        return Err(OidcError::CriticalHeader);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => {
            return Err(OidcError::MalformedToken {
                reason: "kid is not a string",
            })
        }
    };
    let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
    let signature = b64::decode(signature_b64).ok_or(OidcError::MalformedToken {
        reason: "signature is not base64url",
    })?;

    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| k.usable_for(alg))
        .filter(|k| kid.is_none() || k.kid == kid)
        .collect();
    if candidates.is_empty() {
        return Err(OidcError::UnknownKey {
            kid: kid.as_deref().map(truncate),
        });
    }
    // The signing input is the received text itself, never a re-encoding.
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    let mut last_key_error = None;
    let mut verified = false;
    for jwk in candidates {
        match jwk.public_key(alg) {
            Ok(key) => {
                if check_signature(alg, &key, signing_input.as_bytes(), &signature) {
                    verified = true;
                    break;
                }
            }
            Err(e) => last_key_error = Some(e),
        }
    }
    if !verified {
        return Err(last_key_error.unwrap_or(OidcError::BadSignature));
    }

    let claims = decode_json_object(payload_b64, "payload is not a base64url JSON object")?;
    Ok(VerifiedJws {
        alg,
        kid,
        typ,
        claims,
    })
}

fn decode_json_object(
    segment: &str,
    reason: &'static str,
) -> Result<Map<String, Value>, OidcError> {
    let bytes = b64::decode(segment).ok_or(OidcError::MalformedToken { reason })?;
    // serde_json bounds nesting depth (128) and the input is already size-bounded.
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OidcError::MalformedToken { reason }),
    }
}

fn check_signature(alg: Algorithm, key: &PKey<Public>, input: &[u8], signature: &[u8]) -> bool {
    match alg {
        Algorithm::RS256 => Verifier::new(MessageDigest::sha256(), key)
            .and_then(|mut v| v.verify_oneshot(signature, input))
            .unwrap_or(false),
        Algorithm::ES256 => {
            // JWS carries R || S (RFC 7518 §3.4), not DER.
            if signature.len() != 64 {
                return false;
            }
            let (r, s) = signature.split_at(32);
            let check = || -> Result<bool, openssl::error::ErrorStack> {
                let sig = EcdsaSig::from_private_components(
                    BigNum::from_slice(r)?,
                    BigNum::from_slice(s)?,
                )?;
                let ec = key.ec_key()?;
                sig.verify(&openssl::sha::sha256(input), &ec)
            };
            check().unwrap_or(false)
        }
    }
}

/// Read a NumericDate claim (RFC 7519 §2): a JSON number of seconds, fractions truncated.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, OidcError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(value) => {
            if let Some(i) = value.as_i64() {
                return Ok(Some(i));
            }
            match value.as_f64() {
                Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
                _ => Err(OidcError::InvalidClaim {
                    claim,
                    reason: "not a NumericDate",
                }),
            }
        }
    }
}

fn check_times(
    claims: &Map<String, Value>,
    now: DateTime<Utc>,
    leeway: TimeDelta,
) -> Result<(), OidcError> {
    let now = now.timestamp();
    let leeway = leeway.num_seconds().max(0);
    let exp = numeric_date(claims, "exp")?.ok_or(OidcError::MissingClaim { claim: "exp" })?;
    if now >= exp.saturating_add(leeway) {
        return Err(OidcError::Expired { exp, now });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now.saturating_add(leeway) < nbf {
            return Err(OidcError::NotYetValid { nbf, now });
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if now.saturating_add(leeway) < iat {
            return Err(OidcError::IssuedInFuture { iat, now });
        }
    }
    Ok(())
}

/// Keep attacker-supplied text in errors short (logs are not a dumping ground): 64 characters.
fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests;
