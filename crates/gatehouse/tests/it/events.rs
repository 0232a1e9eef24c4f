//! Revocation and events to the app, on SQLite and PostgreSQL: a revoked session is inactive at
//! once and the app hears about it through OIDC back-channel logout (a logout token verified
//! against the JWKS) and a signed webhook, delivered to a real HTTP receiver on 127.0.0.1;
//! failures are retried with backoff while later events wait; deliveries survive a restart;
//! apps can poll the events API from a cursor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{facade, idp, next_seed, t0, REDIRECT};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::Duration;
use gatehouse::*;
use gatehouse_types::FixedEntropy;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use saml_core::authn_request::{decode_redirect, RedirectLimits};
use saml_core::idp::{ResponseParams, TestIdentityProvider};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use storage::testing::{TestDatabase, ENGINES};
use storage::Engine;

// ---------- a recording HTTP receiver ----------

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP/1.1 server on 127.0.0.1 that records every request and answers with the next
/// scripted status (200 once the script is empty).
struct Receiver {
    base: String,
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let (l, s) = (log.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                let mut headers = HashMap::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    headers.insert(k.trim().to_lowercase(), v.trim().to_owned());
                }
                let len: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                l.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8(body).unwrap(),
                });
                let status = s.lock().unwrap().pop_front().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { base, log, script }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn fail_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
}

// ---------- a tenant with a SAML connection and an app ----------

fn at(secs: i64) -> Call {
    Call::operator(t0() + Duration::seconds(secs), "test")
}

fn op() -> Call {
    at(0)
}

fn browser() -> Call {
    Call {
        now: t0(),
        correlation_id: "corr-1".into(),
        actor: Actor::Browser,
    }
}

struct World {
    db: TestDatabase,
    gh: Gatehouse,
    idp: TestIdentityProvider,
    connection: SamlConnectionView,
    client_secret: String,
    rx: Receiver,
}

/// `backchannel`: whether the app registers a back-channel logout URI on the receiver.
fn world(engine: Engine, backchannel: bool) -> World {
    let db = TestDatabase::new(engine).unwrap();
    let gh = facade(&db, 1);
    let rx = Receiver::start();
    gh.ensure_signing_key(&op()).unwrap();
    let mut tenant = NewTenant::new("acme", "Acme");
    tenant.domains = vec!["acme.test".into()];
    gh.create_tenant(&op(), tenant).unwrap();
    let (idp, pem) = idp("https://idp.acme.test");
    let connection = gh
        .create_saml_connection(
            &op(),
            "acme",
            NewSamlConnection {
                name: "Acme IdP".into(),
                vendor: "okta".into(),
                idp: IdpSource::Manual {
                    entity_id: "https://idp.acme.test".into(),
                    sso_url: "https://idp.acme.test/sso".into(),
                    certificate_pem: pem,
                },
                allow_idp_initiated: false,
                default_client_id: None,
                default_redirect_uri: None,
                sign_requests: true,
                jit_enabled: true,
                attribute_mapping: None,
            },
        )
        .unwrap();
    let creds = gh
        .register_client(
            &op(),
            NewClient {
                name: "App".into(),
                redirect_uris: vec![REDIRECT.into()],
                public: false,
                backchannel_logout_uri: backchannel.then(|| rx.url("/backchannel")),
                client_id: Some("app".into()),
                client_secret: None,
            },
        )
        .unwrap();
    World {
        db,
        gh,
        idp,
        connection,
        client_secret: creds.client_secret.unwrap(),
        rx,
    }
}

fn secret(w: &World) -> ClientAuth {
    ClientAuth::Secret {
        client_id: "app".into(),
        secret: w.client_secret.clone(),
    }
}

