//! The audit trail as an operator uses it, on SQLite and PostgreSQL: `verify_audit_chain` finds
//! records edited in place with raw SQL (the record itself, or only a column stored beside it for
//! indexing), and an export is itself recorded in the tenant's chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{facade, t0};
use audit::{BreakReason, ChainBreak};
use chrono::Duration;
use gatehouse::*;
use storage::testing::{TestDatabase, ENGINES};
use storage::Engine;

fn op(secs: i64) -> Call {
    Call::operator(t0() + Duration::seconds(secs), "test")
}

/// Tenant `acme` with three records in its chain: created (seq 1), `acme.test` added (seq 2),
/// the session lifetime set (seq 3). Returns the tenant id.
fn acme(gh: &Gatehouse) -> String {
    let id = gh
        .create_tenant(&op(0), NewTenant::new("acme", "Acme"))
        .unwrap()
        .id;
    gh.add_tenant_domain(&op(1), "acme", "acme.test").unwrap();
    gh.set_session_lifetime(&op(2), "acme", 3600).unwrap();
    assert_eq!(gh.verify_audit_chain("acme").unwrap(), Ok(3));
    id
}

fn config_changes(gh: &Gatehouse) -> Vec<u64> {
    gh.audit_events(&AuditEventFilter {
        tenant: "acme".into(),
        event_type: Some("config.changed".into()),
        ..Default::default()
    })
    .unwrap()
    .iter()
    .map(|r| r.seq)
    .collect()
}

#[test]
fn a_record_whose_json_was_edited_in_place_is_named() {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let gh = facade(&db, 1);
        let tenant_id = acme(&gh);
        // Rewrite which domain was added, in the stored record only; every column stays.
        let changed = db
            .execute(&format!(
                "UPDATE audit_log SET record = REPLACE(record, 'acme.test', 'evil.test') \
                 WHERE tenant_id = '{tenant_id}' AND seq = 2"
            ))
            .unwrap();
        assert_eq!(changed, 1, "{engine:?}");
        assert_eq!(
            gh.verify_audit_chain("acme").unwrap(),
            Err(ChainBreak {
                seq: 2,
                reason: BreakReason::HashMismatch
            }),
            "{engine:?}"
        );
    }
}

#[test]
fn a_record_whose_indexed_column_was_edited_in_place_is_named() {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let gh = facade(&db, 1);
        let tenant_id = acme(&gh);
        let row = format!("WHERE tenant_id = '{tenant_id}' AND seq = 2");
        // Each edit leaves the record JSON, its hash and every link of the chain untouched.
        let edits: [(&str, &str, &str); 6] = [
            ("event_type", "'login.failed'", "'config.changed'"),
            ("actor", "'operator:someone-else'", "'operator:test'"),
            ("target", "NULL", &format!("'{tenant_id}'")),
            ("at", "at + 86400", "at - 86400"),
            (
                "correlation_id",
                "'op-0'",
                &format!("'op-{}'", (t0() + Duration::seconds(1)).timestamp_micros()),
            ),
            ("hash", "REPLACE(hash, SUBSTR(hash, 1, 1), 'x')", ""),
        ];
        for (column, forged, original) in edits {
            let changed = db
                .execute(&format!("UPDATE audit_log SET {column} = {forged} {row}"))
                .unwrap();
            assert_eq!(changed, 1, "{engine:?} {column}");
            assert_eq!(
                gh.verify_audit_chain("acme").unwrap(),
                Err(ChainBreak {
                    seq: 2,
                    reason: BreakReason::IndexMismatch { field: column }
                }),
                "{engine:?} {column}"
            );
            if column == "event_type" {
                // What the edit is for: filtered queries no longer see the record.
                assert_eq!(config_changes(&gh), [1, 3], "{engine:?}");
            }
            if original.is_empty() {
                break;
            }
            db.execute(&format!("UPDATE audit_log SET {column} = {original} {row}"))
                .unwrap();
            assert_eq!(
                gh.verify_audit_chain("acme").unwrap(),
                Ok(3),
                "{engine:?} {column}"
            );
        }
        let shown = gh
            .verify_audit_chain("acme")
            .unwrap()
            .unwrap_err()
            .to_string();
        assert_eq!(
            shown,
            "audit chain broken at seq 2: the indexed column hash does not match the record (the column was edited)"
        );
    }
}

#[test]
fn the_first_broken_record_is_named_when_later_ones_are_broken_too() {
    let db = TestDatabase::new(Engine::Sqlite).unwrap();
    let gh = facade(&db, 1);
    let tenant_id = acme(&gh);
    db.execute(&format!(
        "UPDATE audit_log SET actor = 'operator:x' WHERE tenant_id = '{tenant_id}' AND seq = 3"
    ))
    .unwrap();
    db.execute(&format!(
        "UPDATE audit_log SET target = NULL WHERE tenant_id = '{tenant_id}' AND seq = 2"
    ))
    .unwrap();
    assert_eq!(
        gh.verify_audit_chain("acme").unwrap(),
        Err(ChainBreak {
            seq: 2,
            reason: BreakReason::IndexMismatch { field: "target" }
        })
    );
}
