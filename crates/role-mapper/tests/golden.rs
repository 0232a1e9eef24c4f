//! Loop over `fixtures/role-mapper/<case>/`: parse the rule set and subject, render `explain`, and
//! compare with the case's `explain.txt` (regenerate with `UPDATE_EXPECT=1`).

use expect_test::expect_file;
use role_mapper::{explain, map, RuleSet, Subject};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectDoc {
    connection: String,
    groups: Vec<String>,
    attributes: BTreeMap<String, Vec<String>>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/role-mapper")
}

#[test]
fn golden_explanations() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let names: Vec<String> = cases
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // The seed examples must stay covered; an emptied fixtures folder must not pass silently.
    for seed in [
        "megatron-lead-admin",
        "regional-manager-india",
        "sales-uae-inside",
        "sales-india-and-uae-union",
        "role-mapping-claim-missing-deny",
    ] {
        assert!(names.iter().any(|n| n == seed), "missing fixture {seed}");
    }
    for dir in &cases {
        let rules = RuleSet::from_json(&std::fs::read_to_string(dir.join("rules.json")).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let doc: SubjectDoc =
            serde_json::from_str(&std::fs::read_to_string(dir.join("subject.json")).unwrap())
                .unwrap();
        let subject = Subject {
            connection: &doc.connection,
            groups: &doc.groups,
            attributes: &doc.attributes,
        };
        let explanation = explain(&rules, &subject);
        assert_eq!(
            explanation.decision,
            map(&rules, &subject),
            "{}",
            dir.display()
        );

        // Rule order must not change the decision.
        let mut reversed = rules.clone();
        reversed.rules.reverse();
        assert_eq!(
            map(&reversed, &subject),
            explanation.decision,
            "{}",
            dir.display()
        );

        expect_file![dir.join("explain.txt")].assert_eq(&explanation.to_string());
    }
}

/// Every prefix and many single-byte corruptions of every fixture rule set: parsing returns
/// `Ok` or `Err`, never panics, and anything it accepts also validates.
#[test]
fn corrupted_rule_sets_never_panic() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path().join("rules.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let prefix = String::from_utf8_lossy(&bytes[..cut]);
            if let Ok(set) = RuleSet::from_json(&prefix) {
                set.validate().unwrap();
            }
            for replacement in [b'{', b'"', b']', b'0', b'x'] {
                let mut mutated = bytes.to_vec();
                mutated[cut] = replacement;
                if let Ok(set) = RuleSet::from_json(&String::from_utf8_lossy(&mutated)) {
                    set.validate().unwrap();
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked > 1000,
        "fixtures went missing ({checked} positions)"
    );
}
