//! Storage behaviour that the facade relies on, checked on SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use storage::models::*;
use storage::queries;
use storage::testing::{TestDatabase, ENGINES};
use storage::{Engine, StorageError};

fn tenant(id: &str, slug: &str) -> Tenant {
    Tenant {
        id: id.into(),
        slug: slug.into(),
        display_name: slug.into(),
        external_id: None,
        parent_id: None,
        session_lifetime_secs: 900,
        created_at: 1,
    }
}

fn each_engine(test: impl Fn(Engine, storage::Store)) {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        test(engine, db.store().unwrap());
    }
}

#[test]
fn duplicate_slug_is_a_conflict_and_rolls_back_the_whole_transaction() {
    each_engine(|engine, store| {
        store
            .transaction(|c| queries::insert_tenant(c, &tenant("t1", "acme")))
            .unwrap();
        let r: Result<(), StorageError> = store.transaction(|c| {
            queries::insert_tenant(c, &tenant("t2", "globex"))?;
            queries::insert_tenant(c, &tenant("t3", "acme"))
        });
        assert!(
            matches!(r, Err(StorageError::Conflict { .. })),
            "{engine:?}: {r:?}"
        );
        let all = store.transaction(queries::list_tenants).unwrap();
        assert_eq!(
            all.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(),
            ["acme"],
            "{engine:?}"
        );
    });
}

#[test]
fn replay_cache_accepts_a_key_once() {
    each_engine(|engine, store| {
        assert!(
            store
                .transaction(|c| queries::remember_once(c, "conn|_a1", 100))
                .unwrap(),
            "{engine:?}"
        );
        assert!(
            !store
                .transaction(|c| queries::remember_once(c, "conn|_a1", 100))
                .unwrap(),
            "{engine:?}"
        );
        assert_eq!(
            store
                .transaction(|c| queries::purge_expired(c, 101))
                .unwrap(),
            1
        );
    });
}

#[test]
fn replay_is_rejected_through_a_second_store_on_the_same_database() {
    // Two stores stand for two server replicas sharing one database.
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let (a, b) = (db.store().unwrap(), db.store().unwrap());
        assert!(a
            .transaction(|c| queries::remember_once(c, "k", 10))
            .unwrap());
        assert!(
            !b.transaction(|c| queries::remember_once(c, "k", 10))
                .unwrap(),
            "{engine:?}"
        );
    }
}

#[test]
fn migrate_is_idempotent() {
    each_engine(|engine, store| {
        assert!(store.migrate().unwrap().is_empty(), "{engine:?}");
    });
}

#[test]
fn a_connection_killed_by_the_server_is_replaced_after_one_failure() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let db = TestDatabase::new(Engine::Postgres).unwrap();
    let store = storage::Store::open_with_pool_size(&db.url, 1).unwrap();
    store.transaction(queries::list_tenants).unwrap();
    // Another session kills every backend of this database (a PostgreSQL restart looks the same).
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let mut admin = diesel::PgConnection::establish(&format!(
        "{}/postgres",
        storage::testing::postgres_admin_url()
    ))
    .unwrap();
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .unwrap();
    // The dead connection fails once, is marked broken, and the pool opens a fresh one.
    assert!(store.transaction(queries::list_tenants).is_err());
    store.transaction(queries::list_tenants).unwrap();
}

#[test]
fn autovacuum_is_read_on_postgresql_and_absent_on_sqlite() {
    each_engine(|engine, store| {
        let setting = store.autovacuum_enabled().unwrap();
        match engine {
            Engine::Postgres => assert!(setting.is_some()),
            Engine::Sqlite => assert_eq!(setting, None),
        }
    });
}

/// The journal's heads: the newest audit record and the last event number of a tenant, read
/// together; a tenant without either has neither.
#[test]
fn journal_heads_are_the_newest_record_and_the_last_event_number() {
    each_engine(|engine, store| {
        store
            .transaction(|conn| queries::insert_tenant(conn, &tenant("t1", "acme")))
            .unwrap();
        let empty = store
            .transaction(|conn| queries::journal_heads(conn, "t1"))
            .unwrap();
        assert_eq!(empty, (None, None), "{engine:?}");
        let row = |seq: i64| AuditRow {
            tenant_id: "t1".into(),
            seq,
            at: 1,
            event_type: "admin.action".into(),
            actor: "system:test".into(),
            target: None,
            correlation_id: "c".into(),
            record: format!("record {seq}"),
            hash: format!("hash {seq}"),
        };
        let event = |seq: i64| OutboxEvent {
            id: format!("evt_t1_{seq}"),
            tenant_id: "t1".into(),
            seq,
            event_type: "user.created".into(),
            payload: "{}".into(),
            created_at: 1,
        };
        store
            .transaction(|conn| {
                queries::insert_audit_rows(conn, &[row(1), row(2), row(3)])?;
                storage::outbox::insert_events(conn, &[event(1), event(2)])
            })
            .unwrap();
        let heads = store
            .transaction(|conn| queries::journal_heads(conn, "t1"))
            .unwrap();
        assert_eq!(heads, (Some("record 3".into()), Some(2)), "{engine:?}");
    });
}
