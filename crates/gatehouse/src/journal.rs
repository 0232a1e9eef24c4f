//! The journal of a facade transaction: the audit records and outbox events a change writes are
//! **staged** while its transaction runs and **appended at its end**, tenant by tenant, each
//! under the tenant's one journal lock ([`storage::queries::open_tenant_journal`]).
//!
//! Why staged: appended in place, the first record took the tenant's lock and held it through
//! every later statement of the transaction and its commit, so all writes of a tenant queued
//! behind whole transactions (a SCIM `POST /Users` held it for ~12 of its 18 statements); and a
//! transaction holding it that then waited for a row held by one waiting for it deadlocked
//! (seen under concurrent SCIM group pushes). Staged, the lock covers only the append: lock
//! and read the heads (one round trip), insert (one statement on PostgreSQL), commit. Nothing
//! inside a transaction reads its own journal, so staging changes no answer; a record whose
//! sealed form the caller needs ([`Gatehouse::audit_record`]) first appends what is staged,
//! then itself, in place.
//!
//! The journal is per thread because a transaction is: [`Gatehouse::transaction`] opens it
//! around the caller's closure on the calling thread and closes it (a [`Scope`] guard) however
//! the closure ends, so a rolled-back transaction's staged entries vanish with it. Outside an
//! open journal (a test driving `storage` directly), appends happen in place, under the same
//! lock.

use crate::error::{GatehouseError, Result};
use crate::Gatehouse;
use audit::{AuditDraft, AuditRecord, ChainBuilder};
use chrono::{DateTime, Utc};
use std::cell::RefCell;
use std::collections::BTreeMap;
use storage::{models, queries};

