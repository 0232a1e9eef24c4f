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
