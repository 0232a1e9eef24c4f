//! Evaluating a rule set against a subject: [`map`] for the login path, [`explain`] for dry runs.

use crate::model::{Condition, Grant, Rule, RuleSet, UnmatchedPolicy};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

/// The protocol-neutral view of a user the rules are evaluated against. The facade builds it from
/// an `ExternalIdentity` (SAML, OIDC) or a SCIM user; this crate never sees those types.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Connection id the user arrived through (rules may be restricted to one connection).
    pub connection: &'a str,
    /// Group names the IdP asserted.
    pub groups: &'a [String],
    /// Attributes the IdP asserted (name → values).
    pub attributes: &'a BTreeMap<String, Vec<String>>,
}

/// Why a subject was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// No rule matched and the tenant's policy is [`UnmatchedPolicy::Deny`].
    NoRuleMatched,
}

/// The outcome of mapping one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The user may sign in with these grants (sorted, deduplicated; empty only under
    /// [`UnmatchedPolicy::AllowWithoutRoles`]).
    Granted(Vec<Grant>),
    /// The user may not sign in.
    Denied {
        /// Why.
        reason: DenyReason,
    },
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Granted(grants) if grants.is_empty() => {
                f.write_str("granted without roles (no rule matched, policy allow_without_roles)")
            }
            Decision::Granted(grants) => {
                f.write_str("granted ")?;
                join(f, grants, "; ")
            }
            Decision::Denied {
                reason: DenyReason::NoRuleMatched,
            } => f.write_str("denied (no rule matched, policy deny)"),
        }
    }
}

/// Maps a subject to its grants: the union of the grants of every matching rule, sorted and
/// deduplicated, so the result never depends on rule order. Identical grants collapse; a scoped and
/// an unscoped grant of the same role are both kept (the app decides what that combination means).
pub fn map(rules: &RuleSet, subject: &Subject<'_>) -> Decision {
    let index = GroupIndex::new(subject.groups);
    let mut grants = BTreeSet::new();
    for rule in rules.rules.iter().filter(|r| applies_to(r, subject)) {
        if matches(&rule.condition, &index, subject) {
            grants.extend(rule.grants.iter().cloned());
        }
    }
    decide(rules.unmatched_policy, grants)
}

/// Whether one rule applied to the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    /// The condition held; the rule's grants are part of the decision.
    Matched,
    /// The condition did not hold.
    NotMatched,
    /// The rule is restricted to another connection and was not evaluated.
    OtherConnection,
}

/// How one rule fared against a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleExplanation {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's description.
    pub description: String,
    /// The rule's condition in compact form (see [`Condition`]'s `Display`).
    pub condition: String,
    /// Matched, not matched, or skipped.
    pub outcome: RuleOutcome,
    /// The subject's groups that satisfied the condition (as the subject spelled them); empty
    /// unless matched.
    pub matched_groups: Vec<String>,
    /// The subject's `(attribute, value)` pairs that satisfied the condition; empty unless matched.
    pub matched_attributes: Vec<(String, String)>,
    /// The grants this rule contributed; empty unless matched.
    pub grants: Vec<Grant>,
}

/// Why a subject got its decision: every rule's outcome, the subject's groups no matching rule
/// used, and the decision itself. `Display` renders the CLI dry-run report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Version of the rule set evaluated.
    pub ruleset_version: u64,
    /// Connection the subject arrived through.
    pub connection: String,
    /// One entry per rule, in rule-set order.
    pub rules: Vec<RuleExplanation>,
    /// The subject's groups that no matching rule used (sorted, deduplicated) — usually the
    /// groups an administrator forgot to map.
    pub unmatched_groups: Vec<String>,
    /// The same decision [`map`] returns.
    pub decision: Decision,
}

