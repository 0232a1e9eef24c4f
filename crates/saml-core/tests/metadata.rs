//! IdP metadata parsing over the vendor samples in `fixtures/saml/metadata/`, and SP metadata
//! rendering (golden + schema validation).

// Test helpers outside #[test] functions may panic too: a failing helper is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use expect_test::{expect, Expect};
use saml_core::metadata::{
    list_idp_entity_ids, parse_idp_metadata, parse_idp_metadata_for, render_sp_metadata,
    IdpMetadata, SpMetadata, BINDING_HTTP_POST, MAX_METADATA_BYTES,
};
use saml_core::SamlError;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/saml/metadata")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What the openssl CLI said about each fixture certificate (see make-fixtures.sh).
fn expected_cert(name: &str) -> (String, DateTime<Utc>, String) {
    let json: serde_json::Value = serde_json::from_slice(&read("certs.json")).unwrap();
    let c = &json[name];
    (
        c["sha256_fingerprint"].as_str().unwrap().to_owned(),
        c["not_after"].as_str().unwrap().parse().unwrap(),
        c["subject"].as_str().unwrap().to_owned(),
    )
}

struct Case {
    file: &'static str,
    entity_id: &'static str,
    sso_redirect: Option<&'static str>,
    sso_post: Option<&'static str>,
    slo_redirect: Option<&'static str>,
    slo_post: Option<&'static str>,
    want_signed: bool,
    name_id_formats: &'static [&'static str],
    certs: &'static [&'static str],
    valid_until: Option<&'static str>,
}

const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

const OKTA_SSO: &str =
    "https://dev-1234567.okta.com/app/dev-1234567_gatehouse_1/exk1fxyz2abcDEF3g4h7/sso/saml";
const ENTRA: &str = "https://login.microsoftonline.com/8f2c1e4a-1111-2222-3333-444455556666/saml2";
const ADFS: &str = "https://adfs.contoso.example/adfs/ls/";
const KEYCLOAK: &str = "https://keycloak.acme.example/realms/acme/protocol/saml";
const GOOGLE: &str = "https://accounts.google.com/o/saml2/idp?idpid=C01abcd2e";

const CASES: &[Case] = &[
    Case {
        file: "okta.xml",
        entity_id: "http://www.okta.com/exk1fxyz2abcDEF3g4h7",
        sso_redirect: Some(OKTA_SSO),
        sso_post: Some(OKTA_SSO),
        slo_redirect: None,
        slo_post: None,
        want_signed: false,
        name_id_formats: &[UNSPECIFIED, EMAIL],
        certs: &["okta"],
        valid_until: None,
    },
    Case {
        file: "entra-id.xml",
        entity_id: "https://sts.windows.net/8f2c1e4a-1111-2222-3333-444455556666/",
        sso_redirect: Some(ENTRA),
        sso_post: Some(ENTRA),
        slo_redirect: Some(ENTRA),
        slo_post: None,
        want_signed: false,
        name_id_formats: &[],
        // Not the metadata-signature / WS-Fed RoleDescriptor certificate.
        certs: &["entra"],
        valid_until: None,
    },
    Case {
        file: "adfs.xml",
        entity_id: "http://adfs.contoso.example/adfs/services/trust",
        sso_redirect: Some(ADFS),
        sso_post: Some(ADFS),
        slo_redirect: Some(ADFS),
        slo_post: Some(ADFS),
        want_signed: false,
        name_id_formats: &[EMAIL, PERSISTENT, TRANSIENT],
        // Neither the encryption key nor the SPSSODescriptor's key.
        certs: &["adfs-sign"],
        valid_until: None,
    },
    Case {
        file: "keycloak.xml",
        entity_id: "https://keycloak.acme.example/realms/acme",
        sso_redirect: Some(KEYCLOAK),
        sso_post: Some(KEYCLOAK),
        slo_redirect: Some(KEYCLOAK),
        slo_post: Some(KEYCLOAK),
        want_signed: true,
        name_id_formats: &[PERSISTENT, TRANSIENT, UNSPECIFIED, EMAIL],
        certs: &["keycloak"],
        valid_until: None,
    },
    Case {
        file: "google-workspace.xml",
        entity_id: "https://accounts.google.com/o/saml2?idpid=C01abcd2e",
        sso_redirect: Some(GOOGLE),
        sso_post: Some(GOOGLE),
        slo_redirect: None,
        slo_post: None,
        want_signed: false,
        name_id_formats: &[EMAIL],
        certs: &["google"],
        valid_until: Some("2031-11-20T16:18:33Z"),
    },
    Case {
        file: "rollover.xml",
        entity_id: "https://idp.rollover.example/saml",
        sso_redirect: None,
        sso_post: Some("https://idp.rollover.example/saml/sso?tenant=a&b=1"),
        slo_redirect: None,
        slo_post: None,
        want_signed: true,
        name_id_formats: &[],
        // Both rollover keys, in order, the duplicate dropped, the encryption key left out.
        certs: &["old", "new"],
        valid_until: None,
    },
];

