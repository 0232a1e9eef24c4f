//! The whole login through the facade — authorize → AuthnRequest → IdP → ACS → code → tokens —
//! and the ways it must refuse, on SQLite and PostgreSQL alike. The IdP is saml-core's
//! `TestIdentityProvider` with its own key; its responses go through the production validator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{
    contend_with_user_change, facade, idp, next_seed, prove_listener, pump_until_heard,
    refused_to_app, t0, REDIRECT,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use gatehouse::*;
use gatehouse_types::FixedEntropy;
use saml_core::authn_request::{decode_redirect, RedirectLimits};
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use serde_json::{json, Value};
use storage::testing::{TestDatabase, ENGINES};
use storage::Engine;

struct World {
    _db: TestDatabase,
    gh: Gatehouse,
    idp: TestIdentityProvider,
    connection: SamlConnectionView,
    client_secret: String,
    engine: Engine,
}

fn op(now: DateTime<Utc>) -> Call {
    Call::operator(now, "test")
}

fn browser(now: DateTime<Utc>) -> Call {
    Call {
        now,
        correlation_id: "corr-1".into(),
        actor: Actor::Browser,
    }
}

fn world(engine: Engine) -> World {
    let db = TestDatabase::new(engine).unwrap();
    let gh = facade(&db, 1);
    let call = op(t0());
    gh.ensure_signing_key(&call).unwrap();
    let mut tenant = NewTenant::new("acme", "Acme");
    tenant.domains = vec!["acme.test".into()];
    gh.create_tenant(&call, tenant).unwrap();
    let (idp, pem) = idp("https://idp.acme.test");
    let connection = gh
        .create_saml_connection(
            &call,
            "acme",
            NewSamlConnection::new(
                "Acme IdP",
                "okta",
                IdpSource::Manual {
                    entity_id: "https://idp.acme.test".into(),
                    sso_url: "https://idp.acme.test/sso".into(),
                    certificate_pem: pem,
                },
            ),
        )
        .unwrap();
    let creds = gh
        .register_client(
            &call,
            NewClient {
                name: "App".into(),
                redirect_uris: vec![REDIRECT.into()],
                public: false,
                backchannel_logout_uri: None,
                post_logout_redirect_uris: vec![SIGNED_OUT.into()],
                client_id: Some("app".into()),
                client_secret: None,
            },
        )
        .unwrap();
    World {
        _db: db,
        gh,
        idp,
        connection,
        client_secret: creds.client_secret.unwrap(),
        engine,
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn authorize(w: &World, extra: &[(&str, &str)]) -> String {
    let mut p = pairs(&[
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email profile"),
        ("state", "st4te"),
        ("nonce", "n0nce"),
        ("login_hint", "alice@acme.test"),
    ]);
    p.extend(pairs(extra));
    match w.gh.authorize_pairs(&browser(t0()), &p).unwrap() {
        AuthorizeOutcome::Redirect(url) => url,
        other => panic!("{other:?}"),
    }
}

/// The IdP's side: read the AuthnRequest's ID and RelayState from the redirect, answer it.
fn idp_answer(
    w: &World,
    redirect: &str,
    user: &str,
    tweak: impl FnOnce(&mut ResponseParams),
) -> (String, Option<String>) {
    let query = redirect.split_once('?').unwrap().1;
    let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
    let root = saml_core::xml::parse(&decoded.xml, &Default::default()).unwrap();
    let mut params = ResponseParams::new(&w.connection.acs_url, &w.connection.sp_entity_id, user);
    params.in_response_to = Some(root.attr("ID").unwrap().to_owned());
    params.attributes = vec![
        ("email".into(), vec![user.into()]),
        ("firstName".into(), vec!["Alice".into()]),
        ("lastName".into(), vec!["Example".into()]),
        ("groups".into(), vec!["Sales".into(), "Admins".into()]),
    ];
    tweak(&mut params);
    let xml = w
        .idp
        .response(&params, t0(), &mut FixedEntropy::new(next_seed()))
        .unwrap();
    (B64.encode(xml), decoded.relay_state)
}

fn code_of(redirect_to: &str) -> String {
    let url = url::Url::parse(redirect_to).unwrap();
    assert!(redirect_to.starts_with(REDIRECT), "{redirect_to}");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

fn secret(w: &World) -> ClientAuth {
    ClientAuth::Secret {
        client_id: "app".into(),
        secret: w.client_secret.clone(),
    }
}

fn login(w: &World) -> TokenResponse {
    let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |_| {});
    let done =
        w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
            .unwrap();
    assert!(done.redirect_to.contains("state=st4te"));
    w.gh.exchange_code(
        &browser(t0()),
        &secret(w),
        &code_of(&done.redirect_to),
        REDIRECT,
        None,
    )
    .unwrap()
}

fn each(test: impl Fn(&World)) {
    for engine in ENGINES {
        let w = world(engine);
        test(&w);
    }
}

fn login_failure(w: &World, result: Result<LoginCompleted>) -> &'static str {
    match result {
        Err(GatehouseError::LoginFailed {
            reason_code,
            correlation_id,
        }) => {
            assert_eq!(correlation_id, "corr-1");
            reason_code
        }
        other => panic!("{:?}: expected a refused login, got {other:?}", w.engine),
    }
}

#[test]
fn full_login_yields_verifiable_tokens_with_the_idp_identity() {
    each(|w| {
        let tokens = login(w);
        let jwks =
            oidc_core::jose::Jwks::parse(w.gh.jwks(&op(t0())).unwrap().to_string().as_bytes())
                .unwrap();
        let verified = oidc_core::jose::verify(
            &tokens.id_token,
            &jwks,
            &[oidc_core::jose::Algorithm::RS256],
            t0(),
            Duration::zero(),
        )
        .unwrap();
        let c = verified.claims();
        assert_eq!(c["iss"], "https://sso.example.com");
        assert_eq!(c["aud"], "app");
        assert_eq!(c["nonce"], "n0nce");
        assert_eq!(c["email"], "alice@acme.test");
        assert_eq!(c["given_name"], "Alice");
        assert_eq!(c["tenant"], "acme");
        assert_eq!(c["idp"], w.connection.id.as_str());
        assert_eq!(c["groups"], serde_json::json!(["Sales", "Admins"]));
        assert_eq!(c["amr"], serde_json::json!(["pwd"]));
        assert_eq!(tokens.expires_in, 900);
        let info = w.gh.userinfo(&op(t0()), &tokens.access_token).unwrap();
        assert_eq!(info["sub"], c["sub"]);
        let intro =
            w.gh.introspect(&op(t0()), &secret(w), &tokens.access_token)
                .unwrap();
        assert_eq!(intro["active"], true);
        // The same person logging in again is the same user.
        let again = login(w);
        let info2 = w.gh.userinfo(&op(t0()), &again.access_token).unwrap();
        assert_eq!(info2["sub"], info["sub"], "{:?}", w.engine);
    });
}

#[test]
fn a_replayed_response_is_refused_and_audited() {
    each(|w| {
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |_| {});
        w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
            .unwrap();
        let second =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
        assert_eq!(login_failure(w, second), "replay");
        let events =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("login.*".into()),
                ..Default::default()
            })
            .unwrap();
        let types: Vec<_> = events.iter().map(|e| e.event.event_type()).collect();
        assert_eq!(types, ["login.succeeded", "login.failed"], "{:?}", w.engine);
        // tenant created, connection created, user created (JIT), session created, login
        // succeeded, login failed
        assert_eq!(w.gh.verify_audit_chain("acme").unwrap(), Ok(6));
    });
}

#[test]
fn a_replay_to_another_replica_is_refused() {
    for engine in ENGINES {
        let w = world(engine);
        let replica = facade(&w._db, 2);
        let (resp, relay) = idp_answer(&w, &authorize(&w, &[]), "alice@acme.test", |_| {});
        w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
            .unwrap();
        // Without RelayState the second replica treats it as unsolicited (refused); with it,
        // the flow is consumed and the assertion id is in the shared replay cache.
        let r = replica.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
        assert_eq!(login_failure(&w, r), "replay", "{engine:?}");
    }
}

