//! Unit tests: validation, matching semantics, determinism, diff.

use crate::*;
use expect_test::{expect, Expect};
use std::collections::BTreeMap;

fn check_invalid(json: &str, expected: Expect) {
    let err = RuleSet::from_json(json).unwrap_err();
    expected.assert_eq(&format!("{err:?}"));
}

fn one_rule(condition: &str, grants: &str) -> String {
    format!(
        r#"{{"version":1,"dimensions":{{"market":{{"values":["India"]}},"team":{{}}}},
        "rules":[{{"id":"r1","condition":{condition},"grants":{grants}}}],"unmatched_policy":"deny"}}"#
    )
}

fn nested(depth: usize) -> String {
    let mut cond = r#"{"group":{"name":"G"}}"#.to_owned();
    for _ in 1..depth {
        cond = format!(r#"{{"all":[{cond}]}}"#);
    }
    cond
}

#[test]
fn validation_rejects_bad_rule_sets() {
    let group = r#"{"group":{"name":"G"}}"#;
    check_invalid(
        &one_rule(group, r#"[{"role":"r","scopes":{"markt":"India"}}]"#),
        expect![[r#"UndefinedDimension { rule: "r1", dimension: "markt" }"#]],
    );
    check_invalid(
        &one_rule(group, r#"[{"role":"r","scopes":{"market":"Peru"}}]"#),
        expect![[r#"DisallowedValue { rule: "r1", dimension: "market", value: "Peru" }"#]],
    );
    check_invalid(
        &one_rule(group, r#"[{"role":"r","scopes":{"team":""}}]"#),
        expect![[r#"DisallowedValue { rule: "r1", dimension: "team", value: "" }"#]],
    );
    check_invalid(
        &one_rule(group, "[]"),
        expect![[r#"NoGrants { rule: "r1" }"#]],
    );
    check_invalid(
        &one_rule(group, r#"[{"role":""}]"#),
        expect![[r#"BadRole { rule: "r1" }"#]],
    );
    check_invalid(
        &one_rule(r#"{"any_of":[]}"#, r#"[{"role":"r"}]"#),
        expect![[r#"BadCondition { rule: "r1", what: "group list is empty or too long" }"#]],
    );
    check_invalid(
        &one_rule(r#"{"any":[]}"#, r#"[{"role":"r"}]"#),
        expect![[r#"BadCondition { rule: "r1", what: "condition list is empty or too long" }"#]],
    );
    check_invalid(
        &one_rule(
            r#"{"attribute":{"name":"dept","value":""}}"#,
            r#"[{"role":"r"}]"#,
        ),
        expect![[
            r#"BadCondition { rule: "r1", what: "attribute name or value is empty or too long" }"#
        ]],
    );
    check_invalid(
        &one_rule(&nested(MAX_CONDITION_DEPTH + 1), r#"[{"role":"r"}]"#),
        expect![[r#"TooDeep { rule: "r1", max: 8 }"#]],
    );
    check_invalid(
        r#"{"version":1,"rules":[
            {"id":"a","condition":{"group":{"name":"G"}},"grants":[{"role":"r"}]},
            {"id":"a","condition":{"group":{"name":"H"}},"grants":[{"role":"r"}]}],
          "unmatched_policy":"deny"}"#,
        expect![[r#"DuplicateRuleId { id: "a" }"#]],
    );
    check_invalid(
        r#"{"version":1,"rules":[{"id":"a","connection":"","condition":{"group":{"name":"G"}},
            "grants":[{"role":"r"}]}],"unmatched_policy":"deny"}"#,
        expect![[r#"EmptyConnection { rule: "a" }"#]],
    );
    check_invalid(
        r#"{"version":1,"rules":[],"unmatched_policy":"deny","extra":1}"#,
        expect![[
            r#"Parse { detail: "unknown field `extra`, expected one of `version`, `dimensions`, `rules`, `unmatched_policy` at line 1 column 57" }"#
        ]],
    );
    check_invalid(
        r#"{"version":1,"rules":[],"unmatched_policy":"maybe"}"#,
        expect![[
            r#"Parse { detail: "unknown variant `maybe`, expected `allow_without_roles` or `deny` at line 1 column 50" }"#
        ]],
    );
    let huge = " ".repeat(MAX_RULESET_BYTES + 1);
    check_invalid(
        &huge,
        expect![[r#"TooLarge { len: 1048577, max: 1048576 }"#]],
    );
}

#[test]
fn maximum_depth_is_accepted_and_deep_json_never_panics() {
    assert!(
        RuleSet::from_json(&one_rule(&nested(MAX_CONDITION_DEPTH), r#"[{"role":"r"}]"#)).is_ok()
    );
    // Far beyond serde_json's recursion limit: must be an error, not a stack overflow.
    let deep = one_rule(&nested(5_000), r#"[{"role":"r"}]"#);
    assert!(matches!(
        RuleSet::from_json(&deep),
        Err(RuleError::Parse { .. })
    ));
    for junk in ["", "null", "[]", "{", "\u{0}", r#"{"version":-1}"#] {
        assert!(RuleSet::from_json(junk).is_err(), "{junk:?}");
    }
}

fn rules(unmatched_policy: UnmatchedPolicy, rules: Vec<Rule>) -> RuleSet {
    let set = RuleSet {
        version: 1,
        dimensions: DimensionSet::default().with("market").with("team"),
        rules,
        unmatched_policy,
    };
    set.validate().unwrap();
    set
}

fn rule(id: &str, connection: Option<&str>, condition: Condition, grants: Vec<Grant>) -> Rule {
    Rule {
        id: id.into(),
        description: String::new(),
        connection: connection.map(Into::into),
        condition,
        grants,
    }
}

fn run(set: &RuleSet, connection: &str, groups: &[&str], attrs: &[(&str, &str)]) -> Decision {
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in attrs {
        attributes
            .entry((*k).to_owned())
            .or_default()
            .push((*v).to_owned());
    }
    let subject = Subject {
        connection,
        groups: &groups,
        attributes: &attributes,
    };
    let decision = map(set, &subject);
    assert_eq!(explain(set, &subject).decision, decision);
    decision
}

#[test]
fn group_matching_is_exact_unless_case_insensitive() {
    let set = rules(
        UnmatchedPolicy::Deny,
        vec![
            rule(
                "exact",
                None,
                Condition::group("Admins"),
                vec![Grant::new("exact")],
            ),
            rule(
                "folded",
                None,
                Condition::Group {
                    name: "ÉQUIPE".into(),
                    case_insensitive: true,
                },
                vec![Grant::new("folded")],
            ),
        ],
    );
    let denied = Decision::Denied {
        reason: DenyReason::NoRuleMatched,
    };
    assert_eq!(run(&set, "c", &["admins"], &[]), denied);
    assert_eq!(
        run(&set, "c", &["Admins"], &[]),
        Decision::Granted(vec![Grant::new("exact")])
    );
    assert_eq!(
        run(&set, "c", &["équipe"], &[]),
        Decision::Granted(vec![Grant::new("folded")])
    );
}

#[test]
fn attribute_and_composite_conditions() {
    let sales = |ci| Condition::Attribute {
        name: "department".into(),
        value: "Sales".into(),
        case_insensitive: ci,
    };
    let set = rules(
        UnmatchedPolicy::AllowWithoutRoles,
        vec![
            rule("dept", None, sales(false), vec![Grant::new("seller")]),
            rule(
                "both",
                None,
                Condition::All(vec![
                    Condition::AllOf(vec!["A".into(), "B".into()]),
                    sales(true),
                ]),
                vec![Grant::new("both")],
            ),
            rule(
                "either",
                None,
                Condition::Any(vec![Condition::AnyOf(vec!["X".into()]), sales(true)]),
                vec![Grant::new("either")],
            ),
        ],
    );
    assert_eq!(
        run(&set, "c", &["A"], &[("department", "sales")]),
        Decision::Granted(vec![Grant::new("either")])
    );
    assert_eq!(
        run(
            &set,
            "c",
            &["A", "B"],
            &[("department", "Other"), ("department", "Sales")]
        ),
        Decision::Granted(vec![
            Grant::new("both"),
            Grant::new("either"),
            Grant::new("seller")
        ])
    );
    // Attribute names are exact; no match falls back to the allow policy with no roles.
    assert_eq!(
        run(&set, "c", &[], &[("Department", "Sales")]),
        Decision::Granted(vec![])
    );
    assert_eq!(
        run(&set, "c", &["X"], &[]),
        Decision::Granted(vec![Grant::new("either")])
    );
}

#[test]
fn connection_restricted_rules_apply_only_to_their_connection() {
    let set = rules(
        UnmatchedPolicy::Deny,
        vec![
            rule(
                "okta",
                Some("okta"),
                Condition::group("G"),
                vec![Grant::new("okta_role")],
            ),
            rule(
                "all",
                None,
                Condition::group("G"),
                vec![Grant::new("everywhere")],
            ),
        ],
    );
    assert_eq!(
        run(&set, "okta", &["G"], &[]),
        Decision::Granted(vec![Grant::new("everywhere"), Grant::new("okta_role")])
    );
    assert_eq!(
        run(&set, "entra", &["G"], &[]),
        Decision::Granted(vec![Grant::new("everywhere")])
    );
}

#[test]
fn union_is_sorted_deduplicated_and_independent_of_rule_order() {
    let uae = Grant::new("sales_representative").scoped("market", "UAE");
    let uae_team = uae.clone().scoped("team", "UAE-inside-sales");
    let all_rules = [
        rule(
            "r1",
            None,
            Condition::group("G1"),
            vec![uae_team.clone(), uae.clone()],
        ),
        rule("r2", None, Condition::group("G2"), vec![uae.clone()]),
        rule(
            "r3",
            None,
            Condition::group("G3"),
            vec![Grant::new("admin")],
        ),
    ];
    let expected = Decision::Granted(vec![Grant::new("admin"), uae.clone(), uae_team.clone()]);
    // Every permutation of three rules.
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let set = rules(
            UnmatchedPolicy::Deny,
            order.iter().map(|&i| all_rules[i].clone()).collect(),
        );
        assert_eq!(run(&set, "c", &["G3", "G2", "G1", "G1"], &[]), expected);
    }
}

#[test]
fn explanation_reports_unmatched_groups_and_partial_any_of() {
    let set = rules(
        UnmatchedPolicy::Deny,
        vec![rule(
            "r",
            None,
            Condition::AnyOf(vec!["A".into(), "B".into(), "C".into()]),
            vec![Grant::new("x")],
        )],
    );
    let groups = vec!["C".to_owned(), "Z".to_owned(), "A".to_owned()];
    let attributes = BTreeMap::new();
    let e = explain(
        &set,
        &Subject {
            connection: "c",
            groups: &groups,
            attributes: &attributes,
        },
    );
    assert_eq!(e.rules[0].matched_groups, vec!["A", "C"]);
    assert_eq!(e.unmatched_groups, vec!["Z"]);
}

#[test]
fn diff_reports_added_and_removed() {
    let a = Grant::new("admin");
    let india = Grant::new("regional_manager").scoped("market", "India");
    let uae = Grant::new("regional_manager").scoped("market", "UAE");
    let d = diff(
        &[india.clone(), a.clone(), a.clone()],
        &[uae.clone(), a.clone()],
    );
    assert_eq!(
        d,
        GrantDiff {
            added: vec![uae],
            removed: vec![india]
        }
    );
    assert!(!d.is_empty());
    assert!(diff(std::slice::from_ref(&a), std::slice::from_ref(&a)).is_empty());
}

#[test]
fn serde_form_round_trips() {
    let set = rules(
        UnmatchedPolicy::AllowWithoutRoles,
        vec![rule(
            "r",
            Some("okta"),
            Condition::Any(vec![
                Condition::group("G"),
                Condition::Attribute {
                    name: "role_mapping".into(),
                    value: "admin".into(),
                    case_insensitive: true,
                },
            ]),
            vec![Grant::new("admin").scoped("market", "India")],
        )],
    );
    let json = serde_json::to_string(&set).unwrap();
    expect![[r#"{"version":1,"dimensions":{"market":{},"team":{}},"rules":[{"id":"r","description":"","connection":"okta","condition":{"any":[{"group":{"name":"G","case_insensitive":false}},{"attribute":{"name":"role_mapping","value":"admin","case_insensitive":true}}]},"grants":[{"role":"admin","scopes":{"market":"India"}}]}],"unmatched_policy":"allow_without_roles"}"#]]
        .assert_eq(&json);
    assert_eq!(RuleSet::from_json(&json).unwrap(), set);
}
