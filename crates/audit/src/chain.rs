//! Records, their canonical bytes, and the per-tenant hash chain.

use crate::event::micros;
use crate::{AuditError, AuditEvent, BreakReason, ChainBreak};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Version of the record and event format this build writes (and the newest it verifies).
///
/// * 1 — the first format.
/// * 2 — adds the `logout.failed` event and `login.succeeded.amr`.
/// * 3 — adds the `session.terminated` reason `authorization_code_reuse`.
///
/// Bumping is safe for stored chains because `schema_version` is a field *of each record*,
/// covered by that record's hash: a record written as version 1 keeps `"schema_version":1` and
/// its bytes, so it verifies unchanged; only new records say 2. Verification accepts every
/// version from 1 up to this one, and a verifier older than a record refuses it by version
/// (`UnsupportedSchemaVersion`) instead of guessing. Both additions were shipped for a while
/// under version 1, so a version-1 record may contain them; that is why parsing does not gate
/// fields by version (`tests/fixtures/chain-v1.jsonl` is such a chain and must keep verifying).
/// Additions only: a change that alters how an existing record serializes would change its hash
/// and is never allowed — `amr` is omitted when empty for exactly that reason.
pub const SCHEMA_VERSION: u16 = 3;
/// `prev_hash` of a tenant's first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Largest serialized record [`AuditRecord::from_json`] accepts (64 KiB).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// What kind of principal acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// An end user (signed in, or the subject of a login attempt once identified).
    User,
    /// An operator through the admin API or CLI.
    Operator,
    /// A SCIM client authenticated by a directory token.
    ScimToken,
    /// Gatehouse itself (background jobs).
    System,
    /// Nobody identified yet (e.g. a failed login before the subject is known).
    Anonymous,
    /// An app (OIDC client) acting with its client credentials.
    Client,
}

impl ActorKind {
    /// The serialized name (`user`, `operator`, `scim_token`, `system`, `anonymous`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Operator => "operator",
            ActorKind::ScimToken => "scim_token",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
            ActorKind::Client => "client",
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// Kind of principal.
    pub kind: ActorKind,
    /// Its id (user id, operator id, token id, job name; empty for anonymous).
    pub id: String,
}

impl Actor {
    /// The `kind:id` key storage indexes actors by (e.g. `user:u_42`).
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// An event about to be recorded: everything but its position in the chain and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    /// Tenant whose chain it joins.
    pub tenant_id: String,
    /// Who acted.
    pub actor: Actor,
    /// The main object affected (user id, session id, connection id, …), for filtering.
    pub target: Option<String>,
    /// Request/trace id tying records of one operation together.
    pub correlation_id: String,
    /// What happened.
    pub event: AuditEvent,
}

/// One sealed entry of a tenant's audit chain.
///
/// Unknown fields are refused when parsing (here and in events): the hash is recomputed from the
/// parsed value, so a field it did not know would be stored data that no hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Tenant the chain belongs to.
    pub tenant_id: String,
    /// Position in the tenant's chain, from 1, without gaps.
    pub seq: u64,
    /// When it was recorded (microsecond precision).
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor: Actor,
    /// The main object affected.
    pub target: Option<String>,
    /// Request/trace id.
    pub correlation_id: String,
    /// What happened.
    pub event: AuditEvent,
    /// Format version of this record.
    pub schema_version: u16,
    /// `hash` of the previous record, or [`GENESIS_HASH`] for `seq` 1.
    pub prev_hash: String,
    /// Lowercase hex SHA-256 of `prev_hash` (its 64 ASCII bytes) followed by
    /// [`AuditRecord::canonical_bytes`].
    pub hash: String,
}

impl AuditRecord {
    /// The bytes the hash covers: the record without its `hash` field, as canonical JSON
    /// (see [`canonical_json`]).
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, AuditError> {
        let mut value = serde_json::to_value(self).map_err(|e| AuditError::Serialize {
            detail: e.to_string(),
        })?;
        if let Value::Object(map) = &mut value {
            map.remove("hash");
        }
        let mut out = Vec::with_capacity(512);
        canonical_json(&value, &mut out);
        Ok(out)
    }

    /// Recomputes what `hash` should be from the content and `prev_hash`.
    pub fn compute_hash(&self) -> Result<String, AuditError> {
        let mut sha = openssl::sha::Sha256::new();
        sha.update(self.prev_hash.as_bytes());
        sha.update(&self.canonical_bytes()?);
        Ok(hex::encode(sha.finish()))
    }

