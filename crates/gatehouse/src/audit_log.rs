//! Writing and reading the tamper-evident audit trail (the `audit` crate's hash chain, stored by
//! the `storage` crate). Every record is appended inside the transaction of the change it
//! describes, so a change and its record commit or roll back together.

use crate::error::{GatehouseError, Result};
use crate::{Actor, Call, Gatehouse};
use audit::{ActorKind, AuditDraft, AuditEvent, AuditRecord, ChainBuilder, ConfigAction};
use storage::{models, queries};

/// The chain for events that belong to no tenant (apps, operator tokens).
pub const SYSTEM_TENANT: &str = "_system";

impl From<audit::AuditError> for GatehouseError {
    fn from(e: audit::AuditError) -> Self {
        GatehouseError::internal(e)
    }
}

/// The first column of `row` stored beside the record for indexing that disagrees with the
/// record, by column name. Mirrors what [`Gatehouse::audit`] writes.
fn index_mismatch(row: &models::AuditRow, record: &AuditRecord) -> Option<&'static str> {
    let columns = [
        ("tenant_id", row.tenant_id == record.tenant_id),
        ("seq", u64::try_from(row.seq).ok() == Some(record.seq)),
        ("at", row.at == record.at.timestamp()),
        ("event_type", row.event_type == record.event.event_type()),
        ("actor", row.actor == record.actor.key()),
        ("target", row.target == record.target),
        (
            "correlation_id",
            row.correlation_id == record.correlation_id,
        ),
        ("hash", row.hash == record.hash),
    ];
    columns
        .into_iter()
        .find(|(_, agrees)| !agrees)
        .map(|(column, _)| column)
}

fn audit_actor(actor: &Actor) -> audit::Actor {
    let (kind, id) = match actor {
        Actor::Operator(id) => (ActorKind::Operator, id.clone()),
        Actor::Browser => (ActorKind::Anonymous, "browser".to_owned()),
        Actor::App(id) => (ActorKind::Client, id.clone()),
        Actor::System => (ActorKind::System, "gatehouse".to_owned()),
        Actor::Scim {
            directory_id,
            token_id,
        } => (ActorKind::ScimToken, format!("{directory_id}/{token_id}")),
    };
    audit::Actor { kind, id }
}

/// Filter for [`Gatehouse::audit_events`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuditEventFilter {
    /// Tenant id or slug (or [`SYSTEM_TENANT`]).
    pub tenant: String,
    /// Only records after this sequence number (cursor).
    #[serde(default)]
    pub after_seq: Option<i64>,
    /// Only this event type (`login.failed`, ...); a trailing `*` matches a prefix (`login.*`).
    #[serde(default)]
    pub event_type: Option<String>,
    /// Page size (1..=1000, default 100).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only records at or after this time.
    #[serde(default)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only records before this time.
    #[serde(default)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this actor (`kind:id`, e.g. `operator:opt_1`, `scim_token:dir/tok`).
    #[serde(default)]
    pub actor: Option<String>,
    /// Only records about this target (a user, connection, ... id).
    #[serde(default)]
    pub target: Option<String>,
}

/// Export formats of [`Gatehouse::export_audit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON record per line: the exact stored records, verifiable with the chain.
    Jsonl,
    /// A spreadsheet-safe CSV (formula cells neutralised).
    Csv,
}

impl Gatehouse {
    /// Append `event` to `tenant_id`'s chain inside the caller's transaction.
    pub(crate) fn audit(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        target: Option<&str>,
        event: AuditEvent,
    ) -> Result<()> {
        queries::lock_audit_chain(conn, tenant_id)?;
        let prev = queries::last_audit_row(conn, tenant_id)?
            .map(|row| AuditRecord::from_json(&row.record))
            .transpose()?;
        let draft = AuditDraft {
            tenant_id: tenant_id.to_owned(),
            actor: audit_actor(&call.actor),
            target: target.map(str::to_owned),
            correlation_id: call.correlation_id.clone(),
            event,
        };
        let record = ChainBuilder::append(prev.as_ref(), draft, call.now)?;
        let seq = i64::try_from(record.seq).map_err(GatehouseError::internal)?;
        queries::insert_audit_row(
            conn,
            &models::AuditRow {
                tenant_id: record.tenant_id.clone(),
                seq,
                at: record.at.timestamp(),
                event_type: record.event.event_type().to_owned(),
                actor: record.actor.key(),
                target: record.target.clone(),
                correlation_id: record.correlation_id.clone(),
                record: record.to_json()?,
                hash: record.hash.clone(),
            },
        )?;
        Ok(())
    }

