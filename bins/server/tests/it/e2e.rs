//! End-to-end: the real `gatehouse-server` binary between two third-party peers — a pysaml2
//! SAML IdP and an Authlib OIDC client (scripts/test-peers/, installed pinned into
//! `target/test-peers/venv` by `scripts/setup-test-peers.sh`) — on SQLite and on PostgreSQL.
//!
//! Gatehouse is configured only through its REST admin API, as an operator would; the only
//! facade call is minting the operator token before the server starts (the bootstrap step the
//! `gatehouse` CLI does in production).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{operator_token, Server};
use base64::Engine as _;
use gatehouse::os::now;
use reqwest::blocking::{Client, Response};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use storage::testing::TestDatabase;
use storage::Engine;

const IDP_ENTITY_ID: &str = "https://idp.e2e.test/idp/metadata";
const IDP_SSO_URL: &str = "https://idp.e2e.test/idp/sso";
const IDP_SLO_URL: &str = "https://idp.e2e.test/idp/slo";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
// pysaml2's default attribute maps send these OIDs with the URI name format.
const OID_MAIL: &str = "urn:oid:0.9.2342.19200300.100.1.3";
const OID_GIVEN_NAME: &str = "urn:oid:2.5.4.42";
const OID_SURNAME: &str = "urn:oid:2.5.4.4";
const OID_IS_MEMBER_OF: &str = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn peers_dir() -> PathBuf {
    repo_root().join("scripts/test-peers")
}

/// The venv's interpreter. Missing peers are a failure, never a skip: CI runs
/// `scripts/setup-test-peers.sh` first (scripts/test does).
fn venv_python() -> PathBuf {
    let python = repo_root().join("target/test-peers/venv/bin/python");
    assert!(
        python.exists(),
        "the end-to-end test peers are not installed ({} is missing): run scripts/setup-test-peers.sh",
        python.display()
    );
    python
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-e2e-{label}-{}-{}",
            std::process::id(),
            now().timestamp_micros()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The REST admin API as an operator uses it.
struct Admin<'a> {
    http: &'a Client,
    base: &'a str,
    token: &'a str,
}

impl Admin<'_> {
    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.base))
            .bearer_auth(self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().unwrap()
    }

    fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>, want: u16) -> Value {
        let r = self.send(method.clone(), path, body);
        let status = r.status();
        let text = r.text().unwrap();
        assert_eq!(status.as_u16(), want, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.json(reqwest::Method::POST, path, Some(body), 201)
    }

    fn get(&self, path: &str) -> Value {
        self.json(reqwest::Method::GET, path, None, 200)
    }

    fn text(&self, path: &str) -> String {
        let r = self.send(reqwest::Method::GET, path, None);
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().unwrap()
    }
}

fn python(args: &[&str]) -> std::process::Output {
    Command::new(venv_python()).args(args).output().unwrap()
}

