//! Exports: JSON Lines (lossless, verifiable) and CSV (for spreadsheets).

use crate::{AuditError, AuditRecord};
use chrono::SecondsFormat;
use std::io::Write;

/// Writes one record per line as JSON (the same form as [`AuditRecord::to_json`]), calling
/// `progress` with the running count after each record. Returns the number written.
///
/// The output verifies: parse each line with [`AuditRecord::from_json`] and pass the records to
/// [`crate::verify_chain`].
pub fn write_jsonl<'a, W: Write>(
    mut out: W,
    records: impl IntoIterator<Item = &'a AuditRecord>,
    mut progress: impl FnMut(u64),
) -> Result<u64, AuditError> {
    let mut count = 0u64;
    for record in records {
        let line = record.to_json()?;
        out.write_all(line.as_bytes()).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        count += 1;
        progress(count);
    }
    out.flush().map_err(io)?;
    Ok(count)
}

/// The CSV header row, in column order.
pub const CSV_COLUMNS: [&str; 12] = [
    "tenant_id",
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "target",
    "correlation_id",
    "event_type",
    "event",
    "schema_version",
    "prev_hash",
    "hash",
];

/// Writes a header and one row per record (RFC 4180: CRLF line ends, fields containing `,`, `"`,
/// CR or LF are quoted with `"` doubled). `event` holds the event's canonical JSON. Returns the
/// number of records written; `progress` is called with the running count.
///
/// Cells that a spreadsheet would evaluate as a formula (starting with `=`, `+`, `-`, `@`, tab or
/// CR) get a leading `'`: several fields (subjects, summaries) are attacker-influenced, and an
/// export is opened by an administrator. The JSON Lines export is the lossless one.
pub fn write_csv<'a, W: Write>(
    mut out: W,
    records: impl IntoIterator<Item = &'a AuditRecord>,
    progress: impl FnMut(u64),
) -> Result<u64, AuditError> {
    write_row(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned()))?;
    write_csv_records(out, records, progress)
}

/// The rows of [`write_csv`] without the header line, for appending later pages of an export;
/// `progress` is called with the running count of this call.
pub fn write_csv_rows<'a, W: Write>(
    out: W,
    records: impl IntoIterator<Item = &'a AuditRecord>,
    progress: impl FnMut(u64),
) -> Result<u64, AuditError> {
    write_csv_records(out, records, progress)
}

fn write_csv_records<'a, W: Write>(
    mut out: W,
    records: impl IntoIterator<Item = &'a AuditRecord>,
    mut progress: impl FnMut(u64),
) -> Result<u64, AuditError> {
    let mut count = 0u64;
    for r in records {
        let event = serde_json::to_value(&r.event).map_err(|e| AuditError::Serialize {
            detail: e.to_string(),
        })?;
        let mut event_json = Vec::new();
        crate::canonical_json(&event, &mut event_json);
        write_row(
            &mut out,
            [
                r.tenant_id.clone(),
                r.seq.to_string(),
                r.at.to_rfc3339_opts(SecondsFormat::Micros, true),
                r.actor.kind.as_str().to_owned(),
                r.actor.id.clone(),
                r.target.clone().unwrap_or_default(),
                r.correlation_id.clone(),
                r.event.event_type().to_owned(),
                String::from_utf8_lossy(&event_json).into_owned(),
                r.schema_version.to_string(),
                r.prev_hash.clone(),
                r.hash.clone(),
            ],
        )?;
        count += 1;
        progress(count);
    }
    out.flush().map_err(io)?;
    Ok(count)
}

fn write_row<W: Write>(
    out: &mut W,
    cells: impl IntoIterator<Item = String>,
) -> Result<(), AuditError> {
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_cell(&mut line, &cell);
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes()).map_err(io)
}

/// Appends one CSV cell, neutralised against formula evaluation and quoted when needed.
pub(crate) fn push_cell(line: &mut String, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || cell.contains([',', '"', '\r', '\n']);
    if quote {
        line.push('"');
    }
    if formula {
        line.push('\'');
    }
    for ch in cell.chars() {
        if ch == '"' {
            line.push('"');
        }
        line.push(ch);
    }
    if quote {
        line.push('"');
    }
}

fn io(source: std::io::Error) -> AuditError {
    AuditError::Io { source }
}
