//! The crate's error enum and the chain-verification failure.

/// What can go wrong building, parsing or exporting audit records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// `append` was given the head of another tenant's chain.
    #[error("previous record belongs to tenant {found:?}, draft is for {expected:?}")]
    TenantMismatch {
        /// The draft's tenant.
        expected: String,
        /// The previous record's tenant.
        found: String,
    },
    /// The chain reached `u64::MAX` records.
    #[error("audit sequence number overflow")]
    SeqOverflow,
    /// A serialized record exceeds [`crate::MAX_RECORD_BYTES`].
    #[error("audit record is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Size received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A stored record is not valid JSON of the expected shape.
    #[error("audit record does not parse: {detail}")]
    Parse {
        /// serde_json's description (line/column), never the record itself.
        detail: String,
    },
    /// A record could not be serialized (should not happen for well-formed values).
    #[error("audit record does not serialize: {detail}")]
    Serialize {
        /// serde_json's description.
        detail: String,
    },
    /// Writing an export failed.
    #[error("export write failed")]
    Io {
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a record fails verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakReason {
    /// The first record of a full chain is not `seq` 1 with the all-zero genesis `prev_hash`.
    NotGenesis,
    /// `seq` jumped past the next expected number: records are missing (or a later record was
    /// moved ahead of an earlier one).
    Gap {
        /// The sequence number that should have come next.
        expected: u64,
    },
    /// `seq` is not larger than its predecessor's: a duplicate or a record moved back.
    OutOfOrder {
        /// The sequence number that should have come next.
        expected: u64,
    },
    /// The record belongs to another tenant than the chain it appears in.
    TenantChanged,
    /// `prev_hash` is not the predecessor's `hash`: the link was cut or the predecessor rewritten.
    PrevHashMismatch,
    /// The stored `hash` does not match the record's content: the record was edited.
    HashMismatch,
    /// The record claims a schema version this build does not know.
    UnsupportedSchemaVersion {
        /// The version found.
        found: u16,
    },
    /// A copy of one of the record's fields kept beside it for indexing (storage's `event_type`,
    /// `actor`, `target`, ... columns) says something else than the hashed record. The hash
    /// cannot protect such copies, and filtered queries read them, so an edited copy hides the
    /// record from (or slips it into) filtered results without touching the chain.
    IndexMismatch {
        /// The copied field that disagrees (the storage column's name).
        field: &'static str,
    },
}

impl std::fmt::Display for BreakReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BreakReason::NotGenesis => {
                f.write_str("the chain does not start with seq 1 and the genesis prev_hash")
            }
            BreakReason::Gap { expected } => {
                write!(f, "records are missing: expected seq {expected} next")
            }
            BreakReason::OutOfOrder { expected } => {
                write!(f, "duplicate or out-of-order record: expected seq {expected} next")
            }
            BreakReason::TenantChanged => f.write_str("the record belongs to another tenant"),
            BreakReason::PrevHashMismatch => f.write_str(
                "prev_hash is not the previous record's hash (the link was cut or the previous record rewritten)",
            ),
            BreakReason::HashMismatch => {
                f.write_str("the record's content does not match its hash (the record was edited)")
            }
            BreakReason::UnsupportedSchemaVersion { found } => {
                write!(f, "unsupported schema version {found}")
            }
            BreakReason::IndexMismatch { field } => write!(
                f,
                "the indexed column {field} does not match the record (the column was edited)"
            ),
        }
    }
}

/// The first record at which a chain fails verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {reason}")]
pub struct ChainBreak {
    /// `seq` of the offending record, as stored.
    pub seq: u64,
    /// What is wrong with it.
    pub reason: BreakReason,
}
