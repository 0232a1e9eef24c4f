//! Single Logout messages: the IdP's LogoutRequest and LogoutResponse are accepted over both
//! bindings only when signed by a trusted key, addressed to us, from our IdP, in their time
//! window and (responses) answering our request; everything else is refused with a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use chrono::{DateTime, Duration, TimeZone, Utc};
use saml_core::authn_request::{MessageKind, RequestId};
use saml_core::dsig::AlgorithmPolicy;
use saml_core::idp::TestIdentityProvider;
use saml_core::logout::{
    peek_in_response_to, validate_logout_request, validate_logout_response, Inbound, LogoutRequest,
    LogoutResponse, LogoutValidation, NameId, STATUS_PARTIAL_LOGOUT,
};
use saml_core::response::STATUS_SUCCESS;
use saml_core::xml::Limits;
use saml_core::SamlError;

const IDP: &str = "https://idp.example.com";
const SLO: &str = "https://sp.example.com/saml/conn_1/slo";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

fn idp() -> TestIdentityProvider {
    TestIdentityProvider::generate(IDP, now(), 30, &[1]).unwrap()
}

fn request(id: &str) -> LogoutRequest {
    let mut name_id = NameId::new("jane@example.com");
    name_id.format = Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into());
    LogoutRequest {
        id: RequestId::parse(id).unwrap(),
        issue_instant: now(),
        destination: SLO.into(),
        issuer: IDP.into(),
        name_id,
        session_index: Some("_sess1".into()),
    }
}

fn response(irt: &str, status: &str) -> LogoutResponse {
    LogoutResponse {
        id: RequestId::parse("_resp1").unwrap(),
        in_response_to: irt.into(),
        issue_instant: now(),
        destination: SLO.into(),
        issuer: IDP.into(),
        status: status.into(),
    }
}

fn with_validation<T>(
    trusted: &TestIdentityProvider,
    f: impl FnOnce(&LogoutValidation<'_>) -> T,
) -> T {
    let keys = trusted.trusted_keys().unwrap();
    let policy = AlgorithmPolicy::default();
    let v = LogoutValidation {
        trusted_keys: &keys,
        algorithms: &policy,
        expected_issuer: IDP,
        destination: SLO,
        now: now() + Duration::seconds(5),
        clock_skew: Duration::seconds(60),
        limits: Limits::default(),
    };
    f(&v)
}

fn query_of(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

#[test]
fn a_signed_logout_request_is_accepted_over_both_bindings() {
    let idp = idp();
    let req = request("_lr1");
    let url = idp
        .sign_for_redirect(MessageKind::Request, SLO, &req.to_xml(), Some("rs-1"))
        .unwrap();
    let post = idp.sign_for_post(&req.to_xml(), "_lr1").unwrap();
    with_validation(&idp, |v| {
        for inbound in [
            Inbound::Redirect {
                query: query_of(&url),
            },
            Inbound::Post {
                message: &post,
                relay_state: Some("rs-1"),
            },
        ] {
            let verified = validate_logout_request(v, inbound).unwrap();
            assert_eq!(verified.id(), "_lr1");
            assert_eq!(verified.name_id(), &req.name_id);
            assert_eq!(verified.session_indexes(), ["_sess1".to_owned()]);
            assert_eq!(verified.relay_state(), Some("rs-1"));
            assert!(verified.keep_until() > now());
        }
    });
}

#[test]
fn unsigned_forged_misaddressed_or_stale_logout_requests_are_refused() {
    let idp = idp();
    let stranger = TestIdentityProvider::generate(IDP, now(), 30, &[9]).unwrap();
    let code = |r: Result<_, SamlError>| {
        r.map(|_: saml_core::logout::VerifiedLogoutRequest| ())
            .unwrap_err()
            .reason_code()
    };
    with_validation(&idp, |v| {
        // Unsigned, over each binding.
        let url = saml_core::authn_request::redirect_url_for(
            MessageKind::Request,
            SLO,
            &request("_lr2").to_xml(),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Redirect {
                    query: query_of(&url)
                }
            )),
            "unsigned"
        );
        use base64::Engine as _;
        let unsigned = base64::engine::general_purpose::STANDARD.encode(request("_lr2").to_xml());
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Post {
                    message: &unsigned,
                    relay_state: None
                }
            )),
            "unsigned"
        );
        // Signed by a key we do not trust (same entity id).
        let url = stranger
            .sign_for_redirect(MessageKind::Request, SLO, &request("_lr3").to_xml(), None)
            .unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Redirect {
                    query: query_of(&url)
                }
            )),
            "bad_signature"
        );
        let post = stranger
            .sign_for_post(&request("_lr3").to_xml(), "_lr3")
            .unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Post {
                    message: &post,
                    relay_state: None
                }
            )),
            "bad_signature"
        );
        // A signed query whose RelayState was changed afterwards.
        let url = idp
            .sign_for_redirect(
                MessageKind::Request,
                SLO,
                &request("_lr4").to_xml(),
                Some("a"),
            )
            .unwrap()
            .replace("RelayState=a", "RelayState=b");
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Redirect {
                    query: query_of(&url)
                }
            )),
            "bad_signature"
        );
        // Addressed elsewhere, from another issuer, too old, or already past NotOnOrAfter.
        let mut other = request("_lr5");
        other.destination = "https://other.example.com/slo".into();
        let post = idp.sign_for_post(&other.to_xml(), "_lr5").unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Post {
                    message: &post,
                    relay_state: None
                }
            )),
            "wrong_recipient"
        );
        let mut other = request("_lr6");
        other.issuer = "https://evil.example.com".into();
        let post = idp.sign_for_post(&other.to_xml(), "_lr6").unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Post {
                    message: &post,
                    relay_state: None
                }
            )),
            "wrong_issuer"
        );
        let mut old = request("_lr7");
        old.issue_instant = now() - Duration::hours(1);
        let post = idp.sign_for_post(&old.to_xml(), "_lr7").unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Post {
                    message: &post,
                    relay_state: None
                }
            )),
            "expired"
        );
        let late = request("_lr8").to_xml().replace(
            "Destination=",
            "NotOnOrAfter=\"2026-11-23T11:00:00Z\" Destination=",
        );
        let post = idp.sign_for_post(&late, "_lr8").unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Post {
                    message: &post,
                    relay_state: None
                }
            )),
            "expired"
        );
        // A LogoutResponse posted where a request is expected.
        let post = idp
            .sign_for_post(&response("_x", STATUS_SUCCESS).to_xml(), "_resp1")
            .unwrap();
        assert_eq!(
            code(validate_logout_request(
                v,
                Inbound::Post {
                    message: &post,
                    relay_state: None
                }
            )),
            "bad_structure"
        );
    });
}

