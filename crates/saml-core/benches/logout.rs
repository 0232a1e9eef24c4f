//! Single Logout message validation throughput: an IdP's signed LogoutRequest over HTTP-Redirect
//! (query-string signature, inflate, parse, check) and over HTTP-POST (XML signature, re-parse,
//! check).
//!
//! `cargo bench -p saml-core --bench logout`

// Benchmark setup may panic: a broken fixture is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use saml_core::authn_request::{MessageKind, RequestId};
use saml_core::dsig::{AlgorithmPolicy, TrustedKeys};
use saml_core::idp::TestIdentityProvider;
use saml_core::logout::{
    validate_logout_request, Inbound, LogoutRequest, LogoutValidation, NameId,
};
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
    let now: DateTime<Utc> = "2026-01-15T10:00:00Z".parse().unwrap();
    let issuer = "http://www.okta.com/exk8d2qzv1XfG7h4P5d7";
    let idp =
        TestIdentityProvider::from_pem(issuer, &key("idp.key.pem"), &key("idp.cert.pem")).unwrap();
    let slo = "https://gatehouse.example.com/saml/c_01HQ7Z/slo";
    let mut name_id = NameId::new("jane.doe@example.com");
    name_id.format = Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into());
    let request = LogoutRequest {
        id: RequestId::parse("_lr1").unwrap(),
        issue_instant: now,
        destination: slo.into(),
        issuer: issuer.into(),
        name_id,
        session_index: Some("_sess1".into()),
    };
    let url = idp
        .sign_for_redirect(MessageKind::Request, slo, &request.to_xml(), Some("rs"))
        .unwrap();
    let query = url.split_once('?').unwrap().1.to_owned();
    let post = idp.sign_for_post(&request.to_xml(), "_lr1").unwrap();
    let keys = TrustedKeys::from_pem_certificates(&[&key("idp.cert.pem")]).unwrap();
    let policy = AlgorithmPolicy::default();
    let v = LogoutValidation {
        trusted_keys: &keys,
        algorithms: &policy,
        expected_issuer: issuer,
        destination: slo,
        now,
        clock_skew: Duration::seconds(60),
        limits: Limits::default(),
    };
    let mut group = c.benchmark_group("validate_logout_request");
    group.bench_function("http_redirect", |b| {
        b.iter(|| {
            validate_logout_request(
                &v,
                Inbound::Redirect {
                    query: black_box(&query),
                },
            )
            .unwrap()
        })
    });
    group.bench_function("http_post", |b| {
        b.iter(|| {
            validate_logout_request(
                &v,
                Inbound::Post {
                    message: black_box(&post),
                    relay_state: None,
                },
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
