//! AuthnRequest rendering and the HTTP-Redirect / HTTP-POST bindings.

// Test helpers outside #[test] functions may panic too: a failing helper is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use expect_test::{expect, Expect};
use gatehouse_types::FixedEntropy;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use saml_core::authn_request::{
    decode_redirect, post_form_html, post_form_script_csp_hash, redirect_url, redirect_url_for,
    validate_relay_state, verify_redirect_signature, AuthnContextComparison, AuthnRequest,
    MessageKind, RedirectLimits, RedirectSigner, RequestId, RequestedAuthnContext,
    POST_FORM_SCRIPT, SIG_ALG_RSA_SHA256,
};
use url::form_urlencoded;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn request(full: bool) -> AuthnRequest {
    AuthnRequest {
        id: RequestId::generate(&mut FixedEntropy::new(42)),
        issue_instant: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
        destination: "https://idp.example.com/sso?tenant=a&x=<1>".into(),
        acs_url: "https://sso.example.com/saml/acme/acs".into(),
        sp_entity_id: "https://sso.example.com/saml/acme".into(),
        force_authn: full,
        is_passive: full,
        requested_authn_context: full.then(|| RequestedAuthnContext {
            comparison: AuthnContextComparison::Minimum,
            class_refs: vec![
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into(),
                "http://schemas.microsoft.com/claims/multipleauthn".into(),
            ],
        }),
        name_id_format: full
            .then(|| "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
    }
}

fn check(req: &AuthnRequest, expect: Expect) {
    expect.assert_eq(&req.to_xml());
}

#[test]
fn authn_request_golden_minimal() {
    check(
        &request(false),
        expect![[r#"
            <samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_9462d413c131b2fbb29f5b09a4b9b3085caf1134" Version="2.0" IssueInstant="2026-11-23T10:00:00Z" Destination="https://idp.example.com/sso?tenant=a&amp;x=&lt;1&gt;" AssertionConsumerServiceURL="https://sso.example.com/saml/acme/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">
              <saml:Issuer>https://sso.example.com/saml/acme</saml:Issuer>
            </samlp:AuthnRequest>"#]],
    );
}

#[test]
fn authn_request_golden_full() {
    check(
        &request(true),
        expect![[r#"
            <samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_9462d413c131b2fbb29f5b09a4b9b3085caf1134" Version="2.0" IssueInstant="2026-11-23T10:00:00Z" Destination="https://idp.example.com/sso?tenant=a&amp;x=&lt;1&gt;" AssertionConsumerServiceURL="https://sso.example.com/saml/acme/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ForceAuthn="true" IsPassive="true">
              <saml:Issuer>https://sso.example.com/saml/acme</saml:Issuer>
              <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/>
              <samlp:RequestedAuthnContext Comparison="minimum">
                <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>
                <saml:AuthnContextClassRef>http://schemas.microsoft.com/claims/multipleauthn</saml:AuthnContextClassRef>
              </samlp:RequestedAuthnContext>
            </samlp:AuthnRequest>"#]],
    );
}

#[test]
fn authn_requests_are_valid_against_the_protocol_schema() {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/saml/metadata/xsd");
    for full in [false, true] {
        let file = std::env::temp_dir().join(format!(
            "gatehouse-authnrequest-{}-{full}.xml",
            std::process::id()
        ));
        std::fs::write(&file, request(full).to_xml()).unwrap();
        let output = Command::new("xmllint")
            .env("XML_CATALOG_FILES", xsd.join("catalog.xml"))
            .args(["--nonet", "--noout", "--schema"])
            .arg(xsd.join("saml-schema-protocol-2.0.xsd"))
            .arg(&file)
            .output();
        let _ = std::fs::remove_file(&file);
        match output {
            Err(e) => {
                println!("skipping schema validation: xmllint not runnable ({e}); apt install libxml2-utils");
                return;
            }
            Ok(out) => assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

#[test]
fn request_ids_are_ncnames() {
    let mut entropy = FixedEntropy::new(7);
    let a = RequestId::generate(&mut entropy);
    let b = RequestId::generate(&mut entropy);
    assert_ne!(a, b);
    for id in [&a, &b] {
        assert!(id.as_str().starts_with('_'));
        assert_eq!(id.as_str().len(), 41);
        assert!(id.as_str()[1..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(RequestId::parse(id.as_str()).unwrap(), *id);
    }
    for bad in ["", "1abc", "-x", "a b", "_x\"", "a<b", &"a".repeat(257)] {
        assert!(RequestId::parse(bad).is_err(), "{bad}");
    }
    for good in ["id-1", "_1", "ONELOGIN_abc.def"] {
        assert!(RequestId::parse(good).is_ok(), "{good}");
    }
}

fn key_pair() -> (PKey<Private>, PKey<Public>) {
    let rsa = Rsa::generate(2048).unwrap();
    let private = PKey::from_rsa(rsa).unwrap();
    let public = PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
    (private, public)
}

fn query_of(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn form_decode(v: &str) -> String {
    form_urlencoded::parse(format!("v={v}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[test]
fn redirect_binding_is_raw_deflate_base64_urlencoded() {
    let xml = request(true).to_xml();
    let url = redirect_url("https://idp.example.com/sso", &xml, Some("a b&c=/é"), None).unwrap();
    assert!(url.starts_with("https://idp.example.com/sso?SAMLRequest="));
    let query = query_of(&url);
    assert_eq!(param(query, "RelayState"), Some("a+b%26c%3D%2F%C3%A9"));
    assert_eq!(param(query, "SigAlg"), None);
    assert_eq!(param(query, "Signature"), None);

    // Independent decoding: raw DEFLATE (no zlib header), standard base64.
    let compressed = b64()
        .decode(form_decode(param(query, "SAMLRequest").unwrap()))
        .unwrap();
    let mut inflated = String::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .read_to_string(&mut inflated)
        .unwrap();
    assert_eq!(inflated, xml);
    assert!(flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_string(&mut String::new())
        .is_err());

    let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
    assert_eq!(decoded.kind, MessageKind::Request);
    assert_eq!(decoded.xml, xml.as_bytes());
    assert_eq!(decoded.relay_state.as_deref(), Some("a b&c=/é"));
    assert_eq!(decoded.signature, None);
}

#[test]
fn redirect_url_keeps_an_existing_query_string() {
    let xml = request(false).to_xml();
    let url = redirect_url(
        "https://idp.example.com/sso?idpid=C01&x=1",
        &xml,
        None,
        None,
    )
    .unwrap();
    assert!(url.starts_with("https://idp.example.com/sso?idpid=C01&x=1&SAMLRequest="));
    let url = redirect_url("https://idp.example.com/sso?", &xml, None, None).unwrap();
    assert!(url.starts_with("https://idp.example.com/sso?SAMLRequest="));
    let decoded = decode_redirect(query_of(&url), &RedirectLimits::DEFAULT).unwrap();
    assert_eq!(decoded.xml, xml.as_bytes());

    for bad in [
        "/relative",
        "ftp://idp.example.com/sso",
        "https://idp.example.com/sso#frag",
    ] {
        let err = redirect_url(bad, &xml, None, None).unwrap_err();
        assert_eq!(err.reason_code(), "config", "{bad}");
    }
}

#[test]
fn signed_redirect_follows_bindings_3_4_4_1() {
    let (private, public) = key_pair();
    let signer = RedirectSigner::new(private).unwrap();
    let xml = request(false).to_xml();
    let url = redirect_url(
        "https://idp.example.com/sso?idpid=C01",
        &xml,
        Some("state/1"),
        Some(&signer),
    )
    .unwrap();
    let query = query_of(&url);

    // Recompute the signed octets by hand from the URL: SAMLRequest, RelayState, SigAlg in
    // that order, values exactly as they appear URL-encoded; the IdP's own params are excluded.
    let saml_request = param(query, "SAMLRequest").unwrap();
    let relay_state = param(query, "RelayState").unwrap();
    let sig_alg = param(query, "SigAlg").unwrap();
    assert_eq!(form_decode(sig_alg), SIG_ALG_RSA_SHA256);
    assert_eq!(relay_state, "state%2F1");
    let signed = format!("SAMLRequest={saml_request}&RelayState={relay_state}&SigAlg={sig_alg}");
    let signature = b64()
        .decode(form_decode(param(query, "Signature").unwrap()))
        .unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier.update(signed.as_bytes()).unwrap();
    assert!(verifier.verify(&signature).unwrap());
    assert!(query.ends_with(&format!(
        "&SigAlg={sig_alg}&Signature={}",
        param(query, "Signature").unwrap()
    )));

    verify_redirect_signature(query, std::slice::from_ref(&public)).unwrap();
    let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
    let sig = decoded.signature.unwrap();
    assert_eq!(sig.sig_alg, SIG_ALG_RSA_SHA256);
    assert_eq!(sig.signature, signature);

    // Parameter order in the URL does not matter to verification; the signed string order does.
    let reordered = format!(
        "Signature={}&SigAlg={sig_alg}&RelayState={relay_state}&SAMLRequest={saml_request}&foo=bar",
        param(query, "Signature").unwrap()
    );
    verify_redirect_signature(&reordered, std::slice::from_ref(&public)).unwrap();

    // Certificate rollover: any configured key may verify.
    let (_, other) = key_pair();
    verify_redirect_signature(query, &[other.clone(), public.clone()]).unwrap();

    let code = |q: &str, keys: &[PKey<Public>]| {
        verify_redirect_signature(q, keys)
            .unwrap_err()
            .reason_code()
    };
    assert_eq!(code(query, std::slice::from_ref(&other)), "bad_signature");
    assert_eq!(code(query, &[]), "config");
    let tampered = query.replace("RelayState=state%2F1", "RelayState=state%2F2");
    assert_eq!(
        code(&tampered, std::slice::from_ref(&public)),
        "bad_signature"
    );
    // The same decoded value with a different (valid) encoding is a different signed string.
    let reencoded = query.replace("RelayState=state%2F1", "RelayState=state/1");
    assert_eq!(
        code(&reencoded, std::slice::from_ref(&public)),
        "bad_signature"
    );
    let dropped = query.replace("&RelayState=state%2F1", "");
    assert_eq!(
        code(&dropped, std::slice::from_ref(&public)),
        "bad_signature"
    );
    let unsigned = redirect_url("https://idp.example.com/sso", &xml, None, None).unwrap();
    assert_eq!(
        code(query_of(&unsigned), std::slice::from_ref(&public)),
        "unsigned"
    );
    let sha1 = query.replace(
        sig_alg,
        &form_urlencoded::byte_serialize(b"http://www.w3.org/2000/09/xmldsig#rsa-sha1")
            .collect::<String>(),
    );
    assert_eq!(
        code(&sha1, std::slice::from_ref(&public)),
        "algorithm_not_allowed"
    );
}

#[test]
fn verifies_a_redirect_message_signed_by_someone_else() {
    // A LogoutRequest as an IdP would send it, signed by hand (RSA-SHA512, uppercase escapes).
    let (private, public) = key_pair();
    let xml = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>";
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut deflater, xml.as_bytes()).unwrap();
    let message = b64().encode(deflater.finish().unwrap());
    let message = message
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let sig_alg = "http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha512";
    let signed = format!("SAMLRequest={message}&SigAlg={sig_alg}");
    let mut signer = Signer::new(MessageDigest::sha512(), &private).unwrap();
    signer.update(signed.as_bytes()).unwrap();
    let signature = b64().encode(signer.sign_to_vec().unwrap());
    let query = format!(
        "{signed}&Signature={}",
        signature
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    verify_redirect_signature(&query, &[public]).unwrap();
    let decoded = decode_redirect(&query, &RedirectLimits::DEFAULT).unwrap();
    assert_eq!(decoded.xml, xml.as_bytes());
    assert_eq!(decoded.relay_state, None);
}

#[test]
fn signer_refuses_weak_or_non_rsa_keys() {
    let weak = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    assert_eq!(
        RedirectSigner::new(weak).unwrap_err().reason_code(),
        "bad_key"
    );
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
    assert_eq!(
        RedirectSigner::new(ec).unwrap_err().reason_code(),
        "bad_key"
    );
}

#[test]
fn decode_redirect_bounds_and_rejects() {
    let limits = RedirectLimits::DEFAULT;
    // A DEFLATE bomb: 8 MiB of zeros compresses to a few KiB.
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut deflater, &vec![0u8; 8 << 20]).unwrap();
    let bomb = b64().encode(deflater.finish().unwrap());
    let bomb_query = format!(
        "SAMLResponse={}",
        form_urlencoded::byte_serialize(bomb.as_bytes()).collect::<String>()
    );
    assert!(bomb_query.len() < limits.max_query_bytes);
    let code = |q: &str| decode_redirect(q, &limits).unwrap_err().reason_code();
    assert_eq!(code(&bomb_query), "too_large");

    let ok = redirect_url("https://idp/sso", "<x/>", Some("rs"), None).unwrap();
    let ok = query_of(&ok).to_owned();
    assert!(decode_redirect(&format!("?{ok}"), &limits).is_ok());
    assert_eq!(code(&format!("{ok}&SAMLRequest=abc")), "bad_encoding");
    assert_eq!(code(&format!("{ok}&SAMLResponse=abc")), "bad_encoding");
    assert_eq!(code(&format!("{ok}&RelayState=again")), "bad_encoding");
    assert_eq!(code("RelayState=x"), "bad_structure");
    assert_eq!(code("SAMLRequest=%%%"), "bad_encoding");
    assert_eq!(code("SAMLRequest=bm90IGRlZmxhdGU%3D"), "bad_encoding");
    assert_eq!(
        code(&format!("{ok}&SAMLEncoding=urn%3Aother")),
        "bad_encoding"
    );
    assert_eq!(code(&format!("{ok}&SigAlg=x")), "bad_signature");
    assert_eq!(code(&"SAMLRequest=A".repeat(10_000)), "too_large");
    let long_rs = redirect_url("https://idp/sso", "<x/>", None, None).unwrap();
    assert_eq!(
        code(&format!(
            "{}&RelayState={}",
            query_of(&long_rs),
            "r".repeat(81)
        )),
        "too_large"
    );
    // '+' left unencoded by a sender arrives as a space and is still understood.
    let plus = redirect_url("https://idp/sso", &request(true).to_xml(), None, None).unwrap();
    let raw = form_decode(param(query_of(&plus), "SAMLRequest").unwrap());
    assert!(raw.contains('+'), "fixture must exercise the '+' case");
    let sloppy = format!(
        "SAMLRequest={}",
        raw.replace('/', "%2F").replace('=', "%3D")
    );
    assert_eq!(
        decode_redirect(&sloppy, &limits).unwrap().xml,
        request(true).to_xml().as_bytes()
    );
}

#[test]
fn relay_state_is_bounded_to_80_bytes() {
    assert!(validate_relay_state(&"a".repeat(80)).is_ok());
    assert!(validate_relay_state("").is_ok());
    assert_eq!(
        validate_relay_state(&"a".repeat(81))
            .unwrap_err()
            .reason_code(),
        "too_large"
    );
    // 27 three-byte characters are 81 bytes.
    assert!(validate_relay_state(&"€".repeat(27)).is_err());
    assert!(validate_relay_state("a\r\nb").is_err());
    let err = redirect_url("https://idp/sso", "<x/>", Some(&"a".repeat(81)), None).unwrap_err();
    assert_eq!(err.reason_code(), "too_large");
}

#[test]
fn post_form_golden() {
    expect![[r#"
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="referrer" content="no-referrer">
        <title>Continuing sign-in</title>
        </head>
        <body>
        <form id="saml-post" method="post" action="https://sp.example.com/acs?a=1&amp;b=&quot;2&quot;">
        <input type="hidden" name="SAMLResponse" value="PHg+PC94Pg==">
        <input type="hidden" name="RelayState" value="&lt;/script&gt;&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;">
        <noscript><p>JavaScript is disabled. Press Continue to proceed.</p><button type="submit">Continue</button></noscript>
        </form>
        <script>document.getElementById("saml-post").submit();</script>
        </body>
        </html>
    "#]]
    .assert_eq(&post_form_html(
        "https://sp.example.com/acs?a=1&b=\"2\"",
        MessageKind::Response,
        "PHg+PC94Pg==",
        Some("</script><script>alert('x')</script>"),
    ));
}

#[test]
fn post_form_has_exactly_one_script_and_no_event_handlers() {
    let html = post_form_html(
        "https://idp.example.com/sso",
        MessageKind::Request,
        "\" onfocus=\"alert(1)",
        None,
    );
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(&format!("<script>{POST_FORM_SCRIPT}</script>")));
    assert!(!html.contains("onload"));
    assert!(!html.contains("\" onfocus"));
    assert!(html.contains("name=\"SAMLRequest\""));
    assert!(!html.contains("RelayState"));

    let hash = post_form_script_csp_hash();
    let inner = hash
        .strip_prefix("'sha256-")
        .unwrap()
        .strip_suffix('\'')
        .unwrap();
    assert_eq!(
        b64().decode(inner).unwrap(),
        openssl::sha::sha256(POST_FORM_SCRIPT.as_bytes())
    );
}

#[test]
fn response_kind_uses_saml_response_parameter() {
    let url = redirect_url_for(
        MessageKind::Response,
        "https://idp.example.com/slo",
        "<samlp:LogoutResponse/>",
        None,
        None,
    )
    .unwrap();
    let decoded = decode_redirect(query_of(&url), &RedirectLimits::DEFAULT).unwrap();
    assert_eq!(decoded.kind, MessageKind::Response);
}

/// Truncations and corruptions of a real signed query: decoding and verification return
/// errors, never panic.
#[test]
fn mutated_redirect_queries_never_panic() {
    let (private, public) = key_pair();
    let signer = RedirectSigner::new(private).unwrap();
    let url = redirect_url(
        "https://idp.example.com/sso",
        &request(true).to_xml(),
        Some("rs"),
        Some(&signer),
    )
    .unwrap();
    let query = query_of(&url).as_bytes().to_vec();
    let keys = [public];
    let exercise = |bytes: &[u8]| {
        let q = String::from_utf8_lossy(bytes);
        let _ = decode_redirect(&q, &RedirectLimits::DEFAULT);
        let _ = verify_redirect_signature(&q, &keys);
    };
    for cut in (0..query.len()).step_by(5) {
        exercise(&query[..cut]);
    }
    for (i, pos) in (0..query.len()).step_by(3).enumerate() {
        let mut m = query.clone();
        m[pos] = [b'%', b'&', b'=', b'+', b'A', b' ', 0xc3][i % 7];
        exercise(&m);
    }
}
