//! The generator's login steps against the facade in-process (no HTTP): setup, authorize,
//! the IdP's answer, ACS, code exchange and ID-token verification, on both engines.

use super::*;
use gatehouse::{AuthorizeOutcome, ClientAuth, SecretBox};
use gatehouse_types::FixedEntropy;
use storage::testing::TestDatabase;
use storage::Engine;

fn facade(db: &TestDatabase) -> Gatehouse {
    let store = storage::Store::open(&db.url).unwrap();
    let config = GatehouseConfig::new(
        "http://127.0.0.1:8080".parse().unwrap(),
        SecretBox::new([7; 32]),
    );
    Gatehouse::new(store, config, Box::new(FixedEntropy::new(3)))
}

fn whole_login_through_the_facade(engine: Engine) {
    let db = TestDatabase::new(engine).unwrap();
    let gh = facade(&db);
    let at: chrono::DateTime<chrono::Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let call = Call::operator(at, "test");
    gh.ensure_signing_key(&call).unwrap();
    let load_idp = idp::LoadIdp::generate("http://127.0.0.1/loadtest/idp/t", at, &[1; 16]).unwrap();
    let target = setup::setup(&gh, &load_idp, "t1", 2, &call).unwrap();
    assert_eq!(target.tenants.len(), 2);
    let keys = idtoken::Keys::from_jwks(&gh.jwks(&call).unwrap()).unwrap();
    let mut entropy = FixedEntropy::new(9);
    // Three logins over two users: the first login of each user creates it, the third is a
    // returning user in the first tenant.
    for i in 0..3 {
        let (tenant, person) = flow::person(&target, i, 2);
        assert_eq!(tenant, i % 2);
        let (state, nonce) = (format!("st{i}"), format!("no{i}"));
        let pairs = flow::authorize_pairs(&target, &person.email, &state, &nonce);
        let browser = Call {
            actor: gatehouse::Actor::Browser,
            ..call.clone()
        };
        let AuthorizeOutcome::Redirect(redirect) = gh.authorize_pairs(&browser, &pairs).unwrap()
        else {
            panic!("login_hint should route to the tenant's connection");
        };
        let p = flow::prepare(
            &load_idp,
            &target,
            tenant,
            &person,
            state,
            nonce,
            &redirect,
            at,
            &mut entropy,
        )
        .unwrap();
        let t = &target.tenants[tenant];
        let done = gh
            .acs(
                &browser,
                &t.connection_id,
                &p.saml_response,
                Some(&p.relay_state),
            )
            .unwrap();
        let code =
            flow::code_from_location(&done.redirect_to, &target.redirect_uri, &p.state).unwrap();
        let auth = ClientAuth::Secret {
            client_id: target.client_id.clone(),
            secret: target.client_secret.clone(),
        };
        let tokens = gh
            .exchange_code(&call, &auth, &code, &target.redirect_uri, None)
            .unwrap();
        let expected = idtoken::Expected {
            issuer: &target.issuer,
            audience: &target.client_id,
            nonce: &p.nonce,
            email: &p.email,
            tenant: &t.slug,
        };
        let claims = idtoken::verify(&keys, &tokens.id_token, &expected).unwrap();
        assert_eq!(
            claims["groups"].as_array().map(Vec::len),
            Some(10),
            "{claims}"
        );
        // A wrong expectation must fail: the check is not vacuous.
        let wrong = idtoken::Expected {
            nonce: "other",
            ..expected.clone()
        };
        assert!(idtoken::verify(&keys, &tokens.id_token, &wrong).is_err());
        // The same prepared response cannot be used twice (replay cache, flow consumed).
        assert!(gh
            .acs(
                &browser,
                &t.connection_id,
                &p.saml_response,
                Some(&p.relay_state)
            )
            .is_err());
    }
}

#[test]
fn whole_login_through_the_facade_sqlite() {
    whole_login_through_the_facade(Engine::Sqlite);
}

#[test]
fn whole_login_through_the_facade_postgres() {
    whole_login_through_the_facade(Engine::Postgres);
}

#[test]
fn tampered_id_token_signature_is_refused() {
    let db = TestDatabase::sqlite().unwrap();
    let gh = facade(&db);
    let call = Call::operator("2026-11-23T10:00:00Z".parse().unwrap(), "test");
    gh.ensure_signing_key(&call).unwrap();
    let keys = idtoken::Keys::from_jwks(&gh.jwks(&call).unwrap()).unwrap();
    let expected = idtoken::Expected {
        issuer: "i",
        audience: "a",
        nonce: "n",
        email: "e",
        tenant: "t",
    };
    for token in [
        "",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJub25lIn0.e30.",
        "eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
    ] {
        assert!(idtoken::verify(&keys, token, &expected).is_err(), "{token}");
    }
}

#[test]
fn only_loopback_servers_are_driven() {
    for ok in [
        "http://127.0.0.1:8080",
        "http://[::1]:9000",
        "http://localhost:1",
    ] {
        assert!(check_loopback(&ok.parse().unwrap()).is_ok(), "{ok}");
    }
    for bad in [
        "http://10.0.0.1:8080",
        "https://127.0.0.1",
        "http://example.com",
    ] {
        assert!(check_loopback(&bad.parse().unwrap()).is_err(), "{bad}");
    }
}

#[test]
fn run_parallel_keeps_order_and_runs_every_index_once() {
    let calls = AtomicUsize::new(0);
    let out = run_parallel(100, 7, |i, _| {
        calls.fetch_add(1, Ordering::Relaxed);
        if i == 42 {
            Err(anyhow::anyhow!("boom"))
        } else {
            Ok(i * 2)
        }
    });
    assert_eq!(calls.load(Ordering::Relaxed), 100);
    assert_eq!(out.len(), 100);
    for (i, r) in out.iter().enumerate() {
        match r {
            Ok(v) => assert_eq!(*v, i * 2),
            Err(_) => assert_eq!(i, 42),
        }
    }
    let err = collect_ok(out, "phase").unwrap_err();
    assert!(format!("{err:#}").contains("1 of 100 failed"), "{err:#}");
}
