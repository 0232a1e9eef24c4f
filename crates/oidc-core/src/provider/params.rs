//! Bounded collection of query / form parameters (RFC 6749 §3.1: no repeats, empty = omitted).

use super::{ErrorCode, OAuthError};
use std::collections::BTreeMap;

/// Parameters by name, each at most once, every value bounded and free of control characters.
pub(crate) struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Collect `pairs`, refusing more than `max_params` pairs, names over 64 bytes, values over
    /// `max_len(name)` bytes, control characters, and any parameter given twice.
    pub(crate) fn collect<I, K, V>(
        pairs: I,
        max_params: usize,
        max_len: impl Fn(&str) -> usize,
    ) -> Result<Self, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut values = BTreeMap::new();
        for (count, (name, value)) in pairs.into_iter().enumerate() {
            let (name, value) = (name.as_ref(), value.as_ref());
            if count >= max_params {
                return Err(invalid("too many parameters"));
            }
            if name.len() > 64 {
                return Err(invalid("parameter name too long"));
            }
            if value.len() > max_len(name) {
                return Err(invalid("parameter value too long"));
            }
            if value.chars().any(char::is_control) {
                return Err(invalid("control character in parameter"));
            }
            // Sent-without-value counts as omitted (RFC 6749 §3.1), but still may not repeat.
            if values.insert(name.to_owned(), value.to_owned()).is_some() {
                return Err(invalid("parameter repeated"));
            }
        }
        values.retain(|_, v: &mut String| !v.is_empty());
        Ok(Params { values })
    }

    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    pub(crate) fn require(
        &mut self,
        name: &str,
        missing: &'static str,
    ) -> Result<String, OAuthError> {
        self.take(name).ok_or_else(|| invalid(missing))
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

pub(crate) fn invalid(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

/// Split a `scope` value into tokens (RFC 6749 §3.3), dropping duplicates and keeping order.
pub(crate) fn parse_scope(value: &str) -> Option<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for token in value.split(' ').filter(|t| !t.is_empty()) {
        let ok = token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !ok || scopes.len() >= 32 {
            return None;
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    (!scopes.is_empty()).then_some(scopes)
}