/// Evaluates like [`map`] and records why. The decision always equals `map(rules, subject)`.
pub fn explain(rules: &RuleSet, subject: &Subject<'_>) -> Explanation {
    let index = GroupIndex::new(subject.groups);
    let mut all_grants = BTreeSet::new();
    let mut used_groups = BTreeSet::new();
    let mut explained = Vec::with_capacity(rules.rules.len());
    for rule in &rules.rules {
        let mut entry = RuleExplanation {
            rule_id: rule.id.clone(),
            description: rule.description.clone(),
            condition: rule.condition.to_string(),
            outcome: RuleOutcome::OtherConnection,
            matched_groups: Vec::new(),
            matched_attributes: Vec::new(),
            grants: Vec::new(),
        };
        if applies_to(rule, subject) {
            let mut evidence = Evidence::default();
            if collect(&rule.condition, &index, subject, &mut evidence) {
                entry.outcome = RuleOutcome::Matched;
                let grants: BTreeSet<Grant> = rule.grants.iter().cloned().collect();
                all_grants.extend(grants.iter().cloned());
                entry.grants = grants.into_iter().collect();
                used_groups.extend(evidence.groups.iter().cloned());
                entry.matched_groups = evidence.groups.into_iter().collect();
                entry.matched_attributes = evidence.attributes.into_iter().collect();
            } else {
                entry.outcome = RuleOutcome::NotMatched;
            }
        }
        explained.push(entry);
    }
    let unmatched_groups: BTreeSet<String> = subject
        .groups
        .iter()
        .filter(|g| !used_groups.contains(*g))
        .cloned()
        .collect();
    Explanation {
        ruleset_version: rules.version,
        connection: subject.connection.to_owned(),
        rules: explained,
        unmatched_groups: unmatched_groups.into_iter().collect(),
        decision: decide(rules.unmatched_policy, all_grants),
    }
}

impl fmt::Display for Explanation {
    /// ```text
    /// rule set v3, connection okta-main: 1 of 2 rules matched
    ///   [x] admins: Megatron leads administer everything
    ///       when   group(MegatronLead-Admins)
    ///       groups MegatronLead-Admins
    ///       grants super_administrator
    ///   [ ] india: …
    ///   [-] entra-only (other connection)
    /// unmatched groups: Everyone
    /// decision: granted super_administrator
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let matched = self
            .rules
            .iter()
            .filter(|r| r.outcome == RuleOutcome::Matched)
            .count();
        writeln!(
            f,
            "rule set v{}, connection {}: {matched} of {} rules matched",
            self.ruleset_version,
            self.connection,
            self.rules.len()
        )?;
        for rule in &self.rules {
            let mark = match rule.outcome {
                RuleOutcome::Matched => "[x]",
                RuleOutcome::NotMatched => "[ ]",
                RuleOutcome::OtherConnection => "[-]",
            };
            write!(f, "  {mark} {}", rule.rule_id)?;
            if rule.outcome == RuleOutcome::OtherConnection {
                writeln!(f, " (other connection)")?;
                continue;
            }
            if rule.description.is_empty() {
                writeln!(f)?;
            } else {
                writeln!(f, ": {}", rule.description)?;
            }
            writeln!(f, "      when   {}", rule.condition)?;
            if !rule.matched_groups.is_empty() {
                f.write_str("      groups ")?;
                join(f, &rule.matched_groups, ", ")?;
                writeln!(f)?;
            }
            if !rule.matched_attributes.is_empty() {
                f.write_str("      attrs  ")?;
                for (i, (name, value)) in rule.matched_attributes.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}={value}")?;
                }
                writeln!(f)?;
            }
            if !rule.grants.is_empty() {
                f.write_str("      grants ")?;
                join(f, &rule.grants, "; ")?;
                writeln!(f)?;
            }
        }
        if self.unmatched_groups.is_empty() {
            writeln!(f, "unmatched groups: (none)")?;
        } else {
            f.write_str("unmatched groups: ")?;
            join(f, &self.unmatched_groups, ", ")?;
            writeln!(f)?;
        }
        writeln!(f, "decision: {}", self.decision)
    }
}

fn join<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn decide(policy: UnmatchedPolicy, grants: BTreeSet<Grant>) -> Decision {
    // Rules always grant something (validate() rejects empty grant lists), so "no grants" and
    // "no rule matched" coincide.
    if grants.is_empty() && policy == UnmatchedPolicy::Deny {
        Decision::Denied {
            reason: DenyReason::NoRuleMatched,
        }
    } else {
        Decision::Granted(grants.into_iter().collect())
    }
}

fn applies_to(rule: &Rule, subject: &Subject<'_>) -> bool {
    rule.connection
        .as_deref()
        .is_none_or(|c| c == subject.connection)
}

/// The subject's groups, indexed once per evaluation so each condition is a hash lookup rather
/// than a scan (rule sets of hundreds of rules meet users in dozens of groups).
struct GroupIndex<'a> {
    exact: HashSet<&'a str>,
    /// Lowercased name → the subject's spellings of it.
    folded: HashMap<String, Vec<&'a str>>,
}