#[test]
fn vendor_samples_parse_to_expected_values() {
    for case in CASES {
        let md =
            parse_idp_metadata(&read(case.file)).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        let f = case.file;
        assert_eq!(md.entity_id, case.entity_id, "{f}");
        assert_eq!(md.sso_redirect_url.as_deref(), case.sso_redirect, "{f}");
        assert_eq!(md.sso_post_url.as_deref(), case.sso_post, "{f}");
        assert_eq!(md.slo_redirect_url.as_deref(), case.slo_redirect, "{f}");
        assert_eq!(md.slo_post_url.as_deref(), case.slo_post, "{f}");
        assert_eq!(md.want_authn_requests_signed, case.want_signed, "{f}");
        assert_eq!(md.name_id_formats, case.name_id_formats, "{f}");
        assert_eq!(
            md.valid_until,
            case.valid_until
                .map(|v| v.parse::<DateTime<Utc>>().unwrap()),
            "{f}"
        );
        assert_eq!(md.signing_certificates.len(), case.certs.len(), "{f}");
        for (cert, name) in md.signing_certificates.iter().zip(case.certs) {
            let (fingerprint, not_after, subject) = expected_cert(name);
            assert_eq!(cert.sha256_fingerprint, fingerprint, "{f} {name}");
            assert_eq!(cert.not_after, not_after, "{f} {name}");
            assert_eq!(cert.subject, subject, "{f} {name}");
            assert!(cert.public_key().is_ok(), "{f} {name}");
        }
    }
}

#[test]
fn fixture_samples_are_schema_valid_where_the_schema_applies() {
    // entra-id.xml uses the WS-Federation RoleDescriptor type, whose schema is not bundled.
    let files: Vec<PathBuf> = CASES
        .iter()
        .filter(|c| c.file != "entra-id.xml")
        .map(|c| fixtures().join(c.file))
        .chain([fixtures().join("aggregate.xml")])
        .collect();
    for file in files {
        let Some(result) = xmllint_validate(&file, "saml-schema-metadata-2.0.xsd") else {
            return;
        };
        assert!(result.is_ok(), "{}: {:?}", file.display(), result);
    }
}

fn check_error(xml: &[u8], expected_code: &str) -> SamlError {
    let err = parse_idp_metadata(xml).expect_err("metadata must be rejected");
    assert_eq!(err.reason_code(), expected_code, "{err}");
    err
}

#[test]
fn bad_samples_fail_closed() {
    let cases = [
        ("bad/no-signing-certificate.xml", "bad_structure"),
        ("bad/no-sso-endpoint.xml", "bad_structure"),
        ("bad/doctype-entity.xml", "malformed_xml"),
        ("bad/garbage-certificate.xml", "bad_key"),
        ("bad/saml11-only.xml", "bad_structure"),
    ];
    for (file, code) in cases {
        let err = check_error(&read(file), code);
        assert!(!err.to_string().contains("/etc/passwd"), "{file}: {err}");
    }
    let err = check_error(&read("bad/no-signing-certificate.xml"), "bad_structure");
    assert!(err.to_string().contains("signing certificate"), "{err}");
    let err = check_error(&read("bad/no-sso-endpoint.xml"), "bad_structure");
    assert!(err.to_string().contains("SingleSignOnService"), "{err}");
}

#[test]
fn aggregate_requires_choosing_an_entity() {
    let xml = read("aggregate.xml");
    let err = check_error(&xml, "bad_structure");
    assert!(err.to_string().contains("parse_idp_metadata_for"), "{err}");
    assert_eq!(
        list_idp_entity_ids(&xml).unwrap(),
        [
            "https://idp1.federation.example/idp/shibboleth",
            "https://idp2.federation.example/idp/shibboleth"
        ]
    );

    let idp1 =
        parse_idp_metadata_for(&xml, "https://idp1.federation.example/idp/shibboleth").unwrap();
    assert_eq!(
        idp1.sso_redirect_url.as_deref(),
        Some("https://idp1.federation.example/idp/profile/SAML2/Redirect/SSO")
    );
    assert_eq!(
        idp1.signing_certificates[0].sha256_fingerprint,
        expected_cert("agg1").0
    );
    // The enclosing group's validUntil is earlier than the entity's own.
    assert_eq!(
        idp1.valid_until,
        Some("2030-01-01T00:00:00Z".parse().unwrap())
    );

    let idp2 =
        parse_idp_metadata_for(&xml, "https://idp2.federation.example/idp/shibboleth").unwrap();
    assert_eq!(idp2.sso_redirect_url, None);
    assert_eq!(
        idp2.signing_certificates[0].sha256_fingerprint,
        expected_cert("agg2").0
    );
    assert_eq!(
        idp2.valid_until,
        Some("2029-06-30T12:00:00Z".parse().unwrap())
    );

    let err = parse_idp_metadata_for(&xml, "https://sp.federation.example/shibboleth").unwrap_err();
    assert_eq!(err.reason_code(), "bad_structure");
}

