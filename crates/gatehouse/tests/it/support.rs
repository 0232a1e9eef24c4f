//! Helpers every facade test module shares: the fixed clock, the IdP, the facade itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use chrono::{DateTime, TimeZone, Utc};
use gatehouse::{Gatehouse, GatehouseConfig, SecretBox};
use gatehouse_types::FixedEntropy;
use saml_core::idp::TestIdentityProvider;
use storage::testing::TestDatabase;

/// The app's registered redirect URI.
pub const REDIRECT: &str = "https://app.example.com/callback";

/// Every IdP response gets fresh ids (a repeated seed would be a replay); one counter for the
/// whole test binary.
pub fn next_seed() -> u64 {
    static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1000);
    SEED.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// The fixed "now" of every test.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

/// A test IdP with its own key, and the certificate PEM a connection must trust.
pub fn idp(entity_id: &str) -> (TestIdentityProvider, String) {
    let idp = TestIdentityProvider::generate(entity_id, t0(), 365, &[1]).unwrap();
    let pem = idp.certificate_pem().unwrap();
    (idp, pem)
}

/// The facade on `db`, with deterministic entropy.
pub fn facade(db: &TestDatabase, seed: u64) -> Gatehouse {
    let config = GatehouseConfig::new(
        "https://sso.example.com".parse().unwrap(),
        SecretBox::new([9; 32]),
    );
    Gatehouse::new(
        db.store().unwrap(),
        config,
        Box::new(FixedEntropy::new(seed)),
    )
}

/// The reason code of a sign-in the deployment's policy refused, asserting the app was told
/// with OIDC `access_denied` and the sentence the person can act on.
pub fn refused_to_app(result: gatehouse::Result<gatehouse::LoginCompleted>) -> &'static str {
    match result {
        Err(gatehouse::GatehouseError::OAuthRedirect {
            error, description, ..
        }) => {
            assert_eq!(error, "access_denied");
            ["jit_disabled", "no_role_mapping", "user_deactivated"]
                .into_iter()
                .find(|code| gatehouse::access_refusal_message(code) == Some(description.as_str()))
                .unwrap_or_else(|| panic!("unexpected description {description:?}"))
        }
        other => panic!("expected access_denied to the app, got {other:?}"),
    }
}

/// Change user `user_id` with `change` in a transaction of its own and keep it open while
/// `contender` runs on another thread; commit once the contender is seen waiting for a lock (or
/// after 10 s). Returns whether it waited, and its result. PostgreSQL only: the point is to
/// catch a write that would read around a concurrent change instead of waiting for it.
pub fn contend_with_user_change<T: Send>(
    db: &TestDatabase,
    user_id: &str,
    change: impl FnOnce(&mut storage::models::User) + Send,
    contender: impl FnOnce() -> T + Send,
) -> (bool, T) {
    let store = db.store().unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (changed, holding) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let store = &store;
        let holder = s.spawn(move || {
            store
                .transaction(|conn| {
                    let mut user = storage::queries::find_user(conn, user_id)?.unwrap();
                    change(&mut user);
                    storage::queries::update_user(conn, &user)?;
                    changed.send(()).unwrap();
                    released.recv().unwrap();
                    Ok::<_, storage::StorageError>(())
                })
                .unwrap();
        });
        holding.recv().unwrap();
        let contender = s.spawn(contender);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut waited = false;
        while !waited && std::time::Instant::now() < deadline {
            waited = storage::testing::waiting_lock_requests(store).unwrap() > 0;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Released either way, so a failing check is a failure and not a hang.
        release.send(()).unwrap();
        holder.join().unwrap();
        (waited, contender.join().unwrap())
    })
}

/// Pump `gh`'s change listener at `now` until it hears a change and has proven itself live
/// again, for at most five seconds of real time: notifications travel asynchronously.
pub fn pump_until_heard(
    gh: &Gatehouse,
    listener: &mut storage::ChangeListener,
    now: DateTime<Utc>,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut heard = 0;
    while heard == 0 || !gh.caching_live(now) {
        assert!(
            std::time::Instant::now() < deadline,
            "no change heard in 5 s"
        );
        heard += gh.pump_changes(listener, now).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Pump `gh`'s change listener at `now` until its ping has come back (at most five seconds).
pub fn prove_listener(gh: &Gatehouse, listener: &mut storage::ChangeListener, now: DateTime<Utc>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gh.caching_live(now) {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener's ping never came back"
        );
        gh.pump_changes(listener, now).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
