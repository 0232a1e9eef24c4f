//! The one error type of this crate.

/// Why a rule set was rejected. Every variant names the offending rule (when there is one) so an
/// administrator can find it; none carries user data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The JSON document is larger than [`crate::MAX_RULESET_BYTES`].
    #[error("rule set document is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Size of the document received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The document is not a well-formed rule set (syntax or shape).
    #[error("rule set is not valid JSON of the expected shape: {detail}")]
    Parse {
        /// serde_json's description, including line and column.
        detail: String,
    },
    /// More rules than [`crate::MAX_RULES`].
    #[error("rule set has {count} rules, the limit is {max}")]
    TooManyRules {
        /// Rules present.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A rule id is empty or longer than [`crate::MAX_NAME_LEN`].
    #[error("rule id {id:?} is empty or too long")]
    BadRuleId {
        /// The offending id.
        id: String,
    },
    /// Two rules share an id.
    #[error("rule id {id:?} is used more than once")]
    DuplicateRuleId {
        /// The repeated id.
        id: String,
    },
    /// A rule's connection restriction is an empty string (use `null` for tenant-wide).
    #[error("rule {rule:?}: connection must be null (tenant-wide) or a non-empty id")]
    EmptyConnection {
        /// The rule.
        rule: String,
    },
    /// A rule has no grants; such a rule could only confuse the unmatched policy.
    #[error("rule {rule:?} grants nothing")]
    NoGrants {
        /// The rule.
        rule: String,
    },
    /// A grant's role name is empty or too long.
    #[error("rule {rule:?}: role name is empty or too long")]
    BadRole {
        /// The rule.
        rule: String,
    },
    /// A grant scopes on a dimension the tenant has not defined.
    #[error("rule {rule:?}: dimension {dimension:?} is not defined for this tenant")]
    UndefinedDimension {
        /// The rule.
        rule: String,
        /// The unknown dimension.
        dimension: String,
    },
    /// A grant uses a value outside the dimension's allowed values (or an empty value).
    #[error("rule {rule:?}: value {value:?} is not allowed for dimension {dimension:?}")]
    DisallowedValue {
        /// The rule.
        rule: String,
        /// The dimension.
        dimension: String,
        /// The rejected value.
        value: String,
    },
    /// A dimension name is empty or too long.
    #[error("dimension name {name:?} is empty or too long")]
    BadDimension {
        /// The offending name.
        name: String,
    },
    /// A condition is empty (`all_of: []`, `any: []`), names an empty group/attribute, or
    /// has too many terms.
    #[error("rule {rule:?}: {what}")]
    BadCondition {
        /// The rule.
        rule: String,
        /// Which part of the condition is wrong.
        what: &'static str,
    },
    /// Conditions nest deeper than [`crate::MAX_CONDITION_DEPTH`].
    #[error("rule {rule:?}: conditions nest deeper than {max}")]
    TooDeep {
        /// The rule.
        rule: String,
        /// The limit.
        max: usize,
    },
}