fn entity(body: &str) -> String {
    format!(
        r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example">{body}</EntityDescriptor>"#
    )
}

#[test]
fn hostile_and_malformed_documents_are_refused() {
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    let deep = entity(&deep);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "malformed_xml"),
        ("not xml at all".into(), "malformed_xml"),
        (entity("<IDPSSODescriptor>"), "malformed_xml"),
        (entity("</Other>"), "malformed_xml"),
        (entity("<?evil pi?>"), "malformed_xml"),
        (entity("<x>&custom;</x>"), "malformed_xml"),
        (entity("<x:y/>"), "malformed_xml"),
        (format!("{}{}", entity(""), entity("")), "malformed_xml"),
        (deep, "too_large"),
        ("<Other xmlns=\"urn:example\"/>".into(), "bad_structure"),
        (
            r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>"#.into(),
            "bad_structure",
        ),
        (
            entity(
                r#"<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="maybe"/>"#,
            ),
            "bad_structure",
        ),
    ];
    for (xml, code) in cases {
        let err = parse_idp_metadata(xml.as_bytes()).expect_err(&xml);
        assert_eq!(err.reason_code(), code, "{xml}: {err}");
    }
}

#[test]
fn oversized_metadata_is_refused_before_parsing() {
    let mut xml = read("okta.xml");
    xml.resize(MAX_METADATA_BYTES + 1, b' ');
    check_error(&xml, "too_large");
}

#[test]
fn endpoint_locations_must_be_http_urls() {
    let xml = String::from_utf8(read("okta.xml"))
        .unwrap()
        .replace("https://dev-1234567.okta.com/app", "javascript:alert(1)//");
    check_error(xml.as_bytes(), "bad_structure");
}

/// Every truncation and a spread of single-byte corruptions of a real sample: the parser must
/// return (an error or a value), never panic.
#[test]
fn mutated_samples_never_panic() {
    for file in ["okta.xml", "keycloak.xml", "aggregate.xml"] {
        let xml = read(file);
        for cut in (0..xml.len()).step_by(7) {
            let _ = parse_idp_metadata(&xml[..cut]);
        }
        for (i, pos) in (0..xml.len()).step_by(13).enumerate() {
            let mut m = xml.clone();
            m[pos] = [b'<', b'>', b'&', b'"', 0xff, b'/', b'x'][i % 7];
            let _ = parse_idp_metadata(&m);
        }
    }
}

fn sample_sp(slo: bool) -> SpMetadata {
    SpMetadata {
        entity_id: "https://sso.example.com/saml/acme&co".into(),
        acs_url: "https://sso.example.com/saml/acme/acs".into(),
        slo_url: slo.then(|| "https://sso.example.com/saml/acme/slo".into()),
        signing_certificate_der: vec![0x30, 0x82, 0x01, 0x0a],
        encryption_certificate_der: vec![0x30, 0x82, 0x02, 0x0b],
        authn_requests_signed: true,
        name_id_formats: vec![EMAIL.into(), PERSISTENT.into()],
    }
}

fn check(sp: &SpMetadata, expect: Expect) {
    expect.assert_eq(&render_sp_metadata(sp));
}

#[test]
fn sp_metadata_golden() {
    check(
        &sample_sp(true),
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sso.example.com/saml/acme&amp;co">
              <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true" WantAssertionsSigned="true">
                <md:KeyDescriptor use="signing">
                  <ds:KeyInfo>
                    <ds:X509Data>
                      <ds:X509Certificate>MIIBCg==</ds:X509Certificate>
                    </ds:X509Data>
                  </ds:KeyInfo>
                </md:KeyDescriptor>
                <md:KeyDescriptor use="encryption">
                  <ds:KeyInfo>
                    <ds:X509Data>
                      <ds:X509Certificate>MIICCw==</ds:X509Certificate>
                    </ds:X509Data>
                  </ds:KeyInfo>
                  <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
                  <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/>
                  <md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>
                  <md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>
                  <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"/>
                </md:KeyDescriptor>
                <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sso.example.com/saml/acme/slo"/>
                <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sso.example.com/saml/acme/slo"/>
                <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
                <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
                <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sso.example.com/saml/acme/acs" index="0" isDefault="true"/>
              </md:SPSSODescriptor>
            </md:EntityDescriptor>
        "#]],
    );
}

