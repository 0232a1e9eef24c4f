//! Gatehouse's audit log: the closed set of [`AuditEvent`]s, the sealed [`AuditRecord`], and a
//! per-tenant SHA-256 hash chain that makes edits, deletions and reordering detectable.
//!
//! * Each record's `hash = SHA-256(prev_hash || canonical_bytes)`, where `prev_hash` is the
//!   previous record's hash as 64 lowercase hex ASCII bytes ([`GENESIS_HASH`] for `seq` 1) and
//!   `canonical_bytes` is the record without `hash`, serialized with [`canonical_json`] (sorted
//!   keys, no whitespace, timestamps with exactly six fractional digits).
//! * [`ChainBuilder::append`] seals a draft onto the tenant's head; [`verify_chain`] names the
//!   first broken record.
//! * Storage implements [`AuditSink`]; this crate knows no storage engine. Time is an argument.
//! * [`write_jsonl`] and [`write_csv`] export any iterator of records.
//!
//! Events never carry secrets, tokens or assertion bodies: ids, codes and short summaries only.
//!
//! ```
//! use audit::{verify_chain, Actor, ActorKind, AuditDraft, AuditEvent, ChainBuilder};
//! use chrono::{TimeZone, Utc};
//!
//! let draft = |user: &str| AuditDraft {
//!     tenant_id: "acme".into(),
//!     actor: Actor { kind: ActorKind::System, id: "scim".into() },
//!     target: Some(user.into()),
//!     correlation_id: "req-1".into(),
//!     event: AuditEvent::UserDeactivated { user_id: user.into(), source: audit::ChangeSource::Scim },
//! };
//! let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
//! let first = ChainBuilder::append(None, draft("u1"), now)?;
//! let second = ChainBuilder::append(Some(&first), draft("u2"), now)?;
//! assert_eq!(second.prev_hash, first.hash);
//! assert!(verify_chain([&first, &second]).is_ok());
//!
//! let mut tampered = second.clone();
//! tampered.target = Some("someone-else".into());
//! assert_eq!(verify_chain([&first, &tampered]).unwrap_err().seq, 2);
//! # Ok::<(), audit::AuditError>(())
//! ```

mod chain;
mod error;
mod event;
mod export;
mod sink;

pub use chain::{
    canonical_json, verify_chain, verify_chain_from, Actor, ActorKind, AuditDraft, AuditRecord,
    ChainBuilder, GENESIS_HASH, MAX_RECORD_BYTES, SCHEMA_VERSION,
};
pub use error::{AuditError, BreakReason, ChainBreak};
pub use event::{AuditEvent, AuditGrant, ChangeSource, ConfigAction, SessionEndReason};
pub use export::{write_csv, write_csv_rows, write_jsonl, CSV_COLUMNS};
pub use sink::{AuditQuery, AuditSink, MemoryAuditSink, MAX_QUERY_LIMIT};
