//! RS256 sign and verify throughput with the committed 2048-bit test key.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeDelta};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use oidc_core::jose::{self, Algorithm, Jwks, SigningKey};
use serde_json::json;

fn bench_jws(c: &mut Criterion) {
    let key = SigningKey::from_pem(include_bytes!("../tests/fixtures/rsa-2048-a.pem")).unwrap();
    let jwks = Jwks::from_signing_keys([&key]);
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let claims = json!({
        "iss": "https://sso.example.com",
        "sub": "user-123",
        "aud": "app",
        "iat": 1_700_000_000,
        "exp": 1_700_000_300,
        "email": "alice@acme.example",
        "roles": ["admin", "billing"],
    });
    let token = key.sign(&claims).unwrap();

    c.bench_function("rs256_sign", |b| {
        b.iter(|| key.sign(black_box(&claims)).unwrap())
    });
    c.bench_function("rs256_verify", |b| {
        b.iter(|| {
            jose::verify(
                black_box(&token),
                &jwks,
                &[Algorithm::RS256],
                now,
                TimeDelta::zero(),
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench_jws);
criterion_main!(benches);
