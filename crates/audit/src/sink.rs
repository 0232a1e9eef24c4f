//! The storage boundary: a sink trait the storage layer implements, the query it answers, and an
//! in-memory sink for tests of the layers above.

use crate::chain::Actor;
use crate::{AuditDraft, AuditError, AuditRecord, ChainBuilder};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Largest page [`AuditQuery::effective_limit`] allows.
pub const MAX_QUERY_LIMIT: u32 = 1000;

/// A page of one tenant's audit records, in ascending `seq`. All filters are conjunctive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Tenant whose chain to read.
    pub tenant: String,
    /// Only records with `at >= from`.
    pub from: Option<DateTime<Utc>>,
    /// Only records with `at < to`.
    pub to: Option<DateTime<Utc>>,
    /// Only records by this actor.
    pub actor: Option<Actor>,
    /// Only records about this target.
    pub target: Option<String>,
    /// Only this event type tag (`login.failed`, …).
    pub event_type: Option<String>,
    /// Only records with `seq > after_seq` (cursor paging; 0 = from the start).
    pub after_seq: u64,
    /// Page size; see [`AuditQuery::effective_limit`].
    pub limit: u32,
}

impl AuditQuery {
    /// Everything of `tenant`, first page of [`MAX_QUERY_LIMIT`] records.
    pub fn all(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            from: None,
            to: None,
            actor: None,
            target: None,
            event_type: None,
            after_seq: 0,
            limit: MAX_QUERY_LIMIT,
        }
    }

    /// `limit` clamped to `1..=MAX_QUERY_LIMIT`, so no caller can ask for an unbounded page.
    pub fn effective_limit(&self) -> usize {
        self.limit.clamp(1, MAX_QUERY_LIMIT) as usize
    }

    /// Whether `record` passes every filter except the limit (the reference semantics storage
    /// implementations must reproduce).
    pub fn matches(&self, record: &AuditRecord) -> bool {
        record.tenant_id == self.tenant
            && record.seq > self.after_seq
            && self.from.is_none_or(|from| record.at >= from)
            && self.to.is_none_or(|to| record.at < to)
            && self.actor.as_ref().is_none_or(|a| *a == record.actor)
            && self
                .target
                .as_ref()
                .is_none_or(|t| record.target.as_ref() == Some(t))
            && self
                .event_type
                .as_deref()
                .is_none_or(|t| record.event.event_type() == t)
    }
}

/// Where audit records go. The storage layer implements it; the facade only sees this trait.
pub trait AuditSink {
    /// The implementation's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Seals `draft` onto its tenant's chain at time `at` and stores it, atomically: read the
    /// head, [`ChainBuilder::append`], insert — with concurrent appends for one tenant serialized
    /// (e.g. a unique `(tenant_id, seq)` key and retry), so the chain never forks.
    fn append(&self, draft: AuditDraft, at: DateTime<Utc>) -> Result<AuditRecord, Self::Error>;

    /// Records matching `query`, ascending by `seq`, at most `query.effective_limit()`.
    fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, Self::Error>;
}

/// An in-memory [`AuditSink`] for tests of the facade and for the reference semantics of
/// [`AuditQuery`]. Not for production: nothing persists.
#[derive(Debug, Default)]
pub struct MemoryAuditSink {
    chains: Mutex<HashMap<String, Vec<AuditRecord>>>,
}

impl MemoryAuditSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of one tenant's whole chain (for verification in tests).
    pub fn chain(&self, tenant: &str) -> Vec<AuditRecord> {
        // A panic elsewhere while holding the lock cannot leave a half-appended chain (the push
        // is the last step), so a poisoned lock is still consistent.
        let chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
        chains.get(tenant).cloned().unwrap_or_default()
    }
}

impl AuditSink for MemoryAuditSink {
    type Error = AuditError;

    fn append(&self, draft: AuditDraft, at: DateTime<Utc>) -> Result<AuditRecord, AuditError> {
        let mut chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
        let chain = chains.entry(draft.tenant_id.clone()).or_default();
        let record = ChainBuilder::append(chain.last(), draft, at)?;
        chain.push(record.clone());
        Ok(record)
    }

    fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, AuditError> {
        let chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(chains
            .get(&query.tenant)
            .map(|chain| {
                chain
                    .iter()
                    .filter(|r| query.matches(r))
                    .take(query.effective_limit())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}