/// A whole SAML login of `user`; returns the tokens and the session id.
fn login(w: &World, user: &str) -> (TokenResponse, String) {
    let p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st"),
        ("nonce", "n"),
        ("login_hint", user),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let redirect = match w.gh.authorize_pairs(&browser(), &p).unwrap() {
        AuthorizeOutcome::Redirect(url) => url,
        other => panic!("{other:?}"),
    };
    let query = redirect.split_once('?').unwrap().1;
    let decoded = decode_redirect(query, &RedirectLimits::DEFAULT).unwrap();
    let root = saml_core::xml::parse(&decoded.xml, &Default::default()).unwrap();
    let mut params = ResponseParams::new(&w.connection.acs_url, &w.connection.sp_entity_id, user);
    params.in_response_to = Some(root.attr("ID").unwrap().to_owned());
    params.attributes = vec![("email".into(), vec![user.to_lowercase()])];
    let xml = w
        .idp
        .response(&params, t0(), &mut FixedEntropy::new(next_seed()))
        .unwrap();
    let done =
        w.gh.acs(
            &browser(),
            &w.connection.id,
            &B64.encode(xml),
            decoded.relay_state.as_deref(),
        )
        .unwrap();
    let code = url::Url::parse(&done.redirect_to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens =
        w.gh.exchange_code(&browser(), &secret(w), &code, REDIRECT, None)
            .unwrap();
    (tokens, done.session_id)
}

fn active(w: &World, tokens: &TokenResponse) -> bool {
    w.gh.introspect(&op(), &secret(w), &tokens.access_token)
        .unwrap()["active"]
        == true
}

/// The receiver's check, written from docs/events.md alone (not with the facade's helper).
fn verify_webhook(secret: &str, r: &Received) -> Value {
    let header = &r.headers["gatehouse-signature"];
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let key = PKey::hmac(secret.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(format!("{t}.{}", r.body).as_bytes()).unwrap();
    let expected: String = signer
        .sign_to_vec()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "webhook signature");
    let event: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        r.headers["gatehouse-event-id"],
        event["id"].as_str().unwrap()
    );
    assert_eq!(r.headers["content-type"], "application/json");
    event
}

fn user_of(w: &World, session_id: &str) -> String {
    w.gh.store()
        .transaction(|c| storage::queries::find_session(c, session_id))
        .unwrap()
        .unwrap()
        .user_id
}