thread_local! {
    static CURRENT: RefCell<Option<Journal>> = const { RefCell::new(None) };
    /// Whether the open transaction audited a configuration change (`config.changed`): after
    /// it commits, this process forgets its cached rows at once (`crate::cache`), without
    /// waiting to hear its own change notification.
    static CONFIG_CHANGED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What one transaction has staged so far.
#[derive(Default)]
pub(crate) struct Journal {
    audits: Vec<StagedAudit>,
    events: Vec<StagedEvent>,
}

/// An audit record waiting for its place in the chain.
pub(crate) struct StagedAudit {
    pub draft: AuditDraft,
    pub at: DateTime<Utc>,
}

/// An outbox event waiting for its `seq`.
pub(crate) struct StagedEvent {
    pub tenant_id: String,
    pub event_type: String,
    /// The payload, serialized.
    pub payload: String,
    pub created_at: i64,
    /// Receivers beyond the tenant's webhook endpoints (a back-channel logout URI).
    pub extra_receivers: Vec<Receiver>,
}

/// One receiver of an event's delivery.
pub(crate) struct Receiver {
    pub kind: &'static str,
    pub target_id: String,
    pub url: String,
}

/// Keeps a journal open on this thread until dropped; restores whatever was open before.
pub(crate) struct Scope {
    previous: Option<Journal>,
    previous_config_changed: bool,
}

impl Scope {
    pub(crate) fn open() -> Scope {
        let previous = CURRENT.with(|c| c.replace(Some(Journal::default())));
        Scope {
            previous,
            previous_config_changed: CONFIG_CHANGED.with(|c| c.replace(false)),
        }
    }

    /// Whether this transaction audited a configuration change so far.
    pub(crate) fn config_changed(&self) -> bool {
        CONFIG_CHANGED.with(|c| c.get())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        CONFIG_CHANGED.with(|c| c.set(self.previous_config_changed));
    }
}

/// Stage `entry` in the open journal; `Some(entry)` back when none is open.
fn stage<T>(entry: T, push: impl FnOnce(&mut Journal, T)) -> Option<T> {
    CURRENT.with(|c| match c.borrow_mut().as_mut() {
        Some(journal) => {
            push(journal, entry);
            None
        }
        None => Some(entry),
    })
}

/// Everything staged so far, leaving the journal open and empty.
fn take() -> Journal {
    CURRENT.with(|c| {
        c.borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    })
}

/// The stored row of a sealed record (the indexed columns repeat fields of the record; the audit
/// verifier checks that they agree).
pub(crate) fn audit_row(record: &AuditRecord) -> Result<models::AuditRow> {
    Ok(models::AuditRow {
        tenant_id: record.tenant_id.clone(),
        seq: i64::try_from(record.seq).map_err(GatehouseError::internal)?,
        at: record.at.timestamp(),
        event_type: record.event.event_type().to_owned(),
        actor: record.actor.key(),
        target: record.target.clone(),
        correlation_id: record.correlation_id.clone(),
        record: record.to_json()?,
        hash: record.hash.clone(),
    })
}

impl Gatehouse {
    /// Run `f` in one database transaction with a journal open: committed with everything it
    /// staged if `f` returns `Ok`, rolled back (journal included) otherwise. Every facade
    /// operation that writes goes through here or [`Gatehouse::transaction_as`].
    pub(crate) fn transaction<T>(
        &self,
        f: impl FnOnce(&mut storage::Conn) -> Result<T>,
    ) -> Result<T> {
        self.transaction_as(f, |e| e)
    }

    /// [`Gatehouse::transaction`] for a caller with an error type of its own (the ACS's
    /// `AcsFailure`); `flush_failed` turns a failure to append the journal into it.
    pub(crate) fn transaction_as<T, E: From<storage::StorageError>>(
        &self,
        f: impl FnOnce(&mut storage::Conn) -> std::result::Result<T, E>,
        flush_failed: impl FnOnce(GatehouseError) -> E,
    ) -> std::result::Result<T, E> {
        let config_changed = std::cell::Cell::new(false);
        let cached_before = crate::cache::take_remembered();
        let result = self.store.transaction(|conn| {
            let scope = Scope::open();
            let outcome = f(conn).and_then(|value| {
                self.flush_journal(conn).map_err(flush_failed)?;
                Ok(value)
            });
            config_changed.set(scope.config_changed());
            outcome
        });
        let cached_inside = crate::cache::take_remembered();
        // A configuration change may have committed (even when the commit reported an error,
        // the connection lost after it): rows this process cached may be stale now; other
        // processes hear of it through the change notification. And a transaction that rolled
        // back may have cached its own uncommitted write.
        if config_changed.get() || (result.is_err() && cached_inside) {
            self.row_cache.invalidate();
        }
        if cached_before {
            crate::cache::note_remembered();
        }
        result
    }

    /// Stage an audit record, or append it in place when no journal is open.
    pub(crate) fn journal_audit(
        &self,
        conn: &mut storage::Conn,
        staged: StagedAudit,
    ) -> Result<()> {
        if matches!(staged.draft.event, audit::AuditEvent::ConfigChanged { .. }) {
            CONFIG_CHANGED.with(|c| c.set(true));
        }
        match stage(staged, |j, a| j.audits.push(a)) {
            None => Ok(()),
            Some(staged) => self.append_journal(
                conn,
                Journal {
                    audits: vec![staged],
                    events: Vec::new(),
                },
            ),
        }
    }

    /// Stage an outbox event, or append it in place when no journal is open.
    pub(crate) fn journal_event(
        &self,
        conn: &mut storage::Conn,
        staged: StagedEvent,
    ) -> Result<()> {
        match stage(staged, |j, e| j.events.push(e)) {
            None => Ok(()),
            Some(staged) => self.append_journal(
                conn,
                Journal {
                    audits: Vec::new(),
                    events: vec![staged],
                },
            ),
        }
    }

    /// Append everything staged so far (see [`Gatehouse::append_journal`]).
    pub(crate) fn flush_journal(&self, conn: &mut storage::Conn) -> Result<()> {
        self.append_journal(conn, take())
    }

    /// Append everything staged so far, tenant by tenant in the order of their lock keys (so
    /// two transactions that touch the same tenants lock them in the same order, even where two
    /// tenants' keys collide).
    fn append_journal(&self, conn: &mut storage::Conn, journal: Journal) -> Result<()> {
        let Journal { audits, events } = journal;
        if audits.is_empty() && events.is_empty() {
            return Ok(());
        }
        type Staged = (Vec<StagedAudit>, Vec<StagedEvent>);
        let mut by_tenant: BTreeMap<(i64, String), Staged> = BTreeMap::new();
        let key = |tenant_id: &str| (queries::journal_lock_key(tenant_id), tenant_id.to_owned());
        for a in audits {
            by_tenant
                .entry(key(&a.draft.tenant_id))
                .or_default()
                .0
                .push(a);
        }
        for e in events {
            by_tenant.entry(key(&e.tenant_id)).or_default().1.push(e);
        }
        for ((_, tenant_id), (audits, events)) in by_tenant {
            // Lock and heads together; the receivers are read under the lock too, so an
            // endpoint registered or deleted meanwhile gets exactly the events numbered after
            // (or before) its change, never a gap.
            let heads = queries::open_tenant_journal(conn, &tenant_id)?;
            let (audit_rows, _) = if audits.is_empty() {
                (Vec::new(), Vec::new())
            } else {
                let head = heads
                    .last_record
                    .map(|json| AuditRecord::from_json(&json))
                    .transpose()?;
                seal_audits(head, audits)?
            };
            let (events, deliveries) = number_events(
                &tenant_id,
                heads.last_seq.unwrap_or(0) + 1,
                events,
                &heads.receivers,
            );
            queries::insert_journal(conn, &audit_rows, &events, &deliveries)?;
        }
        Ok(())
    }

    /// Seal `staged` onto `tenant_id`'s chain head and insert them, taking the tenant's journal
    /// lock (re-entrant) if the transaction does not hold it yet. Returns the sealed records.
    pub(crate) fn append_audits(
        &self,
        conn: &mut storage::Conn,
        tenant_id: &str,
        staged: Vec<StagedAudit>,
    ) -> Result<Vec<AuditRecord>> {
        let head = queries::open_tenant_journal(conn, tenant_id)?
            .last_record
            .map(|json| AuditRecord::from_json(&json))
            .transpose()?;
        let (rows, sealed) = seal_audits(head, staged)?;
        queries::insert_journal(conn, &rows, &[], &[])?;
        Ok(sealed)
    }
}

/// Seal `staged` in order onto `head` (the chain's newest record, `None` for a new chain):
/// the rows to insert and the sealed records.
fn seal_audits(
    mut head: Option<AuditRecord>,
    staged: Vec<StagedAudit>,
) -> Result<(Vec<models::AuditRow>, Vec<AuditRecord>)> {
    let mut sealed = Vec::with_capacity(staged.len());
    let mut rows = Vec::with_capacity(staged.len());
    for StagedAudit { draft, at } in staged {
        let record = ChainBuilder::append(head.as_ref(), draft, at)?;
        rows.push(audit_row(&record)?);
        sealed.push(record.clone());
        head = Some(record);
    }
    Ok((rows, sealed))
}

/// Number `staged` from `first`, with one delivery per receiver each: the rows to insert.
fn number_events(
    tenant_id: &str,
    first: i64,
    staged: Vec<StagedEvent>,
    endpoints: &[(String, String)],
) -> (Vec<models::OutboxEvent>, Vec<models::Delivery>) {
    let mut events = Vec::with_capacity(staged.len());
    let mut deliveries = Vec::new();
    for (seq, e) in (first..).zip(staged) {
        let event = models::OutboxEvent {
            // Derived, not random: unique by the (tenant, seq) constraint, and emitting
            // consumes no entropy (which would shift every id a seeded test expects).
            id: format!("evt_{tenant_id}_{seq}"),
            tenant_id: tenant_id.to_owned(),
            seq,
            event_type: e.event_type,
            payload: e.payload,
            created_at: e.created_at,
        };
        let webhooks = endpoints
            .iter()
            .map(|(id, url)| (crate::events::WEBHOOK, id, url));
        let extra = e
            .extra_receivers
            .iter()
            .map(|r| (r.kind, &r.target_id, &r.url));
        for (kind, target_id, url) in webhooks.chain(extra) {
            deliveries.push(models::Delivery {
                // One delivery per (event, receiver), by construction.
                id: format!("dlv_{}_{kind}_{target_id}", event.id),
                event_id: event.id.clone(),
                tenant_id: event.tenant_id.clone(),
                seq: event.seq,
                target_kind: kind.to_owned(),
                target_id: target_id.clone(),
                url: url.clone(),
                attempts: 0,
                next_attempt_at: e.created_at,
                delivered_at: None,
                last_error: None,
                locked_until: None,
            });
        }
        events.push(event);
    }
    (events, deliveries)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
    use super::*;
    use crate::{Call, GatehouseConfig, SecretBox};
    use audit::AuditEvent;
    use serde_json::json;
    use storage::outbox;
    use storage::testing::{journal_lock_is_free, TestDatabase, ENGINES};

    fn facade(db: &TestDatabase) -> Gatehouse {
        Gatehouse::new(
            db.store().unwrap(),
            GatehouseConfig::new(
                "https://sso.example.com".parse().unwrap(),
                SecretBox::new([1; 32]),
            ),
            Box::new(gatehouse_types::FixedEntropy::new(1)),
        )
    }

    /// The first records of a tenant's chain as stored.
    fn chain_rows(store: &storage::Store, tenant_id: &str) -> Vec<models::AuditRow> {
        let filter = queries::AuditFilter {
            tenant_id: tenant_id.into(),
            limit: 10,
            ..Default::default()
        };
        store
            .transaction(|conn| queries::list_audit_rows(conn, &filter))
            .unwrap()
    }

    fn note(n: u32) -> AuditEvent {
        AuditEvent::AdminAction {
            action: format!("note {n}"),
            summary: String::new(),
        }
    }

    /// The point of the journal: while a transaction runs, its records and events wait in the
    /// journal and the tenant's lock stays free for everyone else; at its end they are sealed
    /// in order, after what other transactions committed meanwhile.
    #[test]
    fn a_running_transaction_holds_no_journal_lock_and_seals_in_order_at_its_end() {
        for engine in ENGINES {
            let db = TestDatabase::new(engine).unwrap();
            let gh = facade(&db);
            let call = Call::system(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
            let store = db.store().unwrap();
            gh.transaction(|conn| {
                gh.audit(conn, &call, "t1", None, note(1))?;
                gh.emit(conn, &call, "t1", "user.created", json!({"user_id": "u1"}))?;
                gh.audit(conn, &call, "t1", None, note(2))?;
                assert!(
                    journal_lock_is_free(&store, "t1").unwrap(),
                    "{engine:?}: staged, not locked"
                );
                // Another writer of the tenant commits meanwhile (no journal: in place).
                store.transaction(|other| {
                    gh.append_audits(
                        other,
                        "t1",
                        vec![StagedAudit {
                            draft: crate::audit_log::draft(&call, "t1", None, note(0)),
                            at: call.now,
                        }],
                    )
                })?;
                Ok(())
            })
            .unwrap();
            let rows = chain_rows(&store, "t1");
            let records: Vec<AuditRecord> = rows
                .iter()
                .map(|r| AuditRecord::from_json(&r.record).unwrap())
                .collect();
            let actions: Vec<String> = records
                .iter()
                .map(|r| match &r.event {
                    AuditEvent::AdminAction { action, .. } => action.clone(),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(actions, ["note 0", "note 1", "note 2"], "{engine:?}");
            assert_eq!(records[1].prev_hash, records[0].hash, "{engine:?}");
            assert_eq!(records[2].prev_hash, records[1].hash, "{engine:?}");
            let events = gh.transaction(|conn| Ok(outbox::events_since(conn, "t1", 0, 10)?));
            assert_eq!(events.unwrap().len(), 1, "{engine:?}");
        }
    }

    /// A transaction that fails leaves nothing of its journal behind, and the next transaction
    /// on the same thread starts with an empty one.
    #[test]
    fn a_rolled_back_transaction_leaves_no_staged_entry_behind() {
        for engine in ENGINES {
            let db = TestDatabase::new(engine).unwrap();
            let gh = facade(&db);
            let call = Call::system(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
            let failed: Result<()> = gh.transaction(|conn| {
                gh.audit(conn, &call, "t1", None, note(1))?;
                Err(GatehouseError::internal("the change itself failed"))
            });
            assert!(failed.is_err());
            gh.transaction(|conn| gh.audit(conn, &call, "t1", None, note(2)))
                .unwrap();
            let rows = chain_rows(&db.store().unwrap(), "t1");
            assert_eq!(rows.len(), 1, "{engine:?}");
            assert_eq!(rows[0].seq, 1, "{engine:?}");
        }
    }
}
