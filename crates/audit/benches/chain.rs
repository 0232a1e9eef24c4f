//! Sealing and verifying a 10k-record chain.
// criterion_group!/criterion_main! generate undocumented items.
#![allow(missing_docs)]
// A benchmark whose setup fails must abort, not measure nothing.
#![allow(clippy::panic)]

use audit::{
    verify_chain, Actor, ActorKind, AuditDraft, AuditEvent, AuditRecord, ChainBuilder, ChangeSource,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const RECORDS: usize = 10_000;

fn draft(i: usize) -> AuditDraft {
    AuditDraft {
        tenant_id: "acme".into(),
        actor: Actor {
            kind: ActorKind::ScimToken,
            id: "tok_1".into(),
        },
        target: Some(format!("u_{i}")),
        correlation_id: format!("req-{i}"),
        event: AuditEvent::UserUpdated {
            user_id: format!("u_{i}"),
            source: ChangeSource::Scim,
            changed_fields: vec!["title".into(), "department".into()],
        },
    }
}

fn build(start: DateTime<Utc>) -> Vec<AuditRecord> {
    let mut chain: Vec<AuditRecord> = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let at = start + Duration::milliseconds(i as i64);
        match ChainBuilder::append(chain.last(), draft(i), at) {
            Ok(record) => chain.push(record),
            Err(e) => panic!("append failed: {e}"),
        }
    }
    chain
}

fn bench(c: &mut Criterion) {
    let Some(start) = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).single() else {
        panic!("fixed start time is valid");
    };
    let mut group = c.benchmark_group("chain");
    group.sample_size(10);
    group.bench_function("append 10k", |b| b.iter(|| build(black_box(start))));
    let chain = build(start);
    group.bench_function("verify 10k", |b| b.iter(|| verify_chain(black_box(&chain))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
