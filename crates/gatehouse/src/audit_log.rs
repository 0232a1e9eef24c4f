//! Writing and reading the tamper-evident audit trail (the `audit` crate's hash chain, stored by
//! the `storage` crate). Every record is appended inside the transaction of the change it
//! describes, so a change and its record commit or roll back together.

use crate::error::{GatehouseError, Result};
use crate::journal::StagedAudit;
use crate::{Actor, Call, Gatehouse};
use audit::{ActorKind, AuditDraft, AuditEvent, AuditRecord, ConfigAction};
use storage::{models, queries};

/// The chain for events that belong to no tenant (apps, operator tokens).
pub const SYSTEM_TENANT: &str = "_system";

impl From<audit::AuditError> for GatehouseError {
    fn from(e: audit::AuditError) -> Self {
        match e {
            // Only the caller's values can make a record that large (names, ids, summaries):
            // the change is refused, with nothing written.
            audit::AuditError::TooLarge { max, .. } => GatehouseError::InvalidInput {
                field: "request",
                reason: format!(
                    "the change is too large to record in the audit trail (over {max} bytes)"
                ),
            },
            other => GatehouseError::internal(other),
        }
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

pub(crate) fn draft(
    call: &Call,
    tenant_id: &str,
    target: Option<&str>,
    event: AuditEvent,
) -> AuditDraft {
    AuditDraft {
        tenant_id: tenant_id.to_owned(),
        actor: audit_actor(&call.actor),
        target: target.map(str::to_owned),
        correlation_id: call.correlation_id.clone(),
        event,
    }
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

/// The `action` of the `admin.action` record every export writes.
pub const EXPORT_ACTION: &str = "audit.export";

/// Longest filter value (tenant, event type, actor, target) accepted: ids are far shorter, and
/// an export copies its filter into an audit record, which must stay small.
const MAX_FILTER_VALUE: usize = 200;

/// How far an export is, for [`Gatehouse::export_audit`]'s progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportProgress {
    /// Records written so far.
    pub written: u64,
    /// Records the export will write in all (known before the first one).
    pub total: u64,
}

fn check_filter(filter: &AuditEventFilter) -> Result<()> {
    let values = [
        ("tenant", Some(&filter.tenant)),
        ("event_type", filter.event_type.as_ref()),
        ("actor", filter.actor.as_ref()),
        ("target", filter.target.as_ref()),
    ];
    for (field, value) in values {
        if value.is_some_and(|v| v.len() > MAX_FILTER_VALUE) {
            return Err(GatehouseError::invalid(
                field,
                format!("longer than {MAX_FILTER_VALUE} bytes"),
            ));
        }
    }
    Ok(())
}

/// The event types a filter's `event_type` selects, `None` for all. The set is closed, so a
/// prefix (`login.*`) becomes the list of known types it covers and the database filters on it.
fn event_types(event_type: Option<&str>) -> Option<Vec<String>> {
    let wanted = event_type?;
    match wanted.strip_suffix('*') {
        Some("") => None,
        Some(prefix) => Some(
            AuditEvent::TYPES
                .iter()
                .filter(|t| t.starts_with(prefix))
                .map(|t| (*t).to_owned())
                .collect(),
        ),
        None => Some(vec![wanted.to_owned()]),
    }
}

fn storage_filter(
    tenant_id: String,
    filter: &AuditEventFilter,
    limit: i64,
    until_seq: Option<i64>,
) -> queries::AuditFilter {
    queries::AuditFilter {
        tenant_id,
        after_seq: filter.after_seq.unwrap_or(0),
        until_seq,
        from: filter.from.map(|t| t.timestamp()),
        to: filter.to.map(|t| t.timestamp()),
        event_types: event_types(filter.event_type.as_deref()),
        actor: filter.actor.clone(),
        target: filter.target.clone(),
        limit,
    }
}

fn read_page(conn: &mut storage::Conn, filter: queries::AuditFilter) -> Result<Vec<AuditRecord>> {
    if filter.event_types.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    queries::list_audit_rows(conn, &filter)?
        .iter()
        .map(|row| AuditRecord::from_json(&row.record).map_err(GatehouseError::from))
        .collect()
}

/// What an export record says about the export: its format and the filter, as compact JSON
/// with only the conditions that were set.
fn export_summary(filter: &AuditEventFilter, format: ExportFormat) -> Result<String> {
    let mut summary = serde_json::Map::new();
    summary.insert(
        "format".into(),
        serde_json::to_value(format).map_err(GatehouseError::internal)?,
    );
    let mut set = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            summary.insert(key.to_owned(), serde_json::Value::String(v));
        }
    };
    set("type", filter.event_type.clone());
    set("after_seq", filter.after_seq.map(|s| s.to_string()));
    set("from", filter.from.map(|t| t.to_rfc3339()));
    set("to", filter.to.map(|t| t.to_rfc3339()));
    set("actor", filter.actor.clone());
    set("target", filter.target.clone());
    serde_json::to_string(&summary).map_err(GatehouseError::internal)
}