    /// Parses a stored record, refusing more than [`MAX_RECORD_BYTES`]. Parsing does not verify;
    /// use [`verify_chain`].
    pub fn from_json(json: &str) -> Result<Self, AuditError> {
        if json.len() > MAX_RECORD_BYTES {
            return Err(AuditError::TooLarge {
                len: json.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        serde_json::from_str(json).map_err(|e| AuditError::Parse {
            detail: e.to_string(),
        })
    }

    /// Serializes for storage or export (field order as declared; not the hashed form).
    pub fn to_json(&self) -> Result<String, AuditError> {
        serde_json::to_string(self).map_err(|e| AuditError::Serialize {
            detail: e.to_string(),
        })
    }
}

/// Writes `value` as canonical JSON: no insignificant whitespace, object keys sorted by their
/// UTF-8 bytes, strings escaped exactly as serde_json escapes them (`"`, `\`, and control
/// characters; other characters as raw UTF-8), numbers as serde_json prints them (the record
/// format contains only integers). This is the stable byte form the hash chain is computed over.
pub fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map order depends on its `preserve_order` feature,
            // which any crate in the build could switch on.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                canonical_json(item, out);
            }
            out.push(b'}');
        }
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Seals drafts into a tenant's chain.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChainBuilder;

impl ChainBuilder {
    /// Seals `draft` as the successor of `prev` (the tenant's current head, `None` for its first
    /// record). `at` is truncated to microseconds so that it survives any storage engine.
    ///
    /// The caller must hold the tenant's head for the duration (a transaction, or a unique
    /// `(tenant_id, seq)` key with retry): two appends after the same head fork the chain.
    pub fn append(
        prev: Option<&AuditRecord>,
        draft: AuditDraft,
        at: DateTime<Utc>,
    ) -> Result<AuditRecord, AuditError> {
        let (seq, prev_hash) = match prev {
            None => (1, GENESIS_HASH.to_owned()),
            Some(p) if p.tenant_id != draft.tenant_id => {
                return Err(AuditError::TenantMismatch {
                    expected: draft.tenant_id,
                    found: p.tenant_id.clone(),
                })
            }
            Some(p) => (
                p.seq.checked_add(1).ok_or(AuditError::SeqOverflow)?,
                p.hash.clone(),
            ),
        };
        let mut record = AuditRecord {
            tenant_id: draft.tenant_id,
            seq,
            at: at.trunc_subsecs(6),
            actor: draft.actor,
            target: draft.target,
            correlation_id: draft.correlation_id,
            event: draft.event,
            schema_version: SCHEMA_VERSION,
            prev_hash,
            hash: String::new(),
        };
        record.hash = record.compute_hash()?;
        // Never seal what `from_json` would refuse to read back: the newest record is read as
        // the next one's predecessor, so one oversized record would stop its whole chain.
        let len = record.to_json()?.len();
        if len > MAX_RECORD_BYTES {
            return Err(AuditError::TooLarge {
                len,
                max: MAX_RECORD_BYTES,
            });
        }
        Ok(record)
    }
}

/// Verifies a tenant's complete chain, from its genesis record, in `seq` order. Returns the first
/// record that is out of place or whose content or link does not hash correctly. An empty chain
/// verifies.
///
/// Detects edits, deletions, insertions and reordering inside the records given; it cannot detect
/// truncation of the newest records or a wholesale rewrite, which need the head hash anchored
/// elsewhere (compare against an exported head with [`verify_chain_from`]).
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(), ChainBreak> {
    verify(None, records)
}

/// Verifies records that continue after `anchor` (a record already trusted, e.g. the last one
/// of a previously verified page or export).
pub fn verify_chain_from<'a>(
    anchor: &AuditRecord,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(), ChainBreak> {
    verify(Some(anchor), records)
}

fn verify<'a>(
    anchor: Option<&AuditRecord>,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(), ChainBreak> {
    let mut prev = anchor;
    for record in records {
        let fail = |reason| {
            Err(ChainBreak {
                seq: record.seq,
                reason,
            })
        };
        match prev {
            None => {
                if record.seq != 1 || record.prev_hash != GENESIS_HASH {
                    return fail(BreakReason::NotGenesis);
                }
            }
            Some(p) => {
                if record.tenant_id != p.tenant_id {
                    return fail(BreakReason::TenantChanged);
                }
                let expected = p.seq.saturating_add(1);
                if record.seq > expected {
                    return fail(BreakReason::Gap { expected });
                }
                if record.seq < expected {
                    return fail(BreakReason::OutOfOrder { expected });
                }
                if record.prev_hash != p.hash {
                    return fail(BreakReason::PrevHashMismatch);
                }
            }
        }
        if record.schema_version == 0 || record.schema_version > SCHEMA_VERSION {
            return fail(BreakReason::UnsupportedSchemaVersion {
                found: record.schema_version,
            });
        }
        // A record that cannot even be re-serialized cannot match its hash either.
        match record.compute_hash() {
            Ok(h) if h == record.hash => {}
            _ => return fail(BreakReason::HashMismatch),
        }
        prev = Some(record);
    }
    Ok(())
}
