//! The rule-set document: grants, dimensions, conditions, rules, and their validation.

use crate::RuleError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

/// Largest rule-set JSON document [`RuleSet::from_json`] accepts (1 MiB).
pub const MAX_RULESET_BYTES: usize = 1 << 20;
/// Most rules one rule set may hold.
pub const MAX_RULES: usize = 10_000;
/// Deepest nesting of `all`/`any` conditions (a bare group condition is depth 1).
pub const MAX_CONDITION_DEPTH: usize = 8;
/// Most terms (group names or sub-conditions) in one condition, and most grants in one rule.
pub const MAX_TERMS: usize = 256;
/// Longest rule id, role, dimension, value, group or attribute name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// What a user is entitled to: one role, optionally narrowed by scope dimensions
/// (`regional_manager` with `market=India`).
///
/// Ordering is by role, then by scopes, so sorted grant lists are deterministic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The application role.
    pub role: String,
    /// Scope dimension → value; empty means the role applies tenant-wide.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scopes: BTreeMap<String, String>,
}

impl Grant {
    /// A grant of `role` with no scope restriction.
    pub fn new(role: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            scopes: BTreeMap::new(),
        }
    }

    /// This grant narrowed additionally to `dimension=value`.
    #[must_use]
    pub fn scoped(mut self, dimension: impl Into<String>, value: impl Into<String>) -> Self {
        self.scopes.insert(dimension.into(), value.into());
        self
    }
}

impl fmt::Display for Grant {
    /// `role` or `role{dim=value, dim=value}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.role)?;
        if !self.scopes.is_empty() {
            f.write_str("{")?;
            for (i, (k, v)) in self.scopes.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}={v}")?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

/// One scope dimension a tenant defines (`market`, `team`, `account`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// What the dimension means, for administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// If present, the only values a grant may use; absent means any non-empty value
    /// (e.g. `account` ids that are not known in advance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeSet<String>>,
}

/// The scope dimensions a tenant has defined, by name. Grants may only scope on these, so a typo
/// (`markt=India`) is a validation error instead of a silently useless grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DimensionSet(pub BTreeMap<String, Dimension>);

impl DimensionSet {
    /// Defines (or redefines) `name` with any value allowed.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>) -> Self {
        self.0.insert(name.into(), Dimension::default());
        self
    }

    /// The definition of `name`, if the tenant has one.
    pub fn get(&self, name: &str) -> Option<&Dimension> {
        self.0.get(name)
    }
}

/// When a rule applies, evaluated against the subject's groups and attributes.
///
/// JSON form is externally tagged in snake case, e.g. `{"group": {"name": "Admins"}}`,
/// `{"any_of": ["A", "B"]}`, `{"all": [{"group": …}, {"attribute": …}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The subject is in group `name`.
    Group {
        /// Group name as the IdP sends it.
        name: String,
        /// Compare ignoring case (IdPs differ in how they case group names).
        #[serde(default)]
        case_insensitive: bool,
    },
    /// The subject is in every one of these groups (exact match).
    AllOf(Vec<String>),
    /// The subject is in at least one of these groups (exact match).
    AnyOf(Vec<String>),
    /// Attribute `name` has `value` among its values (e.g. `department=Sales`, or a single
    /// `role_mapping` claim). Attribute names always match exactly.
    Attribute {
        /// Attribute name as normalised by the protocol layer.
        name: String,
        /// Required value.
        value: String,
        /// Compare the value ignoring case.
        #[serde(default)]
        case_insensitive: bool,
    },
    /// Every sub-condition holds.
    All(Vec<Condition>),
    /// At least one sub-condition holds.
    Any(Vec<Condition>),
}

impl Condition {
    /// Shorthand for an exact, case-sensitive group condition.
    pub fn group(name: impl Into<String>) -> Self {
        Condition::Group {
            name: name.into(),
            case_insensitive: false,
        }
    }