/// Export formats of [`Gatehouse::export_audit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON record per line: the exact stored records, verifiable with the chain.
    Jsonl,
    /// A spreadsheet-safe CSV (formula cells neutralised).
    Csv,
}

impl Gatehouse {
    /// Append `event` to `tenant_id`'s chain as part of the caller's transaction (staged in its
    /// journal and sealed at its end: see `journal`).
    pub(crate) fn audit(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        target: Option<&str>,
        event: AuditEvent,
    ) -> Result<()> {
        let staged = StagedAudit {
            draft: draft(call, tenant_id, target, event),
            at: call.now,
        };
        self.journal_audit(conn, staged)
    }

    /// [`Gatehouse::audit`], appended in place (after whatever the journal staged before it),
    /// returning the sealed record.
    pub(crate) fn audit_record(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        target: Option<&str>,
        event: AuditEvent,
    ) -> Result<AuditRecord> {
        self.flush_journal(conn)?;
        let staged = StagedAudit {
            draft: draft(call, tenant_id, target, event),
            at: call.now,
        };
        self.append_audits(conn, tenant_id, vec![staged])?
            .pop()
            .ok_or_else(|| GatehouseError::internal("an append sealed no record"))
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
        self.transaction(|conn| self.audit(conn, call, tenant_id, target, event))
    }

    /// Read a tenant's audit records in chain order.
    pub fn audit_events(&self, filter: &AuditEventFilter) -> Result<Vec<AuditRecord>> {
        check_filter(filter)?;
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        self.transaction(|conn| {
            let tenant_id = self.tenant_id_for_audit(conn, &filter.tenant)?;
            read_page(conn, storage_filter(tenant_id, filter, limit, None))
        })
    }

    /// Export every record matching `filter` (its `limit` is ignored) as JSON Lines or CSV,
    /// page by page, calling `progress` before the first record (with `written` 0 and the
    /// `total` to expect) and after each one. Returns the number written.
    ///
    /// The export is an operator reading the tenant's whole history, so it is recorded first:
    /// an `admin.action` record (`audit.export`, the format and filter as JSON in its summary)
    /// is appended to the tenant's chain and **committed before any record is read**, and the
    /// export then stops at that record (`seq` up to its own). Before, not after: data that
    /// left is always on record — if the audit write fails nothing is exported, and a crash or
    /// a dropped connection mid-export cannot leave an unrecorded partial export. Committed on
    /// its own, not inside the export's reads: the export never contains a record that could
    /// still roll back, and the tenant's chain lock (which every login of the tenant waits
    /// for) is not held for the length of the export. The fixed end makes the export a closed
    /// range: records appended while it pages through are left out, the count known up front
    /// is exact, and an unfiltered JSON Lines export verifies from genesis to its own record.
    pub fn export_audit<W: std::io::Write>(
        &self,
        call: &Call,
        filter: &AuditEventFilter,
        format: ExportFormat,
        mut out: W,
        mut progress: impl FnMut(ExportProgress),
    ) -> Result<u64> {
        check_filter(filter)?;
        let summary = export_summary(filter, format)?;
        let (tenant_id, own) = self.transaction(|conn| {
            let tenant_id = self.tenant_id_for_audit(conn, &filter.tenant)?;
            let own = self.audit_record(
                conn,
                call,
                &tenant_id,
                None,
                AuditEvent::AdminAction {
                    action: EXPORT_ACTION.to_owned(),
                    summary,
                },
            )?;
            Ok::<_, GatehouseError>((tenant_id, own))
        })?;
        let until = Some(i64::try_from(own.seq).map_err(GatehouseError::internal)?);
        let mut page = storage_filter(tenant_id, filter, 1000, until);
        let total = self.transaction(|conn| {
            let n = queries::count_audit_rows(conn, &page)?;
            u64::try_from(n).map_err(GatehouseError::internal)
        })?;
        progress(ExportProgress { written: 0, total });
        let mut written = 0u64;
        if format == ExportFormat::Csv {
            audit::write_csv(&mut out, std::iter::empty(), |_| {})?;
        }
        loop {
            let records = self.transaction(|conn| read_page(conn, page.clone()))?;
            let Some(last) = records.last() else { break };
            page.after_seq = i64::try_from(last.seq).map_err(GatehouseError::internal)?;
            let report = |n: u64| {
                progress(ExportProgress {
                    written: written + n,
                    total,
                })
            };
            written += match format {
                ExportFormat::Jsonl => audit::write_jsonl(&mut out, records.iter(), report)?,
                ExportFormat::Csv => audit::write_csv_rows(&mut out, records.iter(), report)?,
            };
            if (records.len() as i64) < page.limit {
                break;
            }
        }
        out.flush()
            .map_err(|e| GatehouseError::from(audit::AuditError::Io { source: e }))?;
        Ok(written)
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
        self.transaction(|conn| {
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
