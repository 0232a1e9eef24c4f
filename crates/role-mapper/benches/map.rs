//! Mapping cost for a large tenant: 500 rules of mixed shapes against a user in 50 groups.
// criterion_group!/criterion_main! generate undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use role_mapper::{
    explain, map, Condition, DimensionSet, Grant, Rule, RuleSet, Subject, UnmatchedPolicy,
};
use std::collections::BTreeMap;
use std::hint::black_box;

fn rule_set() -> RuleSet {
    let rules = (0..500)
        .map(|i| {
            let condition = match i % 4 {
                0 => Condition::group(format!("Group-{i}")),
                1 => Condition::Group {
                    name: format!("group-{i}"),
                    case_insensitive: true,
                },
                2 => Condition::AnyOf(vec![format!("Group-{i}"), format!("Other-{i}")]),
                _ => Condition::All(vec![
                    Condition::group(format!("Group-{i}")),
                    Condition::Attribute {
                        name: "department".into(),
                        value: "Sales".into(),
                        case_insensitive: false,
                    },
                ]),
            };
            Rule {
                id: format!("rule-{i}"),
                description: String::new(),
                connection: None,
                condition,
                grants: vec![
                    Grant::new(format!("role-{}", i % 20)).scoped("market", format!("M{}", i % 7))
                ],
            }
        })
        .collect();
    RuleSet {
        version: 1,
        dimensions: DimensionSet::default().with("market"),
        rules,
        unmatched_policy: UnmatchedPolicy::Deny,
    }
}

fn bench(c: &mut Criterion) {
    let rules = rule_set();
    // Every tenth group exists in the rule set, so about 50 rules match.
    let groups: Vec<String> = (0..50).map(|i| format!("Group-{}", i * 10)).collect();
    let attributes = BTreeMap::from([("department".to_owned(), vec!["Sales".to_owned()])]);
    let subject = Subject {
        connection: "okta",
        groups: &groups,
        attributes: &attributes,
    };
    c.bench_function("map 500 rules x 50 groups", |b| {
        b.iter(|| map(black_box(&rules), black_box(&subject)))
    });
    c.bench_function("explain 500 rules x 50 groups", |b| {
        b.iter(|| explain(black_box(&rules), black_box(&subject)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