    /// Checks shape and bounds; `depth` is this condition's nesting level (1 at the top).
    fn validate(&self, rule: &str, depth: usize) -> Result<(), RuleError> {
        let bad = |what| {
            Err(RuleError::BadCondition {
                rule: rule.to_owned(),
                what,
            })
        };
        if depth > MAX_CONDITION_DEPTH {
            return Err(RuleError::TooDeep {
                rule: rule.to_owned(),
                max: MAX_CONDITION_DEPTH,
            });
        }
        match self {
            Condition::Group { name, .. } => {
                if !name_ok(name) {
                    return bad("group name is empty or too long");
                }
            }
            Condition::AllOf(groups) | Condition::AnyOf(groups) => {
                if groups.is_empty() || groups.len() > MAX_TERMS {
                    return bad("group list is empty or too long");
                }
                if !groups.iter().all(|g| name_ok(g)) {
                    return bad("group name is empty or too long");
                }
            }
            Condition::Attribute { name, value, .. } => {
                if !name_ok(name) || value.is_empty() || value.len() > MAX_NAME_LEN {
                    return bad("attribute name or value is empty or too long");
                }
            }
            Condition::All(conds) | Condition::Any(conds) => {
                if conds.is_empty() || conds.len() > MAX_TERMS {
                    return bad("condition list is empty or too long");
                }
                for c in conds {
                    c.validate(rule, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// One mapping rule: if `condition` holds for a subject arriving through `connection`, the subject
/// receives `grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier, unique in the rule set (shown in explanations and audit).
    pub id: String,
    /// What the rule is for, for administrators.
    #[serde(default)]
    pub description: String,
    /// Restrict the rule to one connection id; `None` applies it to every connection of the tenant.
    #[serde(default)]
    pub connection: Option<String>,
    /// When the rule applies.
    pub condition: Condition,
    /// What it grants.
    pub grants: Vec<Grant>,
}

/// What to do with a subject no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedPolicy {
    /// Let the user in with no roles (the app decides what that means).
    AllowWithoutRoles,
    /// Refuse the login.
    Deny,
}

/// A tenant's complete, versioned mapping configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// Incremented on every change, so audit and explanations can name the version applied.
    pub version: u64,
    /// The tenant's scope dimensions.
    #[serde(default)]
    pub dimensions: DimensionSet,
    /// The rules; their order never changes the outcome.
    pub rules: Vec<Rule>,
    /// What happens when no rule matches.
    pub unmatched_policy: UnmatchedPolicy,
}

impl RuleSet {
    /// Parses and validates a JSON rule set, refusing documents over [`MAX_RULESET_BYTES`].
    /// (serde_json additionally limits nesting to 128 levels, so parsing cannot overflow the
    /// stack; [`RuleSet::validate`] then enforces [`MAX_CONDITION_DEPTH`].)
    pub fn from_json(json: &str) -> Result<Self, RuleError> {
        if json.len() > MAX_RULESET_BYTES {
            return Err(RuleError::TooLarge {
                len: json.len(),
                max: MAX_RULESET_BYTES,
            });
        }
        let set: RuleSet = serde_json::from_str(json).map_err(|e| RuleError::Parse {
            detail: e.to_string(),
        })?;
        set.validate()?;
        Ok(set)
    }

    /// Checks every invariant [`crate::map`] relies on: unique non-empty rule ids, bounded sizes
    /// and depth, non-empty grants, and scopes only on defined dimensions with allowed values.
    pub fn validate(&self) -> Result<(), RuleError> {
        for name in self.dimensions.0.keys() {
            if !name_ok(name) {
                return Err(RuleError::BadDimension { name: name.clone() });
            }
        }
        if self.rules.len() > MAX_RULES {
            return Err(RuleError::TooManyRules {
                count: self.rules.len(),
                max: MAX_RULES,
            });
        }
        let mut ids = HashSet::new();
        for rule in &self.rules {
            if !name_ok(&rule.id) {
                return Err(RuleError::BadRuleId {
                    id: rule.id.clone(),
                });
            }
            if !ids.insert(rule.id.as_str()) {
                return Err(RuleError::DuplicateRuleId {
                    id: rule.id.clone(),
                });
            }
            if rule.connection.as_deref().is_some_and(|c| !name_ok(c)) {
                return Err(RuleError::EmptyConnection {
                    rule: rule.id.clone(),
                });
            }
            rule.condition.validate(&rule.id, 1)?;
            if rule.grants.is_empty() {
                return Err(RuleError::NoGrants {
                    rule: rule.id.clone(),
                });
            }
            if rule.grants.len() > MAX_TERMS {
                return Err(RuleError::BadCondition {
                    rule: rule.id.clone(),
                    what: "too many grants",
                });
            }
            for grant in &rule.grants {
                self.validate_grant(&rule.id, grant)?;
            }
        }
        Ok(())
    }

    /// Checks grants given by hand (outside any rule) against the same invariants as a rule's
    /// grants: bounded role names, scopes only on defined dimensions with allowed values.
    pub fn validate_grants(&self, grants: &[Grant]) -> Result<(), RuleError> {
        if grants.len() > MAX_TERMS {
            return Err(RuleError::BadCondition {
                rule: "hand-granted".into(),
                what: "too many grants",
            });
        }
        grants
            .iter()
            .try_for_each(|g| self.validate_grant("hand-granted", g))
    }

    fn validate_grant(&self, rule: &str, grant: &Grant) -> Result<(), RuleError> {
        if !name_ok(&grant.role) {
            return Err(RuleError::BadRole {
                rule: rule.to_owned(),
            });
        }
        for (dimension, value) in &grant.scopes {
            let Some(def) = self.dimensions.get(dimension) else {
                return Err(RuleError::UndefinedDimension {
                    rule: rule.to_owned(),
                    dimension: dimension.clone(),
                });
            };
            let allowed = match &def.values {
                Some(values) => values.contains(value),
                None => name_ok(value),
            };
            if !allowed {
                return Err(RuleError::DisallowedValue {
                    rule: rule.to_owned(),
                    dimension: dimension.clone(),
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }
}

fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME_LEN
}

impl fmt::Display for Condition {
    /// Compact one-line form for explanations: `group(Admins)`, `group~(admins)` (ignoring case),
    /// `all_of(A, B)`, `attribute(department=Sales)`, `any(…, …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(
            f: &mut fmt::Formatter<'_>,
            name: &str,
            items: &[T],
        ) -> fmt::Result {
            write!(f, "{name}(")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            f.write_str(")")
        }
        let tilde = |ci: bool| if ci { "~" } else { "" };
        match self {
            Condition::Group {
                name,
                case_insensitive,
            } => {
                write!(f, "group{}({name})", tilde(*case_insensitive))
            }
            Condition::AllOf(groups) => list(f, "all_of", groups),
            Condition::AnyOf(groups) => list(f, "any_of", groups),
            Condition::Attribute {
                name,
                value,
                case_insensitive,
            } => {
                write!(f, "attribute{}({name}={value})", tilde(*case_insensitive))
            }
            Condition::All(conds) => list(f, "all", conds),
            Condition::Any(conds) => list(f, "any", conds),
        }
    }
}
