//! Full Response validation throughput: parse, verify, re-parse, check.
//!
//! `cargo bench -p saml-core --bench validate`

// Benchmark setup may panic: a broken fixture is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gatehouse_types::FixedEntropy;
use saml_core::dsig::{AlgorithmPolicy, TrustedKeys};
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use saml_core::response::{validate_response, ExpectedRequest, ValidationRequest};
use saml_core::xml::Limits;
use std::hint::black_box;
use std::path::Path;

fn key(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/saml/keys")
            .join(name),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    use base64::Engine;
    let now: DateTime<Utc> = "2026-01-15T10:00:00Z".parse().unwrap();
    let idp = TestIdentityProvider::from_pem(
        "http://www.okta.com/exk8d2qzv1XfG7h4P5d7",
        &key("idp.key.pem"),
        &key("idp.cert.pem"),
    )
    .unwrap();
    let acs = "https://gatehouse.example.com/saml/acs/c_01HQ7Z";
    let audience = "https://gatehouse.example.com/saml/metadata/c_01HQ7Z";
    let mut params = ResponseParams::new(acs, audience, "jane.doe@example.com");
    params.in_response_to = Some("_req1".into());
    params.attributes = vec![
        ("firstName".into(), vec!["Jane".into()]),
        ("lastName".into(), vec!["Doe".into()]),
        ("email".into(), vec!["jane.doe@example.com".into()]),
        (
            "groups".into(),
            (0..10)
                .map(|i| format!("engineering-group-{i:02}"))
                .collect(),
        ),
    ];
    let keys = TrustedKeys::from_pem_certificates(&[&key("idp.cert.pem")]).unwrap();
    let policy = AlgorithmPolicy::default();
    let req = ValidationRequest {
        trusted_keys: &keys,
        algorithms: &policy,
        expected_issuer: idp.entity_id(),
        expected_audience: audience,
        acs_url: acs,
        in_response_to: ExpectedRequest::Solicited("_req1"),
        now,
        clock_skew: Duration::seconds(60),
        decryption_keys: &[],
        limits: Limits::default(),
    };
    let mut group = c.benchmark_group("validate_response");
    for (name, sign_response) in [("okta_assertion_signed", false), ("both_signed", true)] {
        params.sign_response = sign_response;
        let xml = idp
            .response(&params, now, &mut FixedEntropy::new(1))
            .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&xml);
        assert!(validate_response(&req, b64.as_bytes()).is_ok());
        group.throughput(Throughput::Bytes(xml.len() as u64));
        group.bench_function(format!("{name}_{}B", xml.len()), |b| {
            b.iter(|| validate_response(&req, black_box(b64.as_bytes())).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