#[test]
fn revocation_is_immediate_and_the_app_gets_a_verifiable_logout_token_and_a_signed_webhook() {
    for engine in ENGINES {
        let w = world(engine, true);
        let hook =
            w.gh.create_webhook_endpoint(&op(), Some("acme"), &w.rx.url("/hooks"))
                .unwrap();
        assert!(hook.secret.starts_with("whsec_"));
        let (tokens, sid) = login(&w, "alice@acme.test");
        let user_id = user_of(&w, &sid);
        assert!(active(&w, &tokens));
        let sessions = w.gh.list_user_sessions(&user_id).unwrap();
        assert_eq!(sessions.len(), 1);
        assert!(sessions[0].revoked_at.is_none());

        w.gh.revoke_session(&op(), &sid, "laptop stolen").unwrap();
        // Inactive at once, before anything is delivered, and the token endpoint paths agree.
        assert!(!active(&w, &tokens), "{engine:?}");
        assert!(w.gh.userinfo(&op(), &tokens.access_token).is_err());
        let listed = w.gh.list_user_sessions(&user_id).unwrap();
        assert_eq!(listed[0].revoked_reason.as_deref(), Some("laptop stolen"));

        let started = Instant::now();
        assert_eq!(w.gh.deliver_due(&op(), 100).unwrap(), 2, "{engine:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));

        // Back-channel logout: a form post whose logout token verifies with the JWKS.
        let bc = w.rx.at("/backchannel");
        assert_eq!(bc.len(), 1, "{engine:?}");
        assert_eq!(
            bc[0].headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        let token = url::form_urlencoded::parse(bc[0].body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .unwrap()
            .1
            .into_owned();
        let jwks =
            oidc_core::jose::Jwks::parse(w.gh.jwks(&op()).unwrap().to_string().as_bytes()).unwrap();
        let verified = oidc_core::jose::verify(
            &token,
            &jwks,
            &[oidc_core::jose::Algorithm::RS256],
            t0(),
            Duration::zero(),
        )
        .unwrap();
        let c = verified.claims();
        assert_eq!(c["iss"], "https://sso.example.com");
        assert_eq!(c["aud"], "app");
        assert_eq!(c["sub"], user_id.as_str());
        assert_eq!(c["sid"], sid.as_str());
        assert_eq!(c["iat"], t0().timestamp());
        assert_eq!(c["exp"], t0().timestamp() + 120);
        assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
        assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
        assert!(c.get("nonce").is_none());

        // Webhook: signed as documented.
        let hooks = w.rx.at("/hooks");
        assert_eq!(hooks.len(), 1);
        let event = verify_webhook(&hook.secret, &hooks[0]);
        assert_eq!(event["type"], "session.revoked");
        assert_eq!(event["tenant_id"], hook.endpoint.tenant_id.clone().unwrap());
        assert_eq!(event["data"]["session_id"], sid.as_str());
        assert_eq!(event["data"]["user_id"], user_id.as_str());
        assert_eq!(event["data"]["reason"], "revoked");

        // Nothing is sent twice; revoking again changes nothing.
        assert_eq!(w.gh.deliver_due(&at(5), 100).unwrap(), 0);
        w.gh.revoke_session(&op(), &sid, "again").unwrap();
        assert_eq!(w.gh.deliver_due(&at(6), 100).unwrap(), 0);
        assert_eq!(w.rx.at("/hooks").len() + w.rx.at("/backchannel").len(), 2);

        // The events API holds the same event, from a cursor; the audit chain has the record.
        let events = w.gh.events_since("acme", 0, 100).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["session.revoked"], "{engine:?}");
        assert_eq!(events[0].seq, 1);
        assert_eq!(serde_json::to_value(&events[0]).unwrap(), event);
        assert!(w.gh.events_since("acme", 1, 100).unwrap().is_empty());
        let audit =
            w.gh.audit_events(&AuditEventFilter {
                tenant: "acme".into(),
                event_type: Some("session.terminated".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(w.gh.verify_audit_chain("acme").unwrap().map(|_| ()), Ok(()));
    }
}

#[test]
fn scim_deactivation_revokes_through_the_same_mechanism() {
    for engine in ENGINES {
        let w = world(engine, true);
        let d = w.gh.create_scim_directory(&op(), "acme", "Okta").unwrap();
        let issued = w.gh.issue_scim_token(&op(), &d.id).unwrap();
        let client = w.gh.authenticate_scim(t0(), &d.id, &issued.token).unwrap();
        let scim = Call {
            now: t0(),
            correlation_id: "scim-1".into(),
            actor: client.actor(),
        };
        let created =
            w.gh.scim_create(
                &scim,
                &client,
                ScimKind::User,
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "bob@acme.test",
                    "emails": [{"value": "bob@acme.test", "primary": true}]}),
            )
            .unwrap();
        let bob = created.body.unwrap()["id"].as_str().unwrap().to_owned();
        let (tokens, sid) = login(&w, "bob@acme.test");
        assert_eq!(user_of(&w, &sid), bob, "linked to the SCIM user");
        assert!(active(&w, &tokens));

        let r =
            w.gh.scim_patch(
                &scim,
                &client,
                ScimKind::User,
                &bob,
                &json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
                None,
            )
            .unwrap();
        assert_eq!(r.status, 200);
        assert!(!active(&w, &tokens), "{engine:?}");

        let started = Instant::now();
        assert_eq!(w.gh.deliver_due(&op(), 100).unwrap(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let bc = w.rx.at("/backchannel");
        assert_eq!(bc.len(), 1, "{engine:?}");
        assert!(bc[0].body.starts_with("logout_token="));

        let events = w.gh.events_since("acme", 0, 100).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            ["user.created", "user.deactivated", "session.revoked"],
            "{engine:?}"
        );
        assert_eq!(events[2].data["reason"], "user_deactivated");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        // Paging with the cursor.
        let page = w.gh.events_since("acme", 1, 1).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].event_type, "user.deactivated");
    }
}

fn delivery_rows(w: &World) -> Vec<storage::models::Delivery> {
    let events = w.gh.events_since("acme", 0, 1000).unwrap();
    w.gh.store()
        .transaction(|c| {
            let mut all = Vec::new();
            for e in &events {
                all.extend(storage::outbox::deliveries_of_event(c, &e.id)?);
            }
            Ok::<_, storage::StorageError>(all)
        })
        .unwrap()
}

#[test]
fn a_failing_receiver_is_retried_with_backoff_and_later_events_wait_their_turn() {
    for engine in ENGINES {
        let w = world(engine, false);
        let hook =
            w.gh.create_webhook_endpoint(&op(), None, &w.rx.url("/hooks"))
                .unwrap();
        let (_, first) = login(&w, "alice@acme.test");
        login(&w, "alice@acme.test");
        let user = user_of(&w, &first);
        let ended = w.gh.revoke_user_sessions(&op(), &user, "").unwrap();
        assert_eq!(ended.len(), 2);
        w.rx.fail_next(&[500, 503]);

        // t=0: the first event fails; the second is not attempted (ordering).
        assert_eq!(w.gh.deliver_due(&at(0), 100).unwrap(), 0);
        assert_eq!(w.rx.at("/hooks").len(), 1, "{engine:?}");
        let rows = delivery_rows(&w);
        assert_eq!(rows[0].attempts, 1);
        assert_eq!(rows[0].next_attempt_at, t0().timestamp() + 1);
        assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(rows[1].attempts, 0);
        // Not due yet: nothing happens.
        assert_eq!(w.gh.deliver_due(&at(0), 100).unwrap(), 0);
        assert_eq!(w.rx.at("/hooks").len(), 1);
        // t=1: second failure, next attempt 2 s later.
        assert_eq!(w.gh.deliver_due(&at(1), 100).unwrap(), 0);
        let rows = delivery_rows(&w);
        assert_eq!(rows[0].attempts, 2);
        assert_eq!(rows[0].next_attempt_at, t0().timestamp() + 3);
        assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(w.gh.deliver_due(&at(2), 100).unwrap(), 0);
        // t=3: delivered; only then does the second event go out.
        assert_eq!(w.gh.deliver_due(&at(3), 100).unwrap(), 1);
        assert_eq!(w.gh.deliver_due(&at(3), 100).unwrap(), 1);
        let got: Vec<Value> =
            w.rx.at("/hooks")
                .iter()
                .map(|r| verify_webhook(&hook.secret, r))
                .collect();
        let order: Vec<(&str, &str)> = got
            .iter()
            .map(|e| {
                (
                    e["data"]["session_id"].as_str().unwrap(),
                    e["type"].as_str().unwrap(),
                )
            })
            .collect();
        // Events are numbered in the order the sessions were ended.
        let (a, b) = (ended[0].as_str(), ended[1].as_str());
        assert_eq!(
            order,
            [
                (a, "session.revoked"),
                (a, "session.revoked"),
                (a, "session.revoked"),
                (b, "session.revoked"),
            ],
            "{engine:?}"
        );
        assert!(delivery_rows(&w).iter().all(|d| d.delivered_at.is_some()));
    }
}

#[test]
fn a_delivery_enqueued_before_a_restart_is_delivered_after_it() {
    for engine in ENGINES {
        let w = world(engine, true);
        let (tokens, sid) = login(&w, "alice@acme.test");
        w.gh.revoke_session(&op(), &sid, "").unwrap();
        let World { db, gh, rx, .. } = w;
        drop(gh); // the process dies before the worker ran
        let restarted = facade(&db, 2);
        assert_eq!(restarted.deliver_due(&at(1), 100).unwrap(), 1, "{engine:?}");
        assert_eq!(rx.at("/backchannel").len(), 1);
        let _ = tokens;
    }
}

#[test]
fn a_claimed_delivery_is_not_sent_by_another_replica() {
    for engine in ENGINES {
        let w = world(engine, true);
        let (_, sid) = login(&w, "alice@acme.test");
        w.gh.revoke_session(&op(), &sid, "").unwrap();
        let d = delivery_rows(&w).remove(0);
        // Replica A holds the lease (as if its POST were in flight).
        let now = t0().timestamp();
        assert!(w
            .gh
            .store()
            .transaction(|c| storage::outbox::claim_delivery(c, &d.id, now, now + 30))
            .unwrap());
        let replica = facade(&w.db, 3);
        assert_eq!(replica.deliver_due(&at(1), 100).unwrap(), 0, "{engine:?}");
        assert!(w.rx.at("/backchannel").is_empty());
        // After the lease lapses (A died), B delivers.
        assert_eq!(replica.deliver_due(&at(31), 100).unwrap(), 1);
        assert_eq!(w.rx.at("/backchannel").len(), 1);
    }
}

#[test]
fn webhook_endpoints_are_admin_objects_with_a_secret_shown_once() {
    for engine in ENGINES {
        let w = world(engine, false);
        assert!(w
            .gh
            .create_webhook_endpoint(&op(), Some("acme"), "http://example.com/hook")
            .is_err());
        assert!(matches!(
            w.gh.create_webhook_endpoint(&op(), Some("nope"), "https://example.com/hook"),
            Err(GatehouseError::NotFound { what: "tenant" })
        ));
        let a =
            w.gh.create_webhook_endpoint(&op(), Some("acme"), &w.rx.url("/a"))
                .unwrap();
        let listed = w.gh.list_webhook_endpoints().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, a.endpoint.id);
        assert!(!serde_json::to_string(&listed).unwrap().contains(&a.secret));
        // Deleting drops its pending deliveries: nothing is posted to it afterwards.
        let (_, sid) = login(&w, "alice@acme.test");
        w.gh.revoke_session(&op(), &sid, "").unwrap();
        w.gh.delete_webhook_endpoint(&op(), &a.endpoint.id).unwrap();
        assert_eq!(w.gh.deliver_due(&op(), 100).unwrap(), 0, "{engine:?}");
        assert!(w.rx.at("/a").is_empty());
        assert!(w.gh.list_webhook_endpoints().unwrap().is_empty());
        assert!(matches!(
            w.gh.delete_webhook_endpoint(&op(), &a.endpoint.id),
            Err(GatehouseError::NotFound { .. })
        ));
    }
}