#[test]
fn a_logout_response_must_answer_our_request() {
    let idp = idp();
    with_validation(&idp, |v| {
        let url = idp
            .sign_for_redirect(
                MessageKind::Response,
                SLO,
                &response("_ours", STATUS_SUCCESS).to_xml(),
                Some("flow1"),
            )
            .unwrap();
        let inbound = Inbound::Redirect {
            query: query_of(&url),
        };
        assert_eq!(
            peek_in_response_to(inbound, &Limits::default()).as_deref(),
            Some("_ours")
        );
        let ok = validate_logout_response(v, inbound, "_ours").unwrap();
        assert!(ok.is_success());
        assert_eq!(ok.relay_state(), Some("flow1"));
        assert!(matches!(
            validate_logout_response(v, inbound, "_another"),
            Err(SamlError::InResponseToMismatch)
        ));
        let post = idp
            .sign_for_post(&response("_ours", STATUS_PARTIAL_LOGOUT).to_xml(), "_resp1")
            .unwrap();
        let partial = validate_logout_response(
            v,
            Inbound::Post {
                message: &post,
                relay_state: None,
            },
            "_ours",
        )
        .unwrap();
        assert!(!partial.is_success());
        assert_eq!(partial.status(), STATUS_PARTIAL_LOGOUT);
        // Unsigned responses are refused.
        let url = saml_core::authn_request::redirect_url_for(
            MessageKind::Response,
            SLO,
            &response("_ours", STATUS_SUCCESS).to_xml(),
            None,
            None,
        )
        .unwrap();
        assert!(matches!(
            validate_logout_response(
                v,
                Inbound::Redirect {
                    query: query_of(&url)
                },
                "_ours"
            ),
            Err(SamlError::Unsigned)
        ));
    });
}

#[test]
fn our_logout_request_repeats_the_asserted_name_id() {
    let mut req = request("_sp1");
    req.name_id.name_qualifier = Some("https://idp.example.com".into());
    req.name_id.sp_name_qualifier = Some("https://sp.example.com".into());
    let xml = req.to_xml();
    let root = saml_core::xml::parse(xml.as_bytes(), &Limits::default()).unwrap();
    assert!(root.is("urn:oasis:names:tc:SAML:2.0:protocol", "LogoutRequest"));
    let name_id = root
        .child("urn:oasis:names:tc:SAML:2.0:assertion", "NameID")
        .unwrap();
    assert_eq!(
        name_id.attr("NameQualifier"),
        Some("https://idp.example.com")
    );
    assert_eq!(
        name_id.attr("SPNameQualifier"),
        Some("https://sp.example.com")
    );
    assert_eq!(name_id.text(), "jane@example.com");
}
