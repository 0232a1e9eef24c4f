//! Claim sets both roles share: ID tokens (OIDC Core §2) and logout tokens (OIDC Back-Channel
//! Logout 1.0 §2.4).

use crate::jose::SigningKey;
use crate::OidcError;
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_types::{random_token, Entropy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `events` member that makes a JWT a back-channel logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` header Gatehouse puts on logout tokens (Back-Channel Logout §2.4 recommends it).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// An `aud` value: one audience serializes as a string, several as an array (RFC 7519 §4.1.3);
/// both forms deserialize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(pub Vec<String>);

impl Audience {
    /// A single audience.
    pub fn one(aud: impl Into<String>) -> Self {
        Audience(vec![aud.into()])
    }

    /// Whether `client_id` is among the audiences.
    pub fn contains(&self, client_id: &str) -> bool {
        self.0.iter().any(|a| a == client_id)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Repr::deserialize(deserializer)? {
            Repr::One(one) => Audience(vec![one]),
            Repr::Many(many) => Audience(many),
        })
    }
}

/// ID token claims Gatehouse issues, and the standard ones it reads from upstream providers.
/// Unknown claims are ignored when deserializing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer identifier.
    pub iss: String,
    /// Subject: stable user id, at most 255 ASCII characters.
    pub sub: String,
    /// The client(s) the token is for.
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    #[serde(deserialize_with = "lenient::numeric_date")]
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    #[serde(deserialize_with = "lenient::numeric_date")]
    pub iat: i64,
    /// When the user authenticated, seconds since the epoch.
    #[serde(
        default,
        deserialize_with = "lenient::optional_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_time: Option<i64>,
    /// The authorization request's nonce, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authorized party (the client id), required by relying parties when `aud` has several values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the e-mail address is verified (by a verified domain, for Gatehouse).
    #[serde(
        default,
        deserialize_with = "lenient::optional_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_verified: Option<bool>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Gatehouse tenant the user belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The upstream connection that authenticated the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// Authentication methods.
    #[serde(
        default,
        deserialize_with = "lenient::string_or_seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub amr: Vec<String>,
    /// Authentication context class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Group names.
    #[serde(
        default,
        deserialize_with = "lenient::string_or_seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// Granted roles.
    #[serde(
        default,
        deserialize_with = "lenient::string_or_seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub roles: Vec<String>,
    /// Granted permission scopes (role-mapper output).
    #[serde(
        default,
        deserialize_with = "lenient::string_or_seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scopes: Vec<String>,
    /// Login session id, matched by back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl IdTokenClaims {
    /// Sign these claims as an RS256 ID token.
    pub fn sign(&self, key: &SigningKey) -> Result<String, OidcError> {
        let claims = serde_json::to_value(self).map_err(|source| OidcError::Json {
            what: "ID token claims",
            source,
        })?;
        key.sign(&claims)
    }
}

/// Back-channel logout token claims (Back-Channel Logout 1.0 §2.4). There is never a `nonce`:
/// its absence is what stops a logout token from passing as an ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    /// Issuer identifier.
    pub iss: String,
    /// The user being logged out (this and/or `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The client being told.
    pub aud: Audience,
    /// Issue time, seconds since the epoch.
    #[serde(deserialize_with = "lenient::numeric_date")]
    pub iat: i64,
    /// Expiry, seconds since the epoch (short: the token is delivered immediately).
    #[serde(deserialize_with = "lenient::numeric_date")]
    pub exp: i64,
    /// Unique id, for the recipient's replay check.
    pub jti: String,
    /// Must contain [`BACKCHANNEL_LOGOUT_EVENT`] with an object value.
    pub events: BTreeMap<String, Value>,
    /// The session being ended (this and/or `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl LogoutTokenClaims {
    /// Claims telling `client_id` that session `sid` and/or user `sub` ended at `now`; valid for
    /// `lifetime`, with a fresh random `jti` (16 bytes of hex from `entropy`).
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        sub: Option<String>,
        sid: Option<String>,
        now: DateTime<Utc>,
        lifetime: TimeDelta,
        entropy: &mut dyn Entropy,
    ) -> Result<Self, OidcError> {
        let claims = LogoutTokenClaims {
            iss: issuer.into(),
            sub,
            aud: Audience::one(client_id),
            iat: now.timestamp(),
            exp: now
                .timestamp()
                .saturating_add(lifetime.num_seconds().max(1)),
            jti: random_token(entropy, 16),
            events: BTreeMap::from([(
                BACKCHANNEL_LOGOUT_EVENT.to_owned(),
                Value::Object(Map::new()),
            )]),
            sid,
        };
        claims.check()?;
        Ok(claims)
    }

    /// The structural rules both sides enforce: `sid` or `sub`, the logout event, a `jti`.
    pub(crate) fn check(&self) -> Result<(), OidcError> {
        if self.sid.is_none() && self.sub.is_none() {
            return Err(OidcError::MissingClaim { claim: "sid" });
        }
        match self.events.get(BACKCHANNEL_LOGOUT_EVENT) {
            Some(Value::Object(_)) => {}
            Some(_) => {
                return Err(OidcError::InvalidClaim {
                    claim: "events",
                    reason: "logout event value is not an object",
                })
            }
            None => {
                return Err(OidcError::InvalidClaim {
                    claim: "events",
                    reason: "no back-channel logout event",
                })
            }
        }
        if self.jti.is_empty() {
            return Err(OidcError::MissingClaim { claim: "jti" });
        }
        Ok(())
    }
}

/// Sign a back-channel logout token (`typ: logout+jwt`), after checking the claims' structure.
pub fn build_logout_token(
    key: &SigningKey,
    claims: &LogoutTokenClaims,
) -> Result<String, OidcError> {
    claims.check()?;
    let value = serde_json::to_value(claims).map_err(|source| OidcError::Json {
        what: "logout token claims",
        source,
    })?;
    key.sign_with_typ(&value, LOGOUT_TOKEN_TYP)
}

/// Deserializers that accept the variations real providers emit, so that one provider's
/// `"email_verified": "true"` or single-string `groups` does not make its tokens unusable.
/// Serialization always uses the canonical form.
mod lenient {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(i64),
        Float(f64),
    }

    fn to_seconds<E: serde::de::Error>(n: Number) -> Result<i64, E> {
        match n {
            Number::Int(i) => Ok(i),
            // RFC 7519 §2 allows fractional NumericDates; truncate. Bounded to stay exact.
            Number::Float(f) if f.is_finite() && f.abs() < 1e15 => Ok(f.trunc() as i64),
            Number::Float(_) => Err(E::custom("NumericDate out of range")),
        }
    }

    pub(super) fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        to_seconds(Number::deserialize(d)?)
    }

    pub(super) fn optional_numeric_date<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<i64>, D::Error> {
        Option::<Number>::deserialize(d)?
            .map(to_seconds)
            .transpose()
    }

    pub(super) fn optional_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Bool(bool),
            Text(String),
        }
        match Option::<Repr>::deserialize(d)? {
            None => Ok(None),
            Some(Repr::Bool(b)) => Ok(Some(b)),
            Some(Repr::Text(t)) if t == "true" => Ok(Some(true)),
            Some(Repr::Text(t)) if t == "false" => Ok(Some(false)),
            Some(Repr::Text(_)) => Err(serde::de::Error::custom("not a boolean")),
        }
    }

    pub(super) fn string_or_seq<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Option::<Repr>::deserialize(d)? {
            None => Vec::new(),
            Some(Repr::One(one)) => vec![one],
            Some(Repr::Many(many)) => many,
        })
    }
}