fn run_python(args: &[&str]) -> String {
    let out = python(args);
    assert!(
        out.status.success(),
        "python {}: exit {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn idp_metadata(key_dir: &Path) -> String {
    run_python(&[
        peers_dir().join("idp.py").to_str().unwrap(),
        "metadata",
        "--key-dir",
        key_dir.to_str().unwrap(),
        "--entity-id",
        IDP_ENTITY_ID,
        "--sso-url",
        IDP_SSO_URL,
        "--slo-url",
        IDP_SLO_URL,
    ])
}

/// `idp.py <command>` for Single Logout (pysaml2 as the IdP); returns its JSON.
fn idp_logout(key_dir: &Path, sp_metadata: &Path, command: &str, extra: &[&str]) -> Value {
    let script = peers_dir().join("idp.py");
    let mut args = vec![
        script.to_str().unwrap(),
        command,
        "--key-dir",
        key_dir.to_str().unwrap(),
        "--entity-id",
        IDP_ENTITY_ID,
        "--sso-url",
        IDP_SSO_URL,
        "--slo-url",
        IDP_SLO_URL,
        "--sp-metadata",
        sp_metadata.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&run_python(&args)).unwrap()
}

/// `idp.py respond` arguments for an AuthnRequest URL Gatehouse produced.
fn idp_respond_args(
    key_dir: &Path,
    sp_metadata: &Path,
    authn_request_url: &str,
    user: &str,
) -> Vec<String> {
    let script = peers_dir().join("idp.py");
    [
        script.to_str().unwrap(),
        "respond",
        "--key-dir",
        key_dir.to_str().unwrap(),
        "--entity-id",
        IDP_ENTITY_ID,
        "--sso-url",
        IDP_SSO_URL,
        "--sp-metadata",
        sp_metadata.to_str().unwrap(),
        "--authn-request-url",
        authn_request_url,
        "--user",
        user,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

/// The pysaml2 IdP answers an AuthnRequest URL Gatehouse produced.
fn idp_respond(key_dir: &Path, sp_metadata: &Path, authn_request_url: &str, user: &str) -> Value {
    let args = idp_respond_args(key_dir, sp_metadata, authn_request_url, user);
    let out = run_python(&args.iter().map(String::as_str).collect::<Vec<_>>());
    serde_json::from_str(&out).unwrap()
}

struct App {
    client_id: String,
    client_secret: String,
}

/// One full Authlib login; returns the client's JSON summary.
fn authlib_login(
    server: &Server,
    app: &App,
    key_dir: &Path,
    sp_metadata: &Path,
    extra: &[&str],
) -> Value {
    let script = peers_dir().join("oidc_client.py");
    let mut args = vec![
        script.to_str().unwrap(),
        "--issuer",
        &server.base,
        "--client-id",
        &app.client_id,
        "--client-secret",
        &app.client_secret,
        "--redirect-uri",
        REDIRECT_URI,
        "--login-hint",
        "alice@acme.test",
        "--sp-metadata",
        sp_metadata.to_str().unwrap(),
        "--idp-key-dir",
        key_dir.to_str().unwrap(),
        "--idp-entity-id",
        IDP_ENTITY_ID,
        "--idp-sso-url",
        IDP_SSO_URL,
        "--user",
        "alice@acme.test",
        "--given-name",
        "Alice",
        "--family-name",
        "Liddell",
        "--group",
        "engineering",
        "--group",
        "admins",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&run_python(&args)).unwrap()
}

/// `/oauth/authorize` for one connection, as a browser would start it; returns the IdP URL.
fn start_login(http: &Client, server: &Server, app: &App, connection: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/oauth/authorize", server.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid email")
        .append_pair("state", "s-cross")
        .append_pair("nonce", "n-cross")
        .append_pair("connection", connection);
    let r = http.get(url).send().unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(IDP_SSO_URL), "{location}");
    location
}

fn post_acs(http: &Client, acs_url: &str, saml_response: &str, relay_state: &str) -> Response {
    http.post(acs_url)
        .form(&[("SAMLResponse", saml_response), ("RelayState", relay_state)])
        .send()
        .unwrap()
}

/// A refused ACS: HTTP 403, a generic HTML page, and the correlation id both in the header and
/// on the page (it is what the user reads out to support). Returns that id.
fn assert_refused_page(r: Response) -> String {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let correlation_id = r.headers()["x-correlation-id"].to_str().unwrap().to_owned();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().unwrap();
    assert!(!correlation_id.is_empty());
    assert!(
        body.contains(&format!("<code>{correlation_id}</code>")),
        "{body}"
    );
    correlation_id
}

fn run_engine(engine: Engine) {
    // Fail first, and with the fix in the message, when the peers are not installed.
    venv_python();
    let db = TestDatabase::new(engine).unwrap();
    let dir = TempDir::new(match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    });
    let key_dir = dir.path().join("idp-keys");

    // The token is minted before the server opens the database; the public URL only matters for
    // what the facade would render, not for operator tokens.
    let token = operator_token(&db, "http://127.0.0.1:1");
    let server = Server::start(
        &db.url,
        0,
        Some(&dir.path().join("server.log")),
        &[("RUST_LOG", "info")],
    );
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let admin = Admin {
        http: &http,
        base: &server.base,
        token: &token,
    };

    // Operator setup, all through the REST admin API.
    let idp_metadata = idp_metadata(&key_dir);
    let acme = admin.post(
        "/tenants",
        json!({ "slug": "acme", "display_name": "Acme Corp", "domains": ["acme.test"] }),
    );
    let globex = admin.post(
        "/tenants",
        json!({ "slug": "globex", "display_name": "Globex", "domains": ["globex.test"] }),
    );
    let creds = admin.post(
        "/clients",
        json!({ "name": "Authlib app", "redirect_uris": [REDIRECT_URI] }),
    );
    let app = App {
        client_id: creds["client"]["client_id"].as_str().unwrap().to_owned(),
        client_secret: creds["client_secret"].as_str().unwrap().to_owned(),
    };
    let mapping = json!({
        "subject": "name_id",
        "email": OID_MAIL,
        "first_name": OID_GIVEN_NAME,
        "last_name": OID_SURNAME,
        "groups": [OID_IS_MEMBER_OF],
    });
    let connection = |tenant: &str, name: &str| -> Value {
        admin.post(
            &format!("/tenants/{tenant}/saml-connections"),
            json!({
                "name": name,
                "vendor": "generic",
                "idp": { "metadata_xml": idp_metadata },
                "attribute_mapping": mapping,
            }),
        )
    };
    let conn_acme = connection("acme", "pysaml2 (acme)");
    // The same IdP also serves another customer: its responses for Globex must not log anyone in
    // at Acme's connection.
    let conn_globex = connection("globex", "pysaml2 (globex)");
    assert_eq!(conn_acme["idp_entity_id"], IDP_ENTITY_ID);
    assert_eq!(conn_acme["sso_url"], IDP_SSO_URL);
    // pysaml2's metadata lists both bindings; Gatehouse prefers HTTP-Redirect.
    assert_eq!(conn_acme["sso_binding"], "redirect");
    assert_eq!(conn_acme["idp_certificates"].as_array().unwrap().len(), 1);
    assert_eq!(conn_globex["tenant_id"], globex["id"]);
    let acme_id = conn_acme["id"].as_str().unwrap().to_owned();
    let globex_id = conn_globex["id"].as_str().unwrap().to_owned();
    let sp_metadata = |id: &str| -> PathBuf {
        let path = dir.path().join(format!("{id}-sp-metadata.xml"));
        std::fs::write(
            &path,
            admin.text(&format!("/saml-connections/{id}/sp-metadata")),
        )
        .unwrap();
        path
    };
    let acme_sp = sp_metadata(&acme_id);
    let globex_sp = sp_metadata(&globex_id);

    // 1. Signed assertion, unsigned response.
    let first = authlib_login(&server, &app, &key_dir, &acme_sp, &[]);
    // 2. Signed response around a signed assertion encrypted for the SP (AES-256-GCM, RSA-OAEP).
    let second = authlib_login(
        &server,
        &app,
        &key_dir,
        &acme_sp,
        &[
            "--sign-response",
            "--encrypt-assertion",
            "--encryption-alg",
            "aes256-gcm",
        ],
    );
    // 3. Encrypted with AES-128-CBC, the content cipher several IdPs still default to.
    let third = authlib_login(
        &server,
        &app,
        &key_dir,
        &acme_sp,
        &["--encrypt-assertion", "--encryption-alg", "aes128-cbc"],
    );

    for summary in [&first, &second, &third] {
        let claims = &summary["id_token_claims"];
        assert_eq!(claims["iss"], server.base.as_str());
        assert_eq!(claims["aud"], app.client_id.as_str());
        assert_eq!(claims["email"], "alice@acme.test");
        assert_eq!(claims["given_name"], "Alice");
        assert_eq!(claims["family_name"], "Liddell");
        assert_eq!(claims["name"], "Alice Liddell");
        assert_eq!(claims["groups"], json!(["engineering", "admins"]));
        assert_eq!(claims["tenant"], "acme");
        assert_eq!(claims["tenant_id"], acme["id"]);
        assert_eq!(claims["idp"], acme_id.as_str());
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(
            claims["acr"],
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        );
        assert!(claims["sid"].as_str().unwrap().starts_with("ses_"));
        assert_eq!(summary["id_token_header"]["alg"], "RS256");
        assert_eq!(summary["userinfo"]["sub"], claims["sub"]);
        assert_eq!(summary["userinfo"]["email"], "alice@acme.test");
        assert_eq!(summary["userinfo"]["tenant"], "acme");
        let intro = &summary["introspection"];
        assert_eq!(intro["active"], true);
        assert_eq!(intro["sub"], claims["sub"]);
        assert_eq!(intro["client_id"], app.client_id.as_str());
        assert_eq!(intro["username"], "alice@acme.test");
        assert_eq!(summary["saml"]["acs_url"], conn_acme["acs_url"]);
        assert_eq!(summary["saml"]["request_binding"], "redirect");
    }
    // What pysaml2 actually sent in each variant (so a silently unencrypted or unsigned response
    // cannot make a variant pass).
    let shape = |summary: &Value| -> String {
        let b64 = summary["saml"]["saml_response"].as_str().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    };
    let (xml1, xml2, xml3) = (shape(&first), shape(&second), shape(&third));
    assert!(!xml1.contains("EncryptedAssertion") && xml1.contains("Signature"));
    for (xml, alg) in [
        (&xml2, "http://www.w3.org/2009/xmlenc11#aes256-gcm"),
        (&xml3, "http://www.w3.org/2001/04/xmlenc#aes128-cbc"),
    ] {
        assert!(xml.contains("EncryptedAssertion"), "{xml}");
        assert!(xml.contains(&format!("Algorithm=\"{alg}\"")), "{xml}");
        assert!(xml.contains("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"));
        assert!(
            !xml.contains("alice@acme.test"),
            "assertion sent in clear: {xml}"
        );
    }
    // Only the second variant signs the Response itself: its signature precedes the
    // EncryptedAssertion, while the third has no signature outside the encrypted assertion.
    let response_signed = |xml: &str| {
        let enc = xml.find("EncryptedAssertion").unwrap();
        xml[..enc].contains("SignatureValue")
    };
    assert!(response_signed(&xml2));
    assert!(!response_signed(&xml3));

    // The same person at the same IdP is the same user at every login: one JIT user, stable sub,
    // and a new session each time.
    let sub = first["id_token_claims"]["sub"].as_str().unwrap();
    assert!(sub.starts_with("usr_"), "{sub}");
    assert_eq!(second["id_token_claims"]["sub"], sub);
    assert_eq!(third["id_token_claims"]["sub"], sub);
    assert_ne!(
        first["id_token_claims"]["sid"],
        second["id_token_claims"]["sid"]
    );

    // Replaying the first SAMLResponse (with its RelayState) is refused.
    let saml = &first["saml"];
    let replay_id = assert_refused_page(post_acs(
        &http,
        saml["acs_url"].as_str().unwrap(),
        saml["saml_response"].as_str().unwrap(),
        saml["relay_state"].as_str().unwrap(),
    ));

    // A genuine, correctly signed response for Globex's connection, posted to Acme's ACS inside
    // a live Acme login flow, is refused (its audience, destination and request are Globex's).
    let to_idp_acme = start_login(&http, &server, &app, &acme_id);
    let acme_relay = url::Url::parse(&to_idp_acme)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let to_idp_globex = start_login(&http, &server, &app, &globex_id);
    let for_globex = idp_respond(&key_dir, &globex_sp, &to_idp_globex, "alice@acme.test");
    assert_eq!(for_globex["acs_url"], conn_globex["acs_url"]);
    assert_eq!(for_globex["sp_entity_id"], conn_globex["sp_entity_id"]);
    let cross_id = assert_refused_page(post_acs(
        &http,
        conn_acme["acs_url"].as_str().unwrap(),
        for_globex["saml_response"].as_str().unwrap(),
        &acme_relay,
    ));

    // The IdP really checks Gatehouse's AuthnRequest signature: a tampered one is refused by
    // pysaml2, which is what makes the successful logins above an interoperability result.
    let mut tampered = url::Url::parse(&to_idp_acme).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "Signature" {
                let mut raw = base64::engine::general_purpose::STANDARD
                    .decode(v.as_bytes())
                    .unwrap();
                raw[10] ^= 1;
                base64::engine::general_purpose::STANDARD.encode(raw)
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let args = idp_respond_args(&key_dir, &acme_sp, tampered.as_str(), "alice@acme.test");
    let out = python(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AuthnRequest refused"), "{stderr}");

    // 4. The HTTP-POST binding for the AuthnRequest (enveloped XML signature, which pysaml2
    //    verifies), switched on through the admin API.
    let patched = admin.json(
        reqwest::Method::PATCH,
        &format!("/saml-connections/{acme_id}"),
        Some(json!({ "sso_binding": "post" })),
        200,
    );
    assert_eq!(patched["sso_binding"], "post");
    let fourth = authlib_login(&server, &app, &key_dir, &acme_sp, &["--sign-response"]);
    assert_eq!(fourth["saml"]["request_binding"], "post");
    assert_eq!(fourth["id_token_claims"]["sub"], sub);
    assert_eq!(
        fourth["id_token_claims"]["groups"],
        json!(["engineering", "admins"])
    );
    assert_eq!(fourth["introspection"]["active"], true);

    // The audit trail, through the admin API, shows what happened and why.
    let events = admin.get("/tenants/acme/login-events?limit=1000");
    let events = events.as_array().unwrap();
    let of_type = |t: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["event"]["type"] == t)
            .collect::<Vec<_>>()
    };
    let succeeded = of_type("login.succeeded");
    assert_eq!(succeeded.len(), 4, "{events:#?}");
    for e in &succeeded {
        assert_eq!(e["event"]["subject"], "alice@acme.test");
        assert_eq!(e["event"]["amr"], json!(["pwd"]), "{e:#}");
        assert_eq!(e["event"]["user_id"], sub);
        assert_eq!(e["event"]["connection_id"], acme_id.as_str());
    }
    let failed = of_type("login.failed");
    assert_eq!(failed.len(), 2, "{events:#?}");
    let failure = |correlation_id: &str| -> &Value {
        failed
            .iter()
            .find(|e| e["correlation_id"] == correlation_id)
            .unwrap_or_else(|| panic!("no login.failed with correlation id {correlation_id}"))
    };
    assert_eq!(failure(&replay_id)["event"]["reason_code"], "replay");
    assert_eq!(
        failure(&replay_id)["event"]["connection_id"],
        acme_id.as_str()
    );
    let cross_reason = failure(&cross_id)["event"]["reason_code"]
        .as_str()
        .unwrap()
        .to_owned();
    // The Response's Destination (Globex's ACS) is the first binding check to fail.
    assert_eq!(cross_reason, "wrong_recipient");
    // Globex's chain has no login of Alice at all.
    let globex_events = admin.get("/tenants/globex/login-events");
    assert_eq!(globex_events, json!([]), "{globex_events:#}");
    // And the chain that recorded all this is intact.
    let verify = admin.get("/tenants/acme/audit/verify");
    assert_eq!(verify["intact"], true, "{verify:#}");

    // Single Logout with pysaml2 as the IdP (its metadata offers SingleLogoutService, so the
    // connection picked it up). 1. The app logs out: Gatehouse's signed LogoutRequest goes to
    // pysaml2, which checks its signature and answers with a signed LogoutResponse.
    let fifth = authlib_login(&server, &app, &key_dir, &acme_sp, &[]);
    let id_token = fifth["id_token"].as_str().unwrap();
    let r = http
        .get(format!("{}/oauth/logout", server.base))
        .query(&[("id_token_hint", id_token)])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let to_idp = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_idp.starts_with(IDP_SLO_URL), "{to_idp}");
    let answer = idp_logout(
        &key_dir,
        &acme_sp,
        "logout-answer",
        &["--logout-request-url", &to_idp],
    );
    assert_eq!(answer["name_id"], "alice@acme.test", "{answer:#}");
    assert_eq!(answer["signature_checked"], true);
    assert_eq!(
        answer["session_indexes"].as_array().unwrap().len(),
        1,
        "{answer:#}"
    );
    let back = answer["url"].as_str().unwrap();
    assert!(
        back.starts_with(&format!("{}/saml/{acme_id}/slo?", server.base)),
        "{back}"
    );
    let r = http.get(back).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", server.log_text());
    assert!(r.text().unwrap().contains("signed out"));
    // A LogoutRequest Gatehouse did not sign is refused by pysaml2.
    let tampered = to_idp.replacen("SAMLRequest=", "SAMLRequest=A", 1);
    let out = python(&[
        peers_dir().join("idp.py").to_str().unwrap(),
        "logout-answer",
        "--key-dir",
        key_dir.to_str().unwrap(),
        "--entity-id",
        IDP_ENTITY_ID,
        "--sso-url",
        IDP_SSO_URL,
        "--slo-url",
        IDP_SLO_URL,
        "--sp-metadata",
        acme_sp.to_str().unwrap(),
        "--logout-request-url",
        &tampered,
    ]);
    assert!(!out.status.success());

    // 2. The IdP logs the user out: pysaml2's signed LogoutRequest ends the session, and
    // Gatehouse's signed LogoutResponse is accepted by pysaml2.
    let sixth = authlib_login(&server, &app, &key_dir, &acme_sp, &[]);
    let sixth_sid = sixth["id_token_claims"]["sid"].as_str().unwrap().to_owned();
    let request = idp_logout(
        &key_dir,
        &acme_sp,
        "logout-request",
        &["--user", "alice@acme.test"],
    );
    let r = http.get(request["url"].as_str().unwrap()).send().unwrap();
    assert_eq!(r.status(), StatusCode::FOUND, "{}", server.log_text());
    let reply = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(reply.starts_with(IDP_SLO_URL), "{reply}");
    let checked = idp_logout(
        &key_dir,
        &acme_sp,
        "check-logout-response",
        &["--logout-response-url", &reply],
    );
    assert_eq!(
        checked["status"], "urn:oasis:names:tc:SAML:2.0:status:Success",
        "{checked:#}"
    );
    assert_eq!(checked["in_response_to"], request["request_id"]);
    assert_eq!(checked["relay_state"], "idp-rs");
    assert_eq!(checked["signature_checked"], true);
    let sessions = admin.get(&format!("/users/{sub}/sessions"));
    let sixth_session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sixth_sid.as_str())
        .unwrap();
    assert!(!sixth_session["revoked_at"].is_null(), "{sessions:#}");
    let reasons: Vec<Value> = admin
        .get("/tenants/acme/events?limit=1000")
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "session.revoked")
        .map(|e| e["data"]["reason"].clone())
        .collect();
    assert!(
        reasons.contains(&json!("logout")) && reasons.contains(&json!("idp_logout")),
        "{reasons:?}"
    );
    drop(server);
    drop(db);
}

#[test]
fn pysaml2_idp_and_authlib_client_on_sqlite() {
    run_engine(Engine::Sqlite);
}

#[test]
fn pysaml2_idp_and_authlib_client_on_postgres() {
    run_engine(Engine::Postgres);
}
