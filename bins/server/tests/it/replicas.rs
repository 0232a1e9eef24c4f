//! Two `gatehouse-server` processes on one PostgreSQL database, as replicas behind a load
//! balancer (same public URL): a session revoked through one is inactive on the other at once,
//! and a SAML response accepted by one is refused as a replay by the other. PostgreSQL only: this
//! is about state shared between processes, which is what a shared PostgreSQL is for (an SQLite
//! file is the single-process embedded default).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{free_port, operator_token, Server, SECRET_KEY};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use gatehouse::os::{now, OsEntropy};
use gatehouse::*;
use gatehouse_types::FixedEntropy;
use reqwest::blocking::Client;
use saml_core::authn_request::{decode_redirect, RedirectLimits};
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use serde_json::Value;
use std::time::Duration;
use storage::testing::TestDatabase;
use storage::Engine;

const REDIRECT: &str = "https://app.example.com/callback";

#[test]
fn two_processes_on_one_postgres_share_revocation_and_replay_protection() {
    let db = TestDatabase::new(Engine::Postgres).unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    // Replicas share the public URL (the load balancer's); each listens on its own port.
    let public = format!("http://127.0.0.1:{port_a}");
    let token = operator_token(&db, &public);

    // Setup through the facade on the same database, as an operator would with the CLI.
    let gh = Gatehouse::new(
        db.store().unwrap(),
        GatehouseConfig::new(
            public.parse().unwrap(),
            SecretBox::from_encoded(SECRET_KEY).unwrap(),
        ),
        Box::new(OsEntropy),
    );
    let op = Call::operator(now(), "test");
    gh.ensure_signing_key(&op).unwrap();
    gh.create_tenant(&op, NewTenant::new("acme", "Acme"))
        .unwrap();
    let idp = TestIdentityProvider::generate("https://idp.acme.test", now(), 30, &[7]).unwrap();
    let connection = gh
        .create_saml_connection(
            &op,
            "acme",
            NewSamlConnection::new(
                "Acme IdP",
                "okta",
                IdpSource::Manual {
                    entity_id: "https://idp.acme.test".into(),
                    sso_url: "https://idp.acme.test/sso".into(),
                    certificate_pem: idp.certificate_pem().unwrap(),
                },
            ),
        )
        .unwrap();
    let creds = gh
        .register_client(
            &op,
            NewClient {
                name: "App".into(),
                redirect_uris: vec![REDIRECT.into()],
                public: false,
                backchannel_logout_uri: None,
                post_logout_redirect_uris: vec![],
                client_id: Some("app".into()),
                client_secret: None,
            },
        )
        .unwrap();
    let client_secret = creds.client_secret.unwrap();

    let shared = [("GATEHOUSE_PUBLIC_URL", public.as_str())];
    let a = Server::start(&db.url, port_a, None, &shared);
    let b = Server::start(&db.url, port_b, None, &shared);
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Sign in through A: authorize, the IdP's answer to A's ACS.
    let authorize = http
        .get(format!("{}/oauth/authorize", a.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", "s1"),
            ("nonce", "n1"),
            ("tenant", "acme"),
        ])
        .send()
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let location = authorize.headers()["location"].to_str().unwrap().to_owned();
    let decoded = decode_redirect(
        location.split_once('?').unwrap().1,
        &RedirectLimits::DEFAULT,
    )
    .unwrap();
    let root = saml_core::xml::parse(&decoded.xml, &Default::default()).unwrap();
    let mut params = ResponseParams::new(
        &connection.acs_url,
        &connection.sp_entity_id,
        "alice@acme.test",
    );
    params.in_response_to = Some(root.attr("ID").unwrap().to_owned());
    params.attributes = vec![("email".into(), vec!["alice@acme.test".into()])];
    let response = B64.encode(
        idp.response(&params, now(), &mut FixedEntropy::new(11))
            .unwrap(),
    );
    let relay = decoded.relay_state.unwrap();
    let post_acs = |server: &Server| {
        http.post(format!("{}/saml/{}/acs", server.base, connection.id))
            .form(&[
                ("SAMLResponse", response.as_str()),
                ("RelayState", relay.as_str()),
            ])
            .send()
            .unwrap()
    };
    let accepted = post_acs(&a);
    assert_eq!(accepted.status(), 303, "{}", a.log_text());
    let back = url::Url::parse(accepted.headers()["location"].to_str().unwrap()).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    // The same response replayed to B is refused there: the replay cache is shared.
    let replayed = post_acs(&b);
    assert_eq!(replayed.status(), 403);
    let failures = gh
        .audit_events(&AuditEventFilter {
            tenant: "acme".into(),
            event_type: Some("login.failed".into()),
            ..Default::default()
        })
        .unwrap();
    let reasons: Vec<Value> = failures
        .iter()
        .map(|r| serde_json::to_value(&r.event).unwrap()["reason_code"].clone())
        .collect();
    assert_eq!(reasons, [Value::from("replay")]);

    // The code issued by A is redeemed at B; B's introspection sees the session live.
    let tokens: Value = http
        .post(format!("{}/oauth/token", b.base))
        .basic_auth("app", Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let introspect = |server: &Server| -> bool {
        let r: Value = http
            .post(format!("{}/oauth/introspect", server.base))
            .basic_auth("app", Some(&client_secret))
            .form(&[("token", access_token.as_str())])
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["active"] == true
    };
    assert!(introspect(&b));
    assert!(introspect(&a));

    // An operator revokes the session through A; B says inactive on the very next request.
    let sid = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = tokens["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["sid"].as_str().unwrap().to_owned()
    };
    let revoked = http
        .post(format!("{}/admin/v1/sessions/{sid}/revoke", a.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "reason": "laptop stolen" }))
        .send()
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    assert!(!introspect(&b), "{}", b.log_text());
    assert!(!introspect(&a));
    // And refresh through B fails too.
    let refresh = http
        .post(format!("{}/oauth/token", b.base))
        .basic_auth("app", Some(&client_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .unwrap();
    assert_eq!(refresh.status(), 400);
}