#[test]
fn codes_are_single_use_and_bound_to_client_and_redirect_uri() {
    each(|w| {
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |_| {});
        let done =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                .unwrap();
        let code = code_of(&done.redirect_to);
        let wrong_secret = ClientAuth::Secret {
            client_id: "app".into(),
            secret: "nope".into(),
        };
        assert!(matches!(
            w.gh.exchange_code(&browser(t0()), &wrong_secret, &code, REDIRECT, None),
            Err(GatehouseError::OAuth {
                error: "invalid_client",
                ..
            })
        ));
        // The failed client authentication did not burn the code.
        assert!(matches!(
            w.gh.exchange_code(
                &browser(t0()),
                &secret(w),
                &code,
                "https://app.example.com/other",
                None
            ),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
        // ... but a wrong redirect_uri did: codes are single use whatever happens.
        assert!(matches!(
            w.gh.exchange_code(&browser(t0()), &secret(w), &code, REDIRECT, None),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
    });
}

#[test]
fn expired_codes_are_refused() {
    each(|w| {
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |_| {});
        let done =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                .unwrap();
        let late = browser(t0() + Duration::seconds(61));
        assert!(matches!(
            w.gh.exchange_code(
                &late,
                &secret(w),
                &code_of(&done.redirect_to),
                REDIRECT,
                None
            ),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
    });
}

/// The reasons of acme's `session.terminated` audit records, oldest first.
fn session_end_reasons(w: &World) -> Vec<String> {
    w.gh.audit_events(&AuditEventFilter {
        tenant: "acme".into(),
        event_type: Some("session.terminated".into()),
        ..Default::default()
    })
    .unwrap()
    .iter()
    .map(|r| {
        serde_json::to_value(&r.event).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    })
    .collect()
}

/// Register app `client_id` with the usual redirect URI: confidential with `secret`, or public
/// (PKCE is then its only proof) without one.
fn register_app(w: &World, client_id: &str, secret: Option<&str>) {
    w.gh.register_client(
        &op(t0()),
        NewClient {
            name: client_id.to_uppercase(),
            redirect_uris: vec![REDIRECT.into()],
            public: secret.is_none(),
            backchannel_logout_uri: None,
            post_logout_redirect_uris: vec![],
            client_id: Some(client_id.into()),
            client_secret: secret.map(str::to_owned),
        },
    )
    .unwrap();
}

const OTHER_SECRET: &str = "other-secret-0123456789";

/// A second confidential client, `other`.
fn register_other_client(w: &World) {
    register_app(w, "other", Some(OTHER_SECRET));
}

fn other_secret() -> ClientAuth {
    ClientAuth::Secret {
        client_id: "other".into(),
        secret: OTHER_SECRET.into(),
    }
}

/// A public client, `spa`.
fn register_spa(w: &World) {
    register_app(w, "spa", None);
}

/// Sign alice in for the confidential app up to its callback: the code it receives.
fn fresh_code(w: &World) -> String {
    let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |_| {});
    let done =
        w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
            .unwrap();
    code_of(&done.redirect_to)
}

/// A SCIM deactivation that commits while a login of the same user is under way must win: the
/// login reads the user locked, waits for the deactivation, and is refused. (It used to read
/// the row unlocked and could write it back active, or open a session for a leaver.)
#[test]
fn a_deactivation_during_a_login_refuses_the_login() {
    let w = world(Engine::Postgres);
    login(&w); // alice exists (JIT)
    let alice = w.gh.list_tenant_users("acme", None, 10, 0).unwrap()[0]
        .id
        .clone();
    let (resp, relay) = idp_answer(&w, &authorize(&w, &[]), "alice@acme.test", |_| {});
    let (waited, login) = contend_with_user_change(
        &w._db,
        &alice,
        |user| user.active = false,
        || {
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
        },
    );
    assert!(
        waited,
        "the login never waited for the deactivation's row lock"
    );
    assert_eq!(refused_to_app(login), "user_deactivated");
}

#[test]
fn a_reused_code_revokes_the_tokens_issued_from_it() {
    each(|w| {
        // Presented again by another client, or long after: refused, and nothing ends (a used
        // code found later in a log must not let anyone sign the user out).
        register_other_client(w);
        let code = fresh_code(w);
        let tokens =
            w.gh.exchange_code(&browser(t0()), &secret(w), &code, REDIRECT, None)
                .unwrap();
        assert!(w
            .gh
            .exchange_code(&browser(t0()), &other_secret(), &code, REDIRECT, None)
            .is_err());
        let late = browser(t0() + Duration::seconds(60 + AUTH_CODE_REUSE_WINDOW_SECS + 1));
        assert!(w
            .gh
            .exchange_code(&late, &secret(w), &code, REDIRECT, None)
            .is_err());
        assert!(introspect_active(w, &tokens), "{:?}", w.engine);
        // Then purged: the code is unknown from then on.
        assert!(w.gh.purge_expired(&late).unwrap() >= 1, "{:?}", w.engine);

        let code = fresh_code(w);
        let tokens =
            w.gh.exchange_code(&browser(t0()), &secret(w), &code, REDIRECT, None)
                .unwrap();
        assert!(introspect_active(w, &tokens), "{:?}", w.engine);
        assert!(matches!(
            w.gh.exchange_code(&browser(t0()), &secret(w), &code, REDIRECT, None),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
        // The code may have been intercepted: what was issued from it no longer works.
        assert!(!introspect_active(w, &tokens), "{:?}", w.engine);
        assert!(w.gh.userinfo(&browser(t0()), &tokens.access_token).is_err());
        assert!(w
            .gh
            .refresh(&browser(t0()), &secret(w), &tokens.refresh_token)
            .is_err());
        assert_eq!(
            session_end_reasons(w),
            ["authorization_code_reuse"],
            "{:?}",
            w.engine
        );
        // An unknown code is refused and ends nothing.
        let other = login(w);
        assert!(w
            .gh
            .exchange_code(&browser(t0()), &secret(w), "ghc_unknown", REDIRECT, None)
            .is_err());
        assert!(introspect_active(w, &other), "{:?}", w.engine);
    });
}

#[test]
fn introspection_requires_a_confidential_client() {
    each(|w| {
        let tokens = login(w);
        let invalid_client = |r: Result<serde_json::Value>| {
            matches!(
                r,
                Err(GatehouseError::OAuth {
                    error: "invalid_client",
                    ..
                })
            )
        };
        // The confidential app's id without its secret proves nothing ...
        let app_without_secret = ClientAuth::Public {
            client_id: "app".into(),
        };
        assert!(invalid_client(w.gh.introspect(
            &op(t0()),
            &app_without_secret,
            &tokens.access_token
        )));
        // ... and neither does a public client's id, which ships inside the app.
        register_spa(w);
        let spa = ClientAuth::Public {
            client_id: "spa".into(),
        };
        assert!(invalid_client(w.gh.introspect(
            &op(t0()),
            &spa,
            &tokens.access_token
        )));
        assert!(introspect_active(w, &tokens), "{:?}", w.engine);
        // A confidential app that forgets its secret at the token endpoint is told so, not
        // asked for a PKCE verifier; its code stays usable.
        let code = fresh_code(w);
        assert!(matches!(
            w.gh.exchange_code(&browser(t0()), &app_without_secret, &code, REDIRECT, None),
            Err(GatehouseError::OAuth {
                error: "invalid_client",
                ..
            })
        ));
        w.gh.exchange_code(&browser(t0()), &secret(w), &code, REDIRECT, None)
            .unwrap();
    });
}

#[test]
fn public_clients_must_use_pkce_and_the_verifier_must_match() {
    each(|w| {
        register_spa(w);
        let base = pairs(&[
            ("response_type", "code"),
            ("client_id", "spa"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("login_hint", "a@acme.test"),
        ]);
        match w.gh.authorize_pairs(&browser(t0()), &base) {
            Err(GatehouseError::OAuthRedirect {
                error: "invalid_request",
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        let verifier = "a".repeat(43);
        let challenge = oidc_core::pkce::challenge_s256(&verifier).unwrap();
        let mut with_pkce = base.clone();
        with_pkce.extend(pairs(&[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]));
        // Each presentation burns its code, so each case gets a fresh one.
        let spa_code = || {
            let AuthorizeOutcome::Redirect(url) =
                w.gh.authorize_pairs(&browser(t0()), &with_pkce).unwrap()
            else {
                panic!()
            };
            let (resp, relay) = idp_answer(w, &url, "alice@acme.test", |_| {});
            let done =
                w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                    .unwrap();
            code_of(&done.redirect_to)
        };
        let public = ClientAuth::Public {
            client_id: "spa".into(),
        };
        let wrong = "b".repeat(43);
        for (verifier, why) in [
            (None, "code_verifier required"),
            (Some(wrong.as_str()), "PKCE verification failed"),
        ] {
            match w
                .gh
                .exchange_code(&browser(t0()), &public, &spa_code(), REDIRECT, verifier)
            {
                Err(GatehouseError::OAuth {
                    error: "invalid_grant",
                    description,
                }) => assert_eq!(description, why, "{:?}", w.engine),
                other => panic!("{other:?}"),
            }
        }
        w.gh.exchange_code(
            &browser(t0()),
            &public,
            &spa_code(),
            REDIRECT,
            Some(&verifier),
        )
        .unwrap();
    });
}

#[test]
fn unregistered_redirect_uris_are_shown_not_followed() {
    each(|w| {
        let p = pairs(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "openid"),
        ]);
        assert!(matches!(
            w.gh.authorize_pairs(&browser(t0()), &p),
            Err(GatehouseError::OAuth { .. })
        ));
        // A registered URI with a bad request is answered by redirect.
        let p = pairs(&[
            ("response_type", "token"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
        ]);
        match w.gh.authorize_pairs(&browser(t0()), &p) {
            Err(GatehouseError::OAuthRedirect {
                redirect_uri,
                state,
                ..
            }) => {
                assert_eq!(redirect_uri, REDIRECT);
                assert_eq!(state.as_deref(), Some("s"));
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn without_a_selector_the_user_is_asked_for_an_email_and_unknown_domains_are_refused() {
    each(|w| {
        let p = pairs(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ]);
        assert_eq!(
            w.gh.authorize_pairs(&browser(t0()), &p).unwrap(),
            AuthorizeOutcome::AskForEmail
        );
        let mut p2 = p.clone();
        p2.push(("login_hint".into(), "eve@unknown.test".into()));
        assert!(matches!(
            w.gh.authorize_pairs(&browser(t0()), &p2),
            Err(GatehouseError::OAuthRedirect {
                error: "access_denied",
                ..
            })
        ));
        let mut p3 = p.clone();
        p3.push(("tenant".into(), "acme".into()));
        assert!(matches!(
            w.gh.authorize_pairs(&browser(t0()), &p3),
            Ok(AuthorizeOutcome::Redirect(_))
        ));
    });
}

#[test]
fn unsolicited_responses_are_refused_unless_enabled_and_then_go_only_to_the_configured_app() {
    each(|w| {
        let mut params = ResponseParams::new(
            &w.connection.acs_url,
            &w.connection.sp_entity_id,
            "alice@acme.test",
        );
        params.attributes = vec![("email".into(), vec!["alice@acme.test".into()])];
        let resp = B64.encode(
            w.idp
                .response(&params, t0(), &mut FixedEntropy::new(3))
                .unwrap(),
        );
        let r = w.gh.acs(
            &browser(t0()),
            &w.connection.id,
            &resp,
            Some("https://evil.example/"),
        );
        assert_eq!(login_failure(w, r), "unsolicited_not_allowed");
        w.gh.update_saml_connection(
            &op(t0()),
            &w.connection.id,
            SamlConnectionUpdate {
                allow_idp_initiated: Some(true),
                default_client_id: Some("app".into()),
                default_redirect_uri: Some(REDIRECT.into()),
                ..Default::default()
            },
        )
        .unwrap();
        let done =
            w.gh.acs(
                &browser(t0()),
                &w.connection.id,
                &resp,
                Some("https://evil.example/"),
            )
            .unwrap();
        assert!(
            done.redirect_to.starts_with(REDIRECT),
            "RelayState must never be a redirect target: {}",
            done.redirect_to
        );
    });
}

#[test]
fn a_response_for_another_tenants_connection_is_refused() {
    each(|w| {
        let call = op(t0());
        w.gh.create_tenant(&call, NewTenant::new("globex", "Globex"))
            .unwrap();
        let (_other_idp, pem) = idp("https://idp.globex.test");
        let other =
            w.gh.create_saml_connection(
                &call,
                "globex",
                NewSamlConnection {
                    name: "Globex".into(),
                    vendor: "generic".into(),
                    idp: IdpSource::Manual {
                        entity_id: "https://idp.globex.test".into(),
                        sso_url: "https://idp.globex.test/sso".into(),
                        certificate_pem: pem,
                    },
                    allow_idp_initiated: true,
                    default_client_id: Some("app".into()),
                    default_redirect_uri: Some(REDIRECT.into()),
                    sign_requests: true,
                    jit_enabled: true,
                    attribute_mapping: None,
                },
            )
            .unwrap();
        // Acme's IdP signs a perfectly valid response for Acme; posting it to Globex's ACS fails.
        let (resp, _) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |_| {});
        let r = w.gh.acs(&browser(t0()), &other.id, &resp, None);
        let code = login_failure(w, r);
        assert!(
            [
                "bad_signature",
                "unsigned",
                "wrong_issuer",
                "wrong_audience",
                "wrong_recipient",
                "in_response_to_mismatch"
            ]
            .contains(&code),
            "{code}"
        );
    });
}

#[test]
fn disabled_connections_and_expired_assertions_are_refused() {
    each(|w| {
        let url = authorize(w, &[]);
        let (resp, relay) = idp_answer(w, &url, "alice@acme.test", |_| {});
        let late = browser(t0() + Duration::minutes(20));
        let r = w.gh.acs(&late, &w.connection.id, &resp, relay.as_deref());
        // The flow (10 min) and the assertion (5 min + 3 min skew) have both expired.
        let code = login_failure(w, r);
        assert!(
            ["expired", "unsolicited_not_allowed"].contains(&code),
            "{code}"
        );
        w.gh.update_saml_connection(
            &op(t0()),
            &w.connection.id,
            SamlConnectionUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
        let r =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
        assert_eq!(login_failure(w, r), "connection_disabled");
    });
}

#[test]
fn force_authn_and_passive_requests_reach_the_idp() {
    each(|w| {
        let url = authorize(
            w,
            &[
                ("prompt", "login"),
                (
                    "acr_values",
                    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
                ),
            ],
        );
        let decoded =
            decode_redirect(url.split_once('?').unwrap().1, &RedirectLimits::DEFAULT).unwrap();
        let xml = String::from_utf8(decoded.xml).unwrap();
        assert!(xml.contains("ForceAuthn=\"true\""), "{xml}");
        assert!(xml.contains("MobileTwoFactorContract"), "{xml}");
        let url = authorize(w, &[("prompt", "none")]);
        let decoded =
            decode_redirect(url.split_once('?').unwrap().1, &RedirectLimits::DEFAULT).unwrap();
        assert!(String::from_utf8(decoded.xml)
            .unwrap()
            .contains("IsPassive=\"true\""));
    });
}

#[test]
fn sp_metadata_names_the_connection_endpoints() {
    each(|w| {
        let xml = w.gh.sp_metadata(&w.connection.id).unwrap();
        assert!(xml.contains(&w.connection.sp_entity_id));
        assert!(xml.contains(&w.connection.acs_url));
        let shown =
            w.gh.show_saml_connection(&op(t0()), &w.connection.id)
                .unwrap();
        assert_eq!(shown.idp_certificates.len(), 1);
        assert_eq!(shown.idp_certificates[0].expires_in_days, 365);
    });
}

#[test]
fn post_binding_sends_an_enveloped_signed_authn_request() {
    each(|w| {
        w.gh.update_saml_connection(
            &op(t0()),
            &w.connection.id,
            SamlConnectionUpdate {
                sso_binding: Some(SsoBinding::Post),
                ..Default::default()
            },
        )
        .unwrap();
        let p = pairs(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("tenant", "acme"),
        ]);
        let AuthorizeOutcome::PostForm(html) = w.gh.authorize_pairs(&browser(t0()), &p).unwrap()
        else {
            panic!("expected a POST form")
        };
        assert!(
            html.contains("action=\"https://idp.acme.test/sso\""),
            "{html}"
        );
        let b64 = html
            .split("name=\"SAMLRequest\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let xml = B64.decode(b64).unwrap();
        let root = saml_core::xml::parse(&xml, &Default::default()).unwrap();
        // The SP signing certificate from our own metadata verifies the request's signature.
        let metadata = w.gh.sp_metadata(&w.connection.id).unwrap();
        let cert_b64: String = metadata
            .split("<ds:X509Certificate>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let keys =
            saml_core::dsig::TrustedKeys::from_der_certificates(&[&B64.decode(cert_b64).unwrap()])
                .unwrap();
        saml_core::dsig::verify_enveloped(&root, &root, &keys, &Default::default()).unwrap();
    });
}

/// Serve `body` over HTTP on loopback for `requests` requests (metadata URL tests).
fn serve(body: String, requests: usize) -> String {
    serve_raw(
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.len(), body),
        requests,
    )
}

/// Answer `requests` requests on loopback with the raw HTTP `response`; the URL to ask.
fn serve_raw(response: String, requests: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metadata.xml", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

fn connection_from_url(gh: &Gatehouse, url: &str) -> Result<SamlConnectionView> {
    gh.create_saml_connection(
        &op(t0()),
        "acme",
        NewSamlConnection::new("Okta", "okta", IdpSource::MetadataUrl(url.to_owned())),
    )
}

#[test]
fn connections_from_a_metadata_url_trust_every_listed_certificate_and_refresh() {
    let metadata = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/saml/metadata/okta.xml"
    ))
    .unwrap();
    let expected = saml_core::metadata::parse_idp_metadata(metadata.as_bytes()).unwrap();
    let url = serve(metadata, 2);
    let db = TestDatabase::new(Engine::Sqlite).unwrap();
    let gh = facade(&db, 7);
    gh.create_tenant(&op(t0()), NewTenant::new("acme", "Acme"))
        .unwrap();
    let created = connection_from_url(&gh, &url).unwrap();
    assert_eq!(created.idp_entity_id, expected.entity_id);
    assert_eq!(
        created.idp_certificates.len(),
        expected.signing_certificates.len()
    );
    assert_eq!(created.metadata_url.as_deref(), Some(url.as_str()));
    let refreshed = gh.refresh_saml_metadata(&op(t0()), &created.id).unwrap();
    assert_eq!(refreshed.idp_certificates, created.idp_certificates);
    // A plain-http URL that is not loopback is refused before any request is made, and so is
    // a loopback URL that redirects to one (found by an abuse run: redirects were followed to
    // any scheme and host).
    let redirecting = serve_raw(
        "HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/metadata.xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        1,
    );
    for (url, why) in [
        ("http://idp.example.com/metadata", "must be https"),
        (redirecting.as_str(), "redirect"),
    ] {
        match connection_from_url(&gh, url) {
            Err(GatehouseError::InvalidInput {
                field: "metadata_url",
                reason,
            }) => assert!(reason.contains(why), "{url}: {reason}"),
            other => panic!("{url}: {other:?}"),
        }
    }
}

const SEED_RULES: &str = r#"{
  "version": 1,
  "dimensions": { "market": {}, "team": {} },
  "rules": [
    { "id": "admins", "condition": { "group": { "name": "Admins" } },
      "grants": [{ "role": "super_administrator", "scopes": {} }] },
    { "id": "sales-uae", "condition": { "group": { "name": "Sales-UAE-Inside" } },
      "grants": [{ "role": "sales_representative", "scopes": { "market": "UAE", "team": "UAE-inside-sales" } }] }
  ],
  "unmatched_policy": "deny"
}"#;

#[test]
fn role_rules_turn_idp_groups_into_grants_in_the_tokens_and_changes_are_audited() {
    each(|w| {
        let stored = w.gh.set_role_rules(&op(t0()), "acme", SEED_RULES).unwrap();
        assert_eq!(stored.version, 1);
        let tokens = login(w); // groups: Sales, Admins
        let info = w.gh.userinfo(&op(t0()), &tokens.access_token).unwrap();
        assert_eq!(
            info["roles"],
            serde_json::json!(["super_administrator"]),
            "{:?}",
            w.engine
        );
        assert_eq!(
            info["grants"],
            serde_json::json!([{ "role": "super_administrator" }])
        );
        // The IdP moves Alice to the UAE inside-sales group: the next login carries the new grant.
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |p| {
            p.attributes.retain(|(n, _)| n != "groups");
            p.attributes
                .push(("groups".into(), vec!["Sales-UAE-Inside".into()]));
        });
        let done =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                .unwrap();
        let tokens =
            w.gh.exchange_code(
                &browser(t0()),
                &secret(w),
                &code_of(&done.redirect_to),
                REDIRECT,
                None,
            )
            .unwrap();
        let intro =
            w.gh.introspect(&op(t0()), &secret(w), &tokens.access_token)
                .unwrap();
        assert_eq!(
            intro["grants"],
            serde_json::json!([{ "role": "sales_representative", "scopes": { "market": "UAE", "team": "UAE-inside-sales" } }])
        );
        let changes =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("user.roles_changed".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(changes.len(), 2, "first grant, then the change");
        // Dry run through the same rules.
        let view =
            w.gh.explain_roles(
                "acme",
                &ExplainInput {
                    connection: w.connection.id.clone(),
                    groups: vec!["Nobody".into()],
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(view.decision, "denied");
        assert_eq!(view.unmatched_groups, ["Nobody"]);
        assert!(w.gh.set_role_rules(&op(t0()), "acme", r#"{"version":1,"rules":[{"id":"x","condition":{"group":{"name":"A"}},"grants":[{"role":"r","scopes":{"undeclared":"v"}}]}]}"#).is_err());
    });
}

#[test]
fn a_deny_policy_refuses_people_no_rule_matches_and_creates_nobody() {
    each(|w| {
        w.gh.set_role_rules(&op(t0()), "acme", SEED_RULES).unwrap();
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "carol@acme.test", |p| {
            p.attributes.retain(|(n, _)| n != "groups");
            p.attributes
                .push(("groups".into(), vec!["Marketing".into()]));
        });
        let r =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
        assert_eq!(refused_to_app(r), "no_role_mapping");
        let created =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("user.created".into()),
                ..Default::default()
            })
            .unwrap();
        assert!(
            created.is_empty(),
            "{:?}: the refused login must not leave a user behind",
            w.engine
        );
    });
}

#[test]
fn with_jit_off_only_known_users_may_sign_in() {
    each(|w| {
        login(w); // Alice exists now.
        w.gh.update_saml_connection(
            &op(t0()),
            &w.connection.id,
            SamlConnectionUpdate {
                jit_enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
        login(w);
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "dave@acme.test", |_| {});
        let r =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
        assert_eq!(refused_to_app(r), "jit_disabled");
        // An operator pre-provisions Erin (admin API / CLI): her first login links to that user.
        let erin =
            w.gh.provision_user(
                &op(t0()),
                "acme",
                &NewUser {
                    email: "Erin@acme.test".into(),
                    first_name: Some("Erin".into()),
                    last_name: None,
                },
            )
            .unwrap();
        let twice = w.gh.provision_user(
            &op(t0()),
            "acme",
            &NewUser {
                email: "erin@ACME.test".into(),
                first_name: None,
                last_name: None,
            },
        );
        assert!(
            matches!(twice, Err(GatehouseError::Conflict { .. })),
            "{twice:?}"
        );
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "erin@acme.test", |_| {});
        let done =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                .unwrap();
        let tokens =
            w.gh.exchange_code(
                &browser(t0()),
                &secret(w),
                &code_of(&done.redirect_to),
                REDIRECT,
                None,
            )
            .unwrap();
        assert_eq!(
            jwt_claims(&tokens.id_token)["sub"],
            erin.id.as_str(),
            "{:?}",
            w.engine
        );
        assert!(w
            .gh
            .provision_user(
                &op(t0()),
                "acme",
                &NewUser {
                    email: "not-an-address".into(),
                    first_name: None,
                    last_name: None
                }
            )
            .is_err());
    });
}

#[test]
fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    each(|w| {
        let first = login(w);
        let second =
            w.gh.refresh(&browser(t0()), &secret(w), &first.refresh_token)
                .unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_ne!(second.access_token, first.access_token);
        // The session's life is in the audit trail: created at login, refreshed now.
        let sessions: Vec<&str> =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("session.*".into()),
                ..Default::default()
            })
            .unwrap()
            .iter()
            .map(|r| r.event.event_type())
            .collect();
        assert_eq!(
            sessions,
            ["session.created", "session.refreshed"],
            "{:?}",
            w.engine
        );
        let intro =
            w.gh.introspect(&op(t0()), &secret(w), &second.access_token)
                .unwrap();
        assert_eq!(intro["active"], true, "{:?}", w.engine);
        // Another client cannot use it.
        register_other_client(w);
        let other = other_secret();
        assert!(matches!(
            w.gh.refresh(&browser(t0()), &other, &second.refresh_token),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
        // Presenting the rotated token again is theft: the session ends for every token of it.
        assert!(matches!(
            w.gh.refresh(&browser(t0()), &secret(w), &first.refresh_token),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
        let intro =
            w.gh.introspect(&op(t0()), &secret(w), &second.access_token)
                .unwrap();
        assert_eq!(
            intro,
            serde_json::json!({ "active": false }),
            "{:?}",
            w.engine
        );
        assert!(
            w.gh.refresh(&browser(t0()), &secret(w), &second.refresh_token)
                .is_err(),
            "the session is over"
        );
        // It ended through the one revocation mechanism: audited with its reason, announced.
        assert_eq!(
            session_end_reasons(w),
            ["refresh_token_reuse"],
            "{:?}",
            w.engine
        );
        let revoked: Vec<_> =
            w.gh.events_since("acme", 0, 100)
                .unwrap()
                .into_iter()
                .filter(|e| e.event_type == "session.revoked")
                .collect();
        assert_eq!(revoked.len(), 1, "{:?}", w.engine);
        assert_eq!(revoked[0].data["reason"], "refresh_token_reuse");
    });
}

#[test]
fn a_jit_user_and_a_changed_profile_at_login_are_events_to_the_app() {
    each(|w| {
        login(w);
        login(w); // the same profile again: nothing changed, nothing to say
        let events = w.gh.events_since("acme", 0, 100).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["user.created"], "{:?}", w.engine);
        assert_eq!(events[0].data["source"], "jit");
        let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |p| {
            p.attributes.retain(|(n, _)| n != "groups");
            p.attributes.push(("groups".into(), vec!["Renamed".into()]));
        });
        w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
            .unwrap();
        let events = w.gh.events_since("acme", 1, 100).unwrap();
        assert_eq!(events.len(), 1, "{:?}", w.engine);
        assert_eq!(events[0].event_type, "user.updated");
        assert_eq!(events[0].data["source"], "login");
        assert_eq!(
            events[0].data["changed_fields"],
            serde_json::json!(["groups", "attributes"])
        );
        let updated =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("user.updated".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(updated.len(), 1, "{:?}", w.engine);
    });
}

#[test]
fn refresh_stops_when_the_session_expires() {
    each(|w| {
        let tokens = login(w);
        let late = browser(t0() + Duration::seconds(901));
        assert!(matches!(
            w.gh.refresh(&late, &secret(w), &tokens.refresh_token),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
    });
}

#[test]
fn a_changed_session_lifetime_is_what_the_next_login_gives_the_app() {
    each(|w| {
        let e = w.engine;
        let before = login(w);
        assert_eq!(before.expires_in, 900, "{e:?}: the default");
        // The operation behind PATCH /admin/v1/tenants/{tenant}.
        let update = TenantUpdate {
            session_lifetime_secs: Some(600),
            ..TenantUpdate::default()
        };
        let tenant = w.gh.update_tenant(&op(t0()), "acme", &update).unwrap();
        assert_eq!(tenant.session_lifetime_secs, 600);

        let tokens = login(w);
        assert_eq!(tokens.expires_in, 600, "{e:?}");
        let jwks =
            oidc_core::jose::Jwks::parse(w.gh.jwks(&op(t0())).unwrap().to_string().as_bytes())
                .unwrap();
        let id_token = oidc_core::jose::verify(
            &tokens.id_token,
            &jwks,
            &[oidc_core::jose::Algorithm::RS256],
            t0(),
            Duration::zero(),
        )
        .unwrap();
        let c = id_token.claims();
        assert_eq!(c["iat"], t0().timestamp(), "{e:?}");
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            600,
            "{e:?}: {c:?}"
        );
        let access =
            w.gh.introspect(&op(t0()), &secret(w), &tokens.access_token)
                .unwrap();
        assert_eq!(
            access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
            600,
            "{e:?}: {access}"
        );

        // The new session ends after 600 s; the one opened before the change keeps its 900 s.
        let later = browser(t0() + Duration::seconds(700));
        assert!(matches!(
            w.gh.refresh(&later, &secret(w), &tokens.refresh_token),
            Err(GatehouseError::OAuth {
                error: "invalid_grant",
                ..
            })
        ));
        let refreshed =
            w.gh.refresh(&later, &secret(w), &before.refresh_token)
                .unwrap();
        assert_eq!(refreshed.expires_in, 200, "{e:?}");
    });
}

// ---------- silent re-validation (prompt=none) and step-up (max_age, acr_values) ----------

fn authn_request_xml(redirect: &str) -> String {
    let decoded = decode_redirect(
        redirect.split_once('?').unwrap().1,
        &RedirectLimits::DEFAULT,
    )
    .unwrap();
    String::from_utf8(decoded.xml).unwrap()
}

fn app_error(result: Result<LoginCompleted>) -> (String, String) {
    match result {
        Err(GatehouseError::OAuthRedirect {
            redirect_uri,
            error,
            state,
            ..
        }) => {
            assert_eq!(redirect_uri, REDIRECT);
            (error.to_owned(), state.unwrap_or_default())
        }
        other => panic!("expected an error redirect to the app, got {other:?}"),
    }
}

fn last_failure_reason(w: &World) -> String {
    let records =
        w.gh.audit_events(&AuditEventFilter {
            tenant: "acme".into(),
            event_type: Some("login.failed".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .unwrap();
    let last = records.last().unwrap();
    serde_json::to_value(&last.event).unwrap()["reason_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn prompt_none_is_passive_upstream_and_no_idp_session_means_login_required() {
    each(|w| {
        // The IdP still has a session: a normal code, without any prompt.
        let url = authorize(w, &[("prompt", "none")]);
        assert!(authn_request_xml(&url).contains("IsPassive=\"true\""));
        assert!(!authn_request_xml(&url).contains("ForceAuthn=\"true\""));
        let (resp, relay) = idp_answer(w, &url, "alice@acme.test", |_| {});
        let done =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                .unwrap();
        code_of(&done.redirect_to);

        // Its session is gone: it answers NoPassive, and the app gets login_required + state.
        let url = authorize(w, &[("prompt", "none")]);
        let query = url.split_once('?').unwrap().1;
        let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
        let root = saml_core::xml::parse(&decoded.xml, &Default::default()).unwrap();
        let mut params =
            ResponseParams::new(&w.connection.acs_url, &w.connection.sp_entity_id, "x");
        params.in_response_to = Some(root.attr("ID").unwrap().to_owned());
        let xml = w
            .idp
            .status_response(
                &params,
                "urn:oasis:names:tc:SAML:2.0:status:Responder",
                Some(saml_core::response::STATUS_NO_PASSIVE),
                t0(),
                &mut FixedEntropy::new(next_seed()),
            )
            .unwrap();
        let result = w.gh.acs(
            &browser(t0()),
            &w.connection.id,
            &B64.encode(xml),
            decoded.relay_state.as_deref(),
        );
        assert_eq!(
            app_error(result),
            ("login_required".into(), "st4te".into()),
            "{:?}",
            w.engine
        );
        assert_eq!(last_failure_reason(w), "no_passive");

        // Without a way to pick the IdP, asking for an e-mail address would be a prompt.
        let p = pairs(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s2"),
            ("prompt", "none"),
        ]);
        match w.gh.authorize_pairs(&browser(t0()), &p) {
            Err(GatehouseError::OAuthRedirect { error, state, .. }) => {
                assert_eq!((error, state.as_deref()), ("login_required", Some("s2")));
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn max_age_forces_a_fresh_authentication_and_a_stale_one_is_refused() {
    each(|w| {
        let url = authorize(w, &[("max_age", "300")]);
        assert!(authn_request_xml(&url).contains("ForceAuthn=\"true\""));
        // The IdP ignored ForceAuthn: its AuthnInstant is an hour old.
        let (resp, relay) = idp_answer(w, &url, "alice@acme.test", |p| {
            p.authn_instant = Some(t0() - Duration::hours(1));
        });
        let result =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
        assert_eq!(app_error(result).0, "login_required", "{:?}", w.engine);
        assert_eq!(last_failure_reason(w), "max_age_exceeded");

        // A fresh one (within max_age) passes; auth_time is in the ID token.
        let url = authorize(w, &[("max_age", "300")]);
        let instant = t0() - Duration::seconds(100);
        let (resp, relay) = idp_answer(w, &url, "alice@acme.test", |p| {
            p.authn_instant = Some(instant);
        });
        let done =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                .unwrap();
        let tokens =
            w.gh.exchange_code(
                &browser(t0()),
                &secret(w),
                &code_of(&done.redirect_to),
                REDIRECT,
                None,
            )
            .unwrap();
        let claims = jwt_claims(&tokens.id_token);
        assert_eq!(claims["auth_time"], instant.timestamp());
    });
}

#[test]
fn acr_values_reach_the_idp_and_an_unmet_context_is_refused() {
    const MFA: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
    each(|w| {
        let url = authorize(w, &[("acr_values", MFA)]);
        let xml = authn_request_xml(&url);
        assert!(xml.contains("RequestedAuthnContext"), "{xml}");
        assert!(xml.contains(MFA), "{xml}");
        // The IdP authenticated with a password only.
        let (resp, relay) = idp_answer(w, &url, "alice@acme.test", |_| {});
        let result =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
        assert_eq!(app_error(result).0, "access_denied", "{:?}", w.engine);
        assert_eq!(last_failure_reason(w), "acr_not_satisfied");

        // With the requested context, the token says so: acr as asserted, amr derived from it.
        let url = authorize(w, &[("acr_values", MFA)]);
        let (resp, relay) = idp_answer(w, &url, "alice@acme.test", |p| {
            p.authn_context_class = MFA.into();
        });
        let done =
            w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())
                .unwrap();
        let tokens =
            w.gh.exchange_code(
                &browser(t0()),
                &secret(w),
                &code_of(&done.redirect_to),
                REDIRECT,
                None,
            )
            .unwrap();
        let claims = jwt_claims(&tokens.id_token);
        assert_eq!(claims["acr"], MFA);
        assert!(
            claims["amr"].as_array().unwrap().iter().any(|m| m == "mfa"),
            "{claims}"
        );
        assert_eq!(claims["auth_time"], t0().timestamp());
    });
}

fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

// ---------- logout: RP-initiated, SP-initiated SAML SLO, IdP-initiated SAML SLO ----------

const SIGNED_OUT: &str = "https://app.example.com/signed-out";
const IDP_SLO: &str = "https://idp.acme.test/slo";

fn with_slo(w: &World, binding: SsoBinding) {
    w.gh.update_saml_connection(
        &op(t0()),
        &w.connection.id,
        SamlConnectionUpdate {
            slo_url: Some(IDP_SLO.into()),
            slo_binding: Some(binding),
            ..Default::default()
        },
    )
    .unwrap();
}

fn slo_endpoint(w: &World) -> String {
    w.connection.acs_url.replace("/acs", "/slo")
}

fn introspect_active(w: &World, tokens: &TokenResponse) -> bool {
    w.gh.introspect(&op(t0()), &secret(w), &tokens.access_token)
        .unwrap()["active"]
        == true
}

fn session_of(w: &World, tokens: &TokenResponse) -> storage::models::Session {
    let sid = jwt_claims(&tokens.id_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    w.gh.store()
        .transaction(|c| storage::queries::find_session(c, &sid))
        .unwrap()
        .unwrap()
}

#[test]
fn rp_logout_ends_the_session_and_round_trips_saml_single_logout() {
    each(|w| {
        with_slo(w, SsoBinding::Redirect);
        let tokens = login(w);
        let session = session_of(w, &tokens);
        assert!(introspect_active(w, &tokens));
        let outcome =
            w.gh.end_session(
                &browser(t0()),
                pairs(&[
                    ("id_token_hint", tokens.id_token.as_str()),
                    ("post_logout_redirect_uri", SIGNED_OUT),
                    ("state", "bye1"),
                ]),
            )
            .unwrap();
        // Our side is over at once, whatever the IdP does next.
        assert!(!introspect_active(w, &tokens), "{:?}", w.engine);
        assert!(w
            .gh
            .refresh(&browser(t0()), &secret(w), &tokens.refresh_token)
            .is_err());
        // The browser carries our signed LogoutRequest to the IdP, naming the asserted subject.
        let LogoutOutcome::Redirect(url) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(url.starts_with(IDP_SLO), "{url}");
        let query = url.split_once('?').unwrap().1;
        assert!(query.contains("&Signature="));
        let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
        let xml = String::from_utf8(decoded.xml).unwrap();
        assert!(xml.contains("LogoutRequest"), "{xml}");
        assert!(xml.contains(">alice@acme.test</saml:NameID>"), "{xml}");
        assert!(xml.contains(&format!(
            "<samlp:SessionIndex>{}</samlp:SessionIndex>",
            session.idp_session_index.clone().unwrap()
        )));
        let root = saml_core::xml::parse(xml.as_bytes(), &Default::default()).unwrap();
        let request_id = root.attr("ID").unwrap().to_owned();

        // The IdP answers with a signed LogoutResponse; the browser lands on the app's URI.
        let response = saml_core::logout::LogoutResponse {
            id: saml_core::authn_request::RequestId::parse("_idp_resp_1").unwrap(),
            in_response_to: request_id,
            issue_instant: t0(),
            destination: slo_endpoint(w),
            issuer: "https://idp.acme.test".into(),
            status: saml_core::response::STATUS_SUCCESS.into(),
        };
        let back = w
            .idp
            .sign_for_redirect(
                saml_core::authn_request::MessageKind::Response,
                &slo_endpoint(w),
                &response.to_xml(),
                decoded.relay_state.as_deref(),
            )
            .unwrap();
        let query = back.split_once('?').unwrap().1;
        let done =
            w.gh.saml_slo(
                &browser(t0()),
                &w.connection.id,
                SloMessage::Redirect { query },
            )
            .unwrap();
        assert_eq!(
            done,
            LogoutOutcome::Redirect(format!("{SIGNED_OUT}?state=bye1")),
            "{:?}",
            w.engine
        );
        // The same response again is refused and audited.
        let again = w.gh.saml_slo(
            &browser(t0()),
            &w.connection.id,
            SloMessage::Redirect { query },
        );
        assert!(
            matches!(
                again,
                Err(GatehouseError::LoginFailed {
                    reason_code: "replay",
                    ..
                })
            ),
            "{again:?}"
        );
        let events = w.gh.events_since("acme", 0, 100).unwrap();
        let revoked = events
            .iter()
            .find(|e| e.event_type == "session.revoked")
            .unwrap();
        assert_eq!(revoked.data["reason"], "logout");
    });
}

#[test]
fn rp_logout_never_redirects_where_the_app_did_not_register_and_needs_a_genuine_hint() {
    each(|w| {
        let tokens = login(w);
        let refused = w.gh.end_session(
            &browser(t0()),
            pairs(&[
                ("id_token_hint", tokens.id_token.as_str()),
                ("post_logout_redirect_uri", "https://evil.example.com/"),
            ]),
        );
        assert!(
            matches!(
                refused,
                Err(GatehouseError::OAuth {
                    error: "invalid_request",
                    ..
                })
            ),
            "{refused:?}"
        );
        // A forged hint (payload swapped) ends nothing.
        let mut parts: Vec<&str> = tokens.id_token.split('.').collect();
        let forged_payload = {
            use base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let mut claims = jwt_claims(&tokens.id_token);
            claims["sub"] = "usr_someone_else".into();
            URL_SAFE_NO_PAD.encode(claims.to_string())
        };
        parts[1] = &forged_payload;
        let forged = parts.join(".");
        let refused =
            w.gh.end_session(&browser(t0()), pairs(&[("id_token_hint", forged.as_str())]));
        assert!(refused.is_err());
        assert!(introspect_active(w, &tokens), "{:?}", w.engine);
        // Another client's id next to the hint is refused.
        let refused = w.gh.end_session(
            &browser(t0()),
            pairs(&[
                ("id_token_hint", tokens.id_token.as_str()),
                ("client_id", "other"),
            ]),
        );
        assert!(refused.is_err());
        // Without SLO at the IdP: the session ends and the browser goes straight back.
        let done =
            w.gh.end_session(
                &browser(t0()),
                pairs(&[
                    ("id_token_hint", tokens.id_token.as_str()),
                    ("post_logout_redirect_uri", SIGNED_OUT),
                ]),
            )
            .unwrap();
        assert_eq!(done, LogoutOutcome::Redirect(SIGNED_OUT.into()));
        assert!(!introspect_active(w, &tokens));
        // No hint and no URI: nothing to end, a signed-out page.
        assert_eq!(
            w.gh.end_session(&browser(t0()), pairs(&[])).unwrap(),
            LogoutOutcome::SignedOut
        );
    });
}

#[test]
fn idp_initiated_slo_ends_the_named_sessions_and_answers_with_a_signed_response() {
    each(|w| {
        with_slo(w, SsoBinding::Post);
        let first = login(w);
        let second = login(w);
        let index = session_of(w, &first).idp_session_index.unwrap();
        let request = |id: &str, index: Option<String>| saml_core::logout::LogoutRequest {
            id: saml_core::authn_request::RequestId::parse(id).unwrap(),
            issue_instant: t0(),
            destination: slo_endpoint(w),
            issuer: "https://idp.acme.test".into(),
            name_id: saml_core::logout::NameId::new("alice@acme.test"),
            session_index: index,
        };
        // One session by its SessionIndex, over HTTP-POST.
        let post = w
            .idp
            .sign_for_post(&request("_idp_lr_1", Some(index)).to_xml(), "_idp_lr_1")
            .unwrap();
        let message = SloMessage::Post {
            saml_request: Some(&post),
            saml_response: None,
            relay_state: Some("idp-rs"),
        };
        let answer =
            w.gh.saml_slo(&browser(t0()), &w.connection.id, message)
                .unwrap();
        assert!(!introspect_active(w, &first), "{:?}", w.engine);
        assert!(introspect_active(w, &second), "the other session lives on");
        // The answer is a signed LogoutResponse posted back to the IdP, echoing RelayState.
        let LogoutOutcome::PostForm(html) = answer else {
            panic!("{answer:?}")
        };
        assert!(html.contains(IDP_SLO) && html.contains("SAMLResponse") && html.contains("idp-rs"));
        let b64 = html
            .split("name=\"SAMLResponse\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let xml = String::from_utf8(B64.decode(b64).unwrap()).unwrap();
        assert!(xml.contains("InResponseTo=\"_idp_lr_1\""), "{xml}");
        assert!(xml.contains(saml_core::response::STATUS_SUCCESS));
        assert!(
            xml.contains("<ds:SignatureValue>") || xml.contains("SignatureValue"),
            "{xml}"
        );

        // The same request again: refused as a replay, audited, nothing else happens.
        let replay = w.gh.saml_slo(&browser(t0()), &w.connection.id, message);
        assert!(
            matches!(
                replay,
                Err(GatehouseError::LoginFailed {
                    reason_code: "replay",
                    ..
                })
            ),
            "{replay:?}"
        );
        // Unsigned: refused.
        let unsigned = B64.encode(request("_idp_lr_2", None).to_xml());
        let refused = w.gh.saml_slo(
            &browser(t0()),
            &w.connection.id,
            SloMessage::Post {
                saml_request: Some(&unsigned),
                saml_response: None,
                relay_state: None,
            },
        );
        assert!(matches!(
            refused,
            Err(GatehouseError::LoginFailed {
                reason_code: "unsigned",
                ..
            })
        ));
        assert!(introspect_active(w, &second));
        let failures =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("logout.failed".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(failures.len(), 2, "{:?}", w.engine);

        // Without SessionIndex, over HTTP-Redirect: every session of the subject ends.
        let url = w
            .idp
            .sign_for_redirect(
                saml_core::authn_request::MessageKind::Request,
                &slo_endpoint(w),
                &request("_idp_lr_3", None).to_xml(),
                None,
            )
            .unwrap();
        w.gh.saml_slo(
            &browser(t0()),
            &w.connection.id,
            SloMessage::Redirect {
                query: url.split_once('?').unwrap().1,
            },
        )
        .unwrap();
        assert!(!introspect_active(w, &second));
        let reasons: Vec<Value> =
            w.gh.events_since("acme", 0, 100)
                .unwrap()
                .into_iter()
                .filter(|e| e.event_type == "session.revoked")
                .map(|e| e.data["reason"].clone())
                .collect();
        assert_eq!(reasons, [json!("idp_logout"), json!("idp_logout")]);
    });
}

// ---------- break-glass recovery links ----------

fn secret_of(issued: &RecoveryLinkIssued) -> String {
    issued.url.rsplit('/').next().unwrap().to_owned()
}

fn recovery_link(w: &World, user: &str, ttl: i64) -> RecoveryLinkIssued {
    w.gh.issue_recovery_link(
        &op(t0()),
        "acme",
        &NewRecoveryLink {
            user_id: user.into(),
            client_id: "app".into(),
            redirect_uri: REDIRECT.into(),
            reason: "INC-42: IdP certificate expired".into(),
            ttl_secs: Some(ttl),
        },
    )
    .unwrap()
}

fn refusal(r: Result<LoginCompleted>) -> &'static str {
    match r {
        Err(GatehouseError::LoginFailed { reason_code, .. }) => reason_code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_recovery_link_signs_a_designated_admin_in_once_and_is_audited() {
    each(|w| {
        let tokens = login(w);
        let admin = jwt_claims(&tokens.id_token)["sub"]
            .as_str()
            .unwrap()
            .to_owned();
        // Only designated SSO account admins can be given a link.
        let not_designated = w.gh.issue_recovery_link(
            &op(t0()),
            "acme",
            &NewRecoveryLink {
                user_id: admin.clone(),
                client_id: "app".into(),
                redirect_uri: REDIRECT.into(),
                reason: "INC-42".into(),
                ttl_secs: None,
            },
        );
        assert!(matches!(
            not_designated,
            Err(GatehouseError::InvalidInput {
                field: "user_id",
                ..
            })
        ));
        w.gh.add_recovery_admin(&op(t0()), "acme", &admin).unwrap();
        assert_eq!(w.gh.list_recovery_admins("acme").unwrap().len(), 1);

        let issued = recovery_link(w, &admin, 600);
        assert!(issued.url.contains("/recovery/ghb_"), "{}", issued.url);
        let link_secret = secret_of(&issued);
        let later = browser(t0() + Duration::seconds(30));
        let done = w.gh.use_recovery_link(&later, &link_secret).unwrap();
        let tokens =
            w.gh.exchange_code(
                &later,
                &secret(w),
                &code_of(&done.redirect_to),
                REDIRECT,
                None,
            )
            .unwrap();
        let claims = jwt_claims(&tokens.id_token);
        assert_eq!(claims["sub"], admin.as_str());
        assert_eq!(claims["amr"], json!(["recovery"]));
        assert_eq!(claims["idp"], "recovery");
        // Once only.
        assert_eq!(
            refusal(w.gh.use_recovery_link(&later, &link_secret)),
            "recovery_link_used"
        );
        assert_eq!(
            refusal(w.gh.use_recovery_link(&later, "ghb_nonsense")),
            "unknown_recovery_link"
        );

        let types: Vec<String> =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("breakglass.*".into()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|r| r.event.event_type().to_owned())
            .collect();
        assert_eq!(
            types,
            ["breakglass.issued", "breakglass.used"],
            "{:?}",
            w.engine
        );
        assert_eq!(last_failure_reason(w), "recovery_link_used");
    });
}

#[test]
fn recovery_links_expire_die_with_the_designation_and_cannot_be_used_twice_concurrently() {
    each(|w| {
        let tokens = login(w);
        let admin = jwt_claims(&tokens.id_token)["sub"]
            .as_str()
            .unwrap()
            .to_owned();
        w.gh.add_recovery_admin(&op(t0()), "acme", &admin).unwrap();
        // Expired.
        let short = recovery_link(w, &admin, 60);
        let late = browser(t0() + Duration::seconds(61));
        assert_eq!(
            refusal(w.gh.use_recovery_link(&late, &secret_of(&short))),
            "recovery_link_expired"
        );
        // Designation withdrawn after issue.
        let withdrawn = recovery_link(w, &admin, 600);
        w.gh.remove_recovery_admin(&op(t0()), "acme", &admin)
            .unwrap();
        assert_eq!(
            refusal(w.gh.use_recovery_link(&browser(t0()), &secret_of(&withdrawn))),
            "not_recovery_admin"
        );
        // Two browsers racing with the same link: exactly one gets in.
        w.gh.add_recovery_admin(&op(t0()), "acme", &admin).unwrap();
        let raced = secret_of(&recovery_link(w, &admin, 600));
        let wins: usize = std::thread::scope(|s| {
            let a = s.spawn(|| w.gh.use_recovery_link(&browser(t0()), &raced).is_ok());
            let b = s.spawn(|| w.gh.use_recovery_link(&browser(t0()), &raced).is_ok());
            usize::from(a.join().unwrap()) + usize::from(b.join().unwrap())
        });
        assert_eq!(wins, 1, "{:?}", w.engine);
        // Bounds on the lifetime and a reason are required.
        let bad = w.gh.issue_recovery_link(
            &op(t0()),
            "acme",
            &NewRecoveryLink {
                user_id: admin.clone(),
                client_id: "app".into(),
                redirect_uri: REDIRECT.into(),
                reason: "x".into(),
                ttl_secs: Some(86_400),
            },
        );
        assert!(matches!(
            bad,
            Err(GatehouseError::InvalidInput {
                field: "ttl_secs",
                ..
            })
        ));
        let unregistered = w.gh.issue_recovery_link(
            &op(t0()),
            "acme",
            &NewRecoveryLink {
                user_id: admin,
                client_id: "app".into(),
                redirect_uri: "https://evil.example.com/cb".into(),
                reason: "x".into(),
                ttl_secs: None,
            },
        );
        assert!(matches!(
            unregistered,
            Err(GatehouseError::InvalidInput {
                field: "redirect_uri",
                ..
            })
        ));
    });
}

/// ACS, then the code exchanged with `client_secret`.
fn login_with_secret(w: &World, client_secret: &str) -> Result<TokenResponse> {
    let (resp, relay) = idp_answer(w, &authorize(w, &[]), "alice@acme.test", |_| {});
    let done =
        w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref())?;
    let auth = ClientAuth::Secret {
        client_id: "app".into(),
        secret: client_secret.into(),
    };
    w.gh.exchange_code(
        &browser(t0()),
        &auth,
        &code_of(&done.redirect_to),
        REDIRECT,
        None,
    )
}

#[test]
fn apps_and_connections_changed_elsewhere_apply_once_heard_and_changed_here_at_once() {
    // Only PostgreSQL caches (SQLite has no change channel).
    let w = world(Engine::Postgres);
    let other_replica = facade(&w._db, next_seed());
    let mut listener =
        w.gh.open_change_listener()
            .unwrap()
            .expect("PostgreSQL listens");
    prove_listener(&w.gh, &mut listener, t0());
    login(&w); // the connection and the app are cached now

    // Another replica rotates the app's secret with no overlap. Until this one hears of it,
    // the old secret still works here (the bounded staleness); once heard, it is refused.
    let rotated = other_replica
        .rotate_client_secret(&op(t0()), "app", Duration::zero())
        .unwrap();
    assert!(
        login_with_secret(&w, &w.client_secret).is_ok(),
        "not heard yet"
    );
    pump_until_heard(&w.gh, &mut listener, t0());
    assert!(matches!(
        login_with_secret(&w, &w.client_secret),
        Err(GatehouseError::OAuth {
            error: "invalid_client",
            ..
        })
    ));
    let new_secret = rotated.client_secret.unwrap();
    assert!(login_with_secret(&w, &new_secret).is_ok());

    // A connection disabled elsewhere refuses logins here once heard.
    let (resp, relay) = idp_answer(&w, &authorize(&w, &[]), "alice@acme.test", |_| {});
    let disable = SamlConnectionUpdate {
        enabled: Some(false),
        ..Default::default()
    };
    other_replica
        .update_saml_connection(&op(t0()), &w.connection.id, disable)
        .unwrap();
    pump_until_heard(&w.gh, &mut listener, t0());
    let r =
        w.gh.acs(&browser(t0()), &w.connection.id, &resp, relay.as_deref());
    assert_eq!(login_failure(&w, r), "connection_disabled");
    let enable = SamlConnectionUpdate {
        enabled: Some(true),
        ..Default::default()
    };
    other_replica
        .update_saml_connection(&op(t0()), &w.connection.id, enable)
        .unwrap();
    pump_until_heard(&w.gh, &mut listener, t0());
    assert!(login_with_secret(&w, &new_secret).is_ok());

    // A change made here applies here at once, without hearing of it: no pump in between.
    let here =
        w.gh.rotate_client_secret(&op(t0()), "app", Duration::zero())
            .unwrap();
    assert!(matches!(
        login_with_secret(&w, &new_secret),
        Err(GatehouseError::OAuth {
            error: "invalid_client",
            ..
        })
    ));
    assert!(login_with_secret(&w, &here.client_secret.unwrap()).is_ok());
}