    /// Record a configuration change.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn audit_config(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        object_type: &str,
        object_id: &str,
        action: &str,
        summary: &str,
    ) -> Result<()> {
        let (action, summary) = match action {
            "created" | "registered" => (ConfigAction::Created, summary.to_owned()),
            "deleted" => (ConfigAction::Deleted, summary.to_owned()),
            other => (ConfigAction::Updated, format!("{other}: {summary}")),
        };
        self.audit(
            conn,
            call,
            tenant_id,
            Some(object_id),
            AuditEvent::ConfigChanged {
                object_type: object_type.to_owned(),
                object_id: object_id.to_owned(),
                action,
                summary,
            },
        )
    }

    /// Append an event in its own transaction (used for failures, whose main transaction did
    /// not commit).
    pub(crate) fn audit_alone(
        &self,
        call: &Call,
        tenant_id: &str,
        target: Option<&str>,
        event: AuditEvent,
    ) -> Result<()> {
        self.store
            .transaction(|conn| self.audit(conn, call, tenant_id, target, event))
    }

    /// Read a tenant's audit records in chain order.
    pub fn audit_events(&self, filter: &AuditEventFilter) -> Result<Vec<AuditRecord>> {
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        let (prefix, exact) = match filter.event_type.as_deref() {
            Some(t) if t.ends_with('*') => (Some(t.trim_end_matches('*').to_owned()), None),
            Some(t) => (None, Some(t.to_owned())),
            None => (None, None),
        };
        self.store.transaction(|conn| {
            let tenant_id = self.tenant_id_for_audit(conn, &filter.tenant)?;
            let mut out = Vec::new();
            let mut after = filter.after_seq.unwrap_or(0);
            // A prefix filter is applied here; page through until the page is full or the chain ends.
            loop {
                let rows = queries::list_audit_rows(
                    conn,
                    &queries::AuditFilter {
                        tenant_id: tenant_id.clone(),
                        after_seq: after,
                        event_type: exact.clone(),
                        limit,
                        from: filter.from.map(|t| t.timestamp()),
                        to: filter.to.map(|t| t.timestamp()),
                        actor: filter.actor.clone(),
                        target: filter.target.clone(),
                    },
                )?;
                let exhausted = (rows.len() as i64) < limit;
                for row in rows {
                    after = row.seq;
                    if prefix
                        .as_ref()
                        .is_none_or(|p| row.event_type.starts_with(p.as_str()))
                    {
                        out.push(AuditRecord::from_json(&row.record)?);
                        if out.len() as i64 == limit {
                            return Ok(out);
                        }
                    }
                }
                if exhausted {
                    return Ok(out);
                }
            }
        })
    }

    /// Export every record matching `filter` (its `limit` is ignored) as JSON Lines or CSV,
    /// page by page, calling `progress` with the running count.
    pub fn export_audit<W: std::io::Write>(
        &self,
        filter: &AuditEventFilter,
        format: ExportFormat,
        mut out: W,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let mut page = AuditEventFilter {
            limit: Some(1000),
            ..filter.clone()
        };
        let mut total = 0u64;
        let mut header_written = false;
        loop {
            let records = self.audit_events(&page)?;
            let Some(last) = records.last() else { break };
            page.after_seq = Some(i64::try_from(last.seq).map_err(GatehouseError::internal)?);
            let n = match format {
                ExportFormat::Jsonl => audit::write_jsonl(&mut out, records.iter(), |_| {})?,
                ExportFormat::Csv if !header_written => {
                    header_written = true;
                    audit::write_csv(&mut out, records.iter(), |_| {})?
                }
                ExportFormat::Csv => audit::write_csv_rows(&mut out, records.iter())?,
            };
            total += n;
            progress(total);
            if records.len() < 1000 {
                break;
            }
        }
        if format == ExportFormat::Csv && !header_written {
            audit::write_csv(&mut out, std::iter::empty(), |_| {})?;
        }
        Ok(total)
    }

    /// Verify a tenant's whole chain; `Ok(n)` is the number of intact records, `Err` names the
    /// first broken one. Besides the chain itself (every record's hash and link, see
    /// [`audit::verify_chain`]) it checks that the columns stored beside each record for
    /// indexing (`event_type`, `actor`, `target`, `at`, ...) say what the record says: queries
    /// filter on those columns, which no hash covers, so an edited column could otherwise hide a
    /// record from filtered queries and exports while the chain still verifies.
    ///
    /// Reads page by page and keeps only the previous record, so memory does not grow with the
    /// chain.
    pub fn verify_audit_chain(
        &self,
        tenant: &str,
    ) -> Result<std::result::Result<u64, audit::ChainBreak>> {
        self.store.transaction(|conn| {
            let tenant_id = self.tenant_id_for_audit(conn, tenant)?;
            let mut prev: Option<AuditRecord> = None;
            let mut intact = 0u64;
            let mut after = 0;
            loop {
                let rows = queries::list_audit_rows(
                    conn,
                    &queries::AuditFilter {
                        tenant_id: tenant_id.clone(),
                        after_seq: after,
                        limit: 1000,
                        ..Default::default()
                    },
                )?;
                if rows.is_empty() {
                    return Ok(Ok(intact));
                }
                for row in rows {
                    after = row.seq;
                    // A row whose JSON no longer parses was edited: that is a break, not an error.
                    let Ok(record) = AuditRecord::from_json(&row.record) else {
                        return Ok(Err(audit::ChainBreak {
                            seq: u64::try_from(row.seq).unwrap_or(0),
                            reason: audit::BreakReason::HashMismatch,
                        }));
                    };
                    // The chain first: when the record itself was edited, that is the finding,
                    // whatever its columns say.
                    let linked = match &prev {
                        None => audit::verify_chain([&record]),
                        Some(p) => audit::verify_chain_from(p, [&record]),
                    };
                    if let Err(broken) = linked {
                        return Ok(Err(broken));
                    }
                    if let Some(field) = index_mismatch(&row, &record) {
                        return Ok(Err(audit::ChainBreak {
                            seq: record.seq,
                            reason: audit::BreakReason::IndexMismatch { field },
                        }));
                    }
                    intact += 1;
                    prev = Some(record);
                }
            }
        })
    }

    fn tenant_id_for_audit(&self, conn: &mut storage::Conn, tenant: &str) -> Result<String> {
        if tenant == SYSTEM_TENANT {
            return Ok(SYSTEM_TENANT.to_owned());
        }
        Ok(queries::find_tenant(conn, tenant)?
            .ok_or(GatehouseError::NotFound { what: "tenant" })?
            .id)
    }
}