impl<'a> GroupIndex<'a> {
    fn new(groups: &'a [String]) -> Self {
        let mut folded: HashMap<String, Vec<&'a str>> = HashMap::new();
        for g in groups {
            folded.entry(g.to_lowercase()).or_default().push(g);
        }
        Self {
            exact: groups.iter().map(String::as_str).collect(),
            folded,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.exact.contains(name)
    }

    fn find_folded(&self, name: &str) -> &[&'a str] {
        self.folded
            .get(&name.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }
}

fn value_matches(actual: &str, wanted: &str, case_insensitive: bool) -> bool {
    if case_insensitive {
        actual.to_lowercase() == wanted.to_lowercase()
    } else {
        actual == wanted
    }
}

/// The fast path for [`map`]: short-circuits and records nothing. Must agree with [`collect`].
fn matches(cond: &Condition, index: &GroupIndex<'_>, subject: &Subject<'_>) -> bool {
    match cond {
        Condition::Group {
            name,
            case_insensitive: false,
        } => index.has(name),
        Condition::Group {
            name,
            case_insensitive: true,
        } => !index.find_folded(name).is_empty(),
        Condition::AllOf(groups) => groups.iter().all(|g| index.has(g)),
        Condition::AnyOf(groups) => groups.iter().any(|g| index.has(g)),
        Condition::Attribute {
            name,
            value,
            case_insensitive,
        } => subject.attributes.get(name).is_some_and(|vs| {
            vs.iter()
                .any(|v| value_matches(v, value, *case_insensitive))
        }),
        Condition::All(conds) => conds.iter().all(|c| matches(c, index, subject)),
        Condition::Any(conds) => conds.iter().any(|c| matches(c, index, subject)),
    }
}

#[derive(Default)]
struct Evidence {
    groups: BTreeSet<String>,
    attributes: BTreeSet<(String, String)>,
}

impl Evidence {
    fn absorb(&mut self, other: Evidence) {
        self.groups.extend(other.groups);
        self.attributes.extend(other.attributes);
    }
}

/// The explaining path: evaluates every branch of `any`/`any_of` so all contributing groups are
/// reported, and records evidence only from sub-conditions that held.
fn collect(
    cond: &Condition,
    index: &GroupIndex<'_>,
    subject: &Subject<'_>,
    ev: &mut Evidence,
) -> bool {
    match cond {
        Condition::Group {
            name,
            case_insensitive: false,
        } => {
            let hit = index.has(name);
            if hit {
                ev.groups.insert(name.clone());
            }
            hit
        }
        Condition::Group {
            name,
            case_insensitive: true,
        } => {
            let found = index.find_folded(name);
            ev.groups.extend(found.iter().map(|g| (*g).to_owned()));
            !found.is_empty()
        }
        Condition::AllOf(groups) => {
            let hit = groups.iter().all(|g| index.has(g));
            if hit {
                ev.groups.extend(groups.iter().cloned());
            }
            hit
        }
        Condition::AnyOf(groups) => {
            let present: Vec<&String> = groups.iter().filter(|g| index.has(g)).collect();
            ev.groups.extend(present.iter().map(|g| (*g).clone()));
            !present.is_empty()
        }
        Condition::Attribute {
            name,
            value,
            case_insensitive,
        } => {
            let Some(values) = subject.attributes.get(name) else {
                return false;
            };
            let mut hit = false;
            for v in values
                .iter()
                .filter(|v| value_matches(v, value, *case_insensitive))
            {
                ev.attributes.insert((name.clone(), v.clone()));
                hit = true;
            }
            hit
        }
        Condition::All(conds) => {
            let mut local = Evidence::default();
            for c in conds {
                if !collect(c, index, subject, &mut local) {
                    return false;
                }
            }
            ev.absorb(local);
            true
        }
        Condition::Any(conds) => {
            let mut hit = false;
            for c in conds {
                let mut local = Evidence::default();
                if collect(c, index, subject, &mut local) {
                    ev.absorb(local);
                    hit = true;
                }
            }
            hit
        }
    }
}

/// How a user's grants changed, for the `user.roles_changed` audit event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantDiff {
    /// Grants in `after` but not in `before` (sorted).
    pub added: Vec<Grant>,
    /// Grants in `before` but not in `after` (sorted).
    pub removed: Vec<Grant>,
}

impl GrantDiff {
    /// True when nothing changed (then no audit event is due).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Set difference in both directions; input order and duplicates do not matter.
pub fn diff(before: &[Grant], after: &[Grant]) -> GrantDiff {
    let before: BTreeSet<&Grant> = before.iter().collect();
    let after: BTreeSet<&Grant> = after.iter().collect();
    GrantDiff {
        added: after.difference(&before).map(|g| (*g).clone()).collect(),
        removed: before.difference(&after).map(|g| (*g).clone()).collect(),
    }
}
