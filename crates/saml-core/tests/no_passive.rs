//! A passive request's refusal (`NoPassive`) is told apart from other failures only when it is
//! attributable to our request: right InResponseTo, Issuer and Destination, and a valid
//! signature when signed. Everything else stays a generic failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use gatehouse_types::FixedEntropy;
use saml_core::dsig::AlgorithmPolicy;
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use saml_core::response::{
    validate_response, ExpectedRequest, ValidationRequest, STATUS_NO_PASSIVE,
};
use saml_core::xml::Limits;
use saml_core::SamlError;

const IDP: &str = "https://idp.example.com";
const ACS: &str = "https://sp.example.com/acs";
const SP: &str = "https://sp.example.com";
const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

fn check(idp: &TestIdentityProvider, xml: &str, expected_request: &str) -> SamlError {
    let keys = idp.trusted_keys().unwrap();
    let policy = AlgorithmPolicy::default();
    let req = ValidationRequest {
        trusted_keys: &keys,
        algorithms: &policy,
        expected_issuer: IDP,
        expected_audience: SP,
        acs_url: ACS,
        in_response_to: ExpectedRequest::Solicited(expected_request),
        now: now(),
        clock_skew: Duration::seconds(60),
        decryption_keys: &[],
        limits: Limits::default(),
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    validate_response(&req, b64.as_bytes()).unwrap_err()
}

fn params(irt: &str) -> ResponseParams {
    let mut p = ResponseParams::new(ACS, SP, "alice@example.com");
    p.in_response_to = Some(irt.into());
    p
}

#[test]
fn an_attributable_no_passive_is_reported_as_such() {
    let idp = TestIdentityProvider::generate(IDP, now(), 30, &[1]).unwrap();
    let mut e = FixedEntropy::new(1);
    for signed in [false, true] {
        let mut p = params("_req1");
        p.sign_response = signed;
        let xml = idp
            .status_response(&p, RESPONDER, Some(STATUS_NO_PASSIVE), now(), &mut e)
            .unwrap();
        assert!(matches!(check(&idp, &xml, "_req1"), SamlError::NoPassive));
        // Also as the top-level code.
        let xml = idp
            .status_response(&p, STATUS_NO_PASSIVE, None, now(), &mut e)
            .unwrap();
        assert!(matches!(check(&idp, &xml, "_req1"), SamlError::NoPassive));
    }
    // Another failure status stays a plain status error.
    let xml = idp
        .status_response(&params("_req1"), RESPONDER, None, now(), &mut e)
        .unwrap();
    assert_eq!(check(&idp, &xml, "_req1").reason_code(), "idp_status");
}

#[test]
fn a_no_passive_not_bound_to_our_request_or_idp_is_not_trusted() {
    let idp = TestIdentityProvider::generate(IDP, now(), 30, &[1]).unwrap();
    let mut e = FixedEntropy::new(2);
    let np = |p: &ResponseParams, e: &mut FixedEntropy| {
        idp.status_response(p, RESPONDER, Some(STATUS_NO_PASSIVE), now(), e)
            .unwrap()
    };
    // Another request's id, or none at all.
    assert!(matches!(
        check(&idp, &np(&params("_other"), &mut e), "_req1"),
        SamlError::InResponseToMismatch
    ));
    let mut unsolicited = params("_req1");
    unsolicited.in_response_to = None;
    assert!(matches!(
        check(&idp, &np(&unsolicited, &mut e), "_req1"),
        SamlError::InResponseToMismatch
    ));
    // Another destination.
    let mut elsewhere = params("_req1");
    elsewhere.acs_url = "https://evil.example.com/acs".into();
    assert!(matches!(
        check(&idp, &np(&elsewhere, &mut e), "_req1"),
        SamlError::WrongRecipient
    ));
    // Another IdP (its own signature is fine, but it is not ours).
    let stranger =
        TestIdentityProvider::generate("https://evil.example.com", now(), 30, &[2]).unwrap();
    let mut p = params("_req1");
    p.sign_response = true;
    let xml = stranger
        .status_response(&p, RESPONDER, Some(STATUS_NO_PASSIVE), now(), &mut e)
        .unwrap();
    assert!(!matches!(check(&idp, &xml, "_req1"), SamlError::NoPassive));
    // A signed refusal altered after signing.
    let xml = np(&p, &mut e).replace("_req1", "_req2");
    assert!(matches!(
        check(&idp, &xml, "_req2"),
        SamlError::BadSignature { .. }
    ));
}
