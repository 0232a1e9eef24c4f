//! Role mapping: a tenant's rules turn the groups and attributes an identity provider asserted into
//! [`Grant`]s — a role plus scope dimensions such as `market=India` — and explain why.
//!
//! The crate is pure: no storage, no HTTP, no clock, and no protocol types. The facade converts a
//! SAML/OIDC/SCIM identity into a [`Subject`], calls [`map`] on the login path or [`explain`] for the
//! CLI dry-run, and records [`diff`]s of grants in the audit log.
//!
//! * Grants of all matching rules are unioned, sorted and deduplicated: rule order never matters.
//! * Scope dimensions are declared per tenant ([`DimensionSet`]); [`RuleSet::validate`] rejects a
//!   grant on an undeclared dimension.
//! * When nothing matches, the tenant's [`UnmatchedPolicy`] decides between "in without roles" and
//!   "denied".
//!
//! ```
//! use role_mapper::{map, Decision, Grant, RuleSet, Subject};
//! use std::collections::BTreeMap;
//!
//! let rules = RuleSet::from_json(r#"{
//!   "version": 1,
//!   "dimensions": { "market": {} },
//!   "rules": [{
//!     "id": "india-managers",
//!     "condition": { "group": { "name": "RegionalManagers-India" } },
//!     "grants": [{ "role": "regional_manager", "scopes": { "market": "India" } }]
//!   }],
//!   "unmatched_policy": "deny"
//! }"#)?;
//! let groups = vec!["RegionalManagers-India".to_owned()];
//! let attributes = BTreeMap::new();
//! let subject = Subject { connection: "okta-main", groups: &groups, attributes: &attributes };
//! assert_eq!(
//!     map(&rules, &subject),
//!     Decision::Granted(vec![Grant::new("regional_manager").scoped("market", "India")])
//! );
//! # Ok::<(), role_mapper::RuleError>(())
//! ```

mod error;
mod eval;
mod model;

pub use error::RuleError;
pub use eval::{
    diff, explain, map, Decision, DenyReason, Explanation, GrantDiff, RuleExplanation, RuleOutcome,
    Subject,
};
pub use model::{
    Condition, Dimension, DimensionSet, Grant, Rule, RuleSet, UnmatchedPolicy, MAX_CONDITION_DEPTH,
    MAX_NAME_LEN, MAX_RULES, MAX_RULESET_BYTES, MAX_TERMS,
};

#[cfg(test)]
mod tests;
