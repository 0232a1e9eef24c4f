//! The audit trail as an operator uses it, on SQLite and PostgreSQL: `verify_audit_chain` finds
//! records edited in place with raw SQL (the record itself, or only a column stored beside it for
//! indexing), and an export is itself recorded in the tenant's chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{facade, t0};
use audit::AuditRecord;
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

fn export(
    gh: &Gatehouse,
    call: &Call,
    filter: AuditEventFilter,
) -> (Vec<AuditRecord>, Vec<ExportProgress>) {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let n = gh
        .export_audit(call, &filter, ExportFormat::Jsonl, &mut out, |p| {
            seen.push(p)
        })
        .unwrap();
    let records: Vec<AuditRecord> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| AuditRecord::from_json(l).unwrap())
        .collect();
    assert_eq!(n, records.len() as u64);
    (records, seen)
}

fn everything() -> AuditEventFilter {
    AuditEventFilter {
        tenant: "acme".into(),
        event_type: Some("*".into()),
        ..Default::default()
    }
}

#[test]
fn an_export_is_recorded_in_the_tenants_chain_and_ends_with_its_own_record() {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let gh = facade(&db, 1);
        acme(&gh);
        let exporter = Call::operator(t0() + Duration::seconds(10), "opt_auditor");

        // A filtered export: the three config changes, and a fourth record saying who took them.
        let (records, progress) = export(
            &gh,
            &exporter,
            AuditEventFilter {
                event_type: Some("config.*".into()),
                actor: Some("operator:test".into()),
                ..everything()
            },
        );
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3],
            "{engine:?}"
        );
        assert_eq!(
            progress.first(),
            Some(&ExportProgress {
                written: 0,
                total: 3
            })
        );
        assert_eq!(
            progress.last(),
            Some(&ExportProgress {
                written: 3,
                total: 3
            })
        );
        assert_eq!(
            progress.len(),
            4,
            "{engine:?}: once up front, then per record"
        );
        let own = gh
            .audit_events(&AuditEventFilter {
                event_type: Some("admin.action".into()),
                ..everything()
            })
            .unwrap();
        assert_eq!(own.len(), 1, "{engine:?}");
        assert_eq!(own[0].seq, 4);
        assert_eq!(own[0].actor.key(), "operator:opt_auditor");
        assert_eq!(own[0].correlation_id, exporter.correlation_id);
        assert_eq!(
            own[0].event,
            audit::AuditEvent::AdminAction {
                action: "audit.export".into(),
                summary: r#"{"actor":"operator:test","format":"jsonl","type":"config.*"}"#.into(),
            },
            "{engine:?}"
        );

        // An unfiltered export ends with its own, complete record: the output verifies from
        // genesis through it.
        let (records, _) = export(&gh, &exporter, everything());
        assert_eq!(records.len(), 5, "{engine:?}");
        assert_eq!(records[4].event.event_type(), "admin.action");
        assert_eq!(audit::verify_chain(&records), Ok(()), "{engine:?}");
        assert_eq!(gh.verify_audit_chain("acme").unwrap(), Ok(5), "{engine:?}");
    }
}

#[test]
fn records_appended_while_an_export_runs_are_left_out() {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let gh = facade(&db, 1);
        acme(&gh);
        let mut out = Vec::new();
        let mut appended = false;
        let n = gh
            .export_audit(&op(10), &everything(), ExportFormat::Jsonl, &mut out, |p| {
                if p.written == 1 && !appended {
                    gh.add_tenant_domain(&op(11), "acme", "late.test").unwrap();
                    appended = true;
                }
            })
            .unwrap();
        assert!(appended);
        // Records 1-3, then the export's own record (4); the domain added meanwhile is 5.
        assert_eq!(n, 4, "{engine:?}");
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 4);
        assert_eq!(gh.verify_audit_chain("acme").unwrap(), Ok(5), "{engine:?}");
    }
}

/// A writer that refuses every byte (a full disk, a client that went away).
struct Broken;

impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_export_is_on_record_even_when_writing_it_fails_and_bad_filters_record_nothing() {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let gh = facade(&db, 1);
        acme(&gh);
        let failed = gh.export_audit(&op(10), &everything(), ExportFormat::Csv, Broken, |_| {});
        assert!(failed.is_err(), "{engine:?}");
        let exports = |gh: &Gatehouse| {
            gh.audit_events(&AuditEventFilter {
                event_type: Some("admin.*".into()),
                ..everything()
            })
            .unwrap()
            .len()
        };
        assert_eq!(
            exports(&gh),
            1,
            "{engine:?}: recorded before any byte was written"
        );

        let too_long = AuditEventFilter {
            target: Some("x".repeat(201)),
            ..everything()
        };
        match gh.export_audit(&op(11), &too_long, ExportFormat::Csv, Vec::new(), |_| {}) {
            Err(GatehouseError::InvalidInput {
                field: "target", ..
            }) => {}
            other => panic!("{engine:?}: {other:?}"),
        }
        let unknown = AuditEventFilter {
            tenant: "nope".into(),
            ..everything()
        };
        assert!(gh
            .export_audit(&op(11), &unknown, ExportFormat::Csv, Vec::new(), |_| {})
            .is_err());
        assert_eq!(exports(&gh), 1, "{engine:?}");
        assert_eq!(gh.verify_audit_chain("acme").unwrap(), Ok(4), "{engine:?}");
    }
}