#[test]
fn sp_metadata_without_slo_has_no_logout_endpoint() {
    let xml = render_sp_metadata(&sample_sp(false));
    assert!(!xml.contains("SingleLogoutService"));
    assert!(xml.contains(BINDING_HTTP_POST));
}

/// Runs `xmllint --schema` with the bundled XSDs (resolved offline through xsd/catalog.xml).
/// `None` (with a printed reason) when xmllint is not installed.
fn xmllint_validate(file: &Path, schema: &str) -> Option<Result<(), String>> {
    let xsd = fixtures().join("xsd");
    let output = Command::new("xmllint")
        .env("XML_CATALOG_FILES", xsd.join("catalog.xml"))
        .arg("--nonet")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd.join(schema))
        .arg(file)
        .output();
    match output {
        Err(e) => {
            println!(
                "skipping schema validation: xmllint not runnable ({e}); apt install libxml2-utils"
            );
            None
        }
        Ok(out) if out.status.success() => Some(Ok(())),
        Ok(out) => Some(Err(String::from_utf8_lossy(&out.stderr).into_owned())),
    }
}

#[test]
fn sp_metadata_is_valid_against_the_saml_metadata_schema() {
    // Real certificates, so the document is what an IdP would import.
    let md: IdpMetadata = parse_idp_metadata(&read("okta.xml")).unwrap();
    let der = md.signing_certificates[0].der.clone();
    for slo in [true, false] {
        let mut sp = sample_sp(slo);
        sp.signing_certificate_der = der.clone();
        sp.encryption_certificate_der = der.clone();
        let dir = std::env::temp_dir().join(format!("gatehouse-sp-md-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("sp-{slo}.xml"));
        std::fs::write(&file, render_sp_metadata(&sp)).unwrap();
        let result = xmllint_validate(&file, "saml-schema-metadata-2.0.xsd");
        let _ = std::fs::remove_file(&file);
        let Some(result) = result else { return };
        assert!(result.is_ok(), "{result:?}");

        // And our own parser reads our SP metadata as "not an IdP".
        let rendered = render_sp_metadata(&sp);
        check_error(rendered.as_bytes(), "bad_structure");
    }
}

/// Schema validation must be able to fail, or the test above proves nothing.
#[test]
fn schema_validation_rejects_misordered_metadata() {
    let xml = render_sp_metadata(&sample_sp(true));
    // Move NameIDFormat after AssertionConsumerService: invalid element order.
    let line = "    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n";
    let misordered = xml.replace(line, "").replace(
        "  </md:SPSSODescriptor>",
        &format!("{line}  </md:SPSSODescriptor>"),
    );
    assert_ne!(xml, misordered);
    let file = std::env::temp_dir().join(format!("gatehouse-sp-bad-{}.xml", std::process::id()));
    std::fs::write(&file, misordered).unwrap();
    let result = xmllint_validate(&file, "saml-schema-metadata-2.0.xsd");
    let _ = std::fs::remove_file(&file);
    if let Some(result) = result {
        assert!(result.is_err());
    }
}

#[test]
fn utf8_byte_order_mark_is_accepted() {
    // Metadata saved by Windows tools often starts with a BOM.
    let mut xml = "\u{feff}".as_bytes().to_vec();
    xml.extend(read("adfs.xml"));
    let md = parse_idp_metadata(&xml).unwrap();
    assert_eq!(
        md.entity_id,
        "http://adfs.contoso.example/adfs/services/trust"
    );
}

/// A certificate valid past 2049 carries its notAfter as GeneralizedTime, not UTCTime.
#[test]
fn certificate_times_beyond_2049_are_read() {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};
    use saml_core::metadata::IdpCertificate;

    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("O", "Acme, Inc.").unwrap();
    name.append_entry_by_text("CN", "idp.acme.example").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_str("20240101000000Z").unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_str("20600229123456Z").unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let der = b.build().to_der().unwrap();

    let cert = IdpCertificate::from_der(&der).unwrap();
    assert_eq!(
        cert.not_after,
        "2060-02-29T12:34:56Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(cert.subject, "O=Acme, Inc., CN=idp.acme.example");
    assert_eq!(cert.sha256_fingerprint.len(), 32 * 3 - 1);
    assert!(cert
        .sha256_fingerprint
        .chars()
        .all(|c| c == ':' || c.is_ascii_digit() || c.is_ascii_uppercase()));

    assert_eq!(
        IdpCertificate::from_der(&der[..der.len() - 1])
            .unwrap_err()
            .reason_code(),
        "bad_key"
    );
}
