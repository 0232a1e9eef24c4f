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
                .transaction(|c| queries::purge_expired(c, 101, 101))
                .unwrap(),
            1
        );
    });
}

/// The login's replay check is one statement without a transaction around it: it commits on
/// its own, a refused second use leaves the connection usable (no aborted transaction on
/// PostgreSQL), and what it remembered stands even though nothing else happens.
#[test]
fn a_single_statement_write_commits_on_its_own() {
    each_engine(|engine, store| {
        // The pool hands the same few connections out again: one left in an aborted
        // transaction would fail a later call.
        let first = store.write_one(|c| queries::remember_once(c, "conn|_a2", 100));
        assert!(first.unwrap(), "{engine:?}");
        for _ in 0..3 {
            let again = store.write_one(|c| queries::remember_once(c, "conn|_a2", 100));
            assert!(!again.unwrap(), "{engine:?}");
        }
        let other = store.write_one(|c| queries::remember_once(c, "conn|_a3", 100));
        assert!(other.unwrap(), "{engine:?}");
        assert_eq!(
            store
                .transaction(|c| queries::purge_expired(c, 101, 101))
                .unwrap(),
            2,
            "{engine:?}"
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

fn audit_row(tenant_id: &str, seq: i64) -> AuditRow {
    AuditRow {
        tenant_id: tenant_id.into(),
        seq,
        at: 1,
        event_type: "admin.action".into(),
        actor: "system:test".into(),
        target: None,
        correlation_id: "c".into(),
        record: format!("record {seq}"),
        hash: format!("hash {seq}"),
    }
}

/// Event `seq` of tenant `t1`.
fn event(seq: i64) -> OutboxEvent {
    OutboxEvent {
        id: format!("evt_t1_{seq}"),
        tenant_id: "t1".into(),
        seq,
        event_type: "user.created".into(),
        payload: "{}".into(),
        created_at: 1,
    }
}

fn endpoint(id: &str, tenant_id: Option<&str>, enabled: bool) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.into(),
        tenant_id: tenant_id.map(str::to_owned),
        url: format!("https://hooks.example.com/{id}"),
        secret: "sealed".into(),
        enabled,
        created_at: 1,
    }
}

/// Opening a journal reads its heads: the newest audit record, the last event number, and the
/// enabled endpoints that receive the tenant's events (its own and every-tenant ones, by id);
/// a tenant without any has none.
#[test]
fn an_opened_journal_shows_its_heads_and_receivers() {
    each_engine(|engine, store| {
        store
            .transaction(|conn| {
                queries::insert_tenant(conn, &tenant("t1", "acme"))?;
                queries::insert_tenant(conn, &tenant("t2", "globex"))
            })
            .unwrap();
        let empty = store
            .transaction(|conn| queries::open_tenant_journal(conn, "t1"))
            .unwrap();
        assert_eq!(empty, queries::JournalHeads::default(), "{engine:?}");
        store
            .transaction(|conn| {
                queries::insert_audit_rows(
                    conn,
                    &[audit_row("t1", 1), audit_row("t1", 2), audit_row("t1", 3)],
                )?;
                storage::outbox::insert_events(conn, &[event(1), event(2)])?;
                for e in [
                    endpoint("wh_b", Some("t1"), true),
                    endpoint("wh_a", None, true),
                    endpoint("wh_c", Some("t1"), false),
                    endpoint("wh_d", Some("t2"), true),
                ] {
                    storage::outbox::insert_webhook_endpoint(conn, &e)?;
                }
                Ok::<_, StorageError>(())
            })
            .unwrap();
        let heads = store
            .transaction(|conn| queries::open_tenant_journal(conn, "t1"))
            .unwrap();
        let receiver = |id: &str| (id.to_owned(), format!("https://hooks.example.com/{id}"));
        assert_eq!(
            heads,
            queries::JournalHeads {
                last_record: Some("record 3".into()),
                last_seq: Some(2),
                receivers: vec![receiver("wh_a"), receiver("wh_b")],
            },
            "{engine:?}"
        );
    });
}

/// A writer that waited for a tenant's journal lock reads the heads its predecessor committed,
/// not the ones from before it waited: on PostgreSQL, lock and reads are one round trip, and
/// the reads must still run on a snapshot taken after the lock was granted (else two writers
/// would seal onto the same head and the second would fail on the `(tenant_id, seq)` key).
#[test]
fn a_writer_that_waited_for_the_journal_lock_sees_what_its_predecessor_committed() {
    let db = TestDatabase::new(Engine::Postgres).unwrap();
    let store = db.store().unwrap();
    store
        .transaction(|conn| queries::insert_audit_rows(conn, &[audit_row("t1", 1)]))
        .unwrap();
    let (holding, hold) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let first = {
        let store = db.store().unwrap();
        std::thread::spawn(move || {
            store
                .transaction(|conn| {
                    let heads = queries::open_tenant_journal(conn, "t1")?;
                    assert_eq!(heads.last_record.as_deref(), Some("record 1"));
                    queries::insert_audit_rows(conn, &[audit_row("t1", 2)])?;
                    holding.send(()).unwrap();
                    released.recv().unwrap();
                    Ok::<_, StorageError>(())
                })
                .unwrap();
        })
    };
    hold.recv().unwrap();
    let second = {
        let store = db.store().unwrap();
        std::thread::spawn(move || {
            store
                .transaction(|conn| queries::open_tenant_journal(conn, "t1"))
                .unwrap()
        })
    };
    // Release the first writer only once the second is seen waiting for the lock: its
    // statement then began before the first commit.
    let waiting = || {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        store
            .read(|conn| match conn {
                storage::AnyConnection::Postgresql(pg) => diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_locks \
                     WHERE locktype = 'advisory' AND NOT granted AND database = \
                     (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .get_result::<Count>(pg)
                .map_err(StorageError::from),
                storage::AnyConnection::Sqlite(_) => unreachable!("a PostgreSQL test"),
            })
            .unwrap()
            .n
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while waiting() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second writer never waited for the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    release.send(()).unwrap();
    first.join().unwrap();
    let heads = second.join().unwrap();
    assert_eq!(heads.last_record.as_deref(), Some("record 2"));
}

/// A journal's audit records, events and deliveries go in together (on PostgreSQL as one
/// statement, whose foreign keys are checked after all three inserts, so a delivery may
/// reference an event inserted beside it), and a journal too large for one statement's
/// parameters goes in as well.
#[test]
fn a_journal_is_inserted_whole_however_large() {
    each_engine(|engine, store| {
        store
            .transaction(|conn| {
                queries::insert_tenant(conn, &tenant("t1", "acme"))?;
                storage::outbox::insert_webhook_endpoint(conn, &endpoint("wh_a", None, true))
            })
            .unwrap();
        let delivery = |seq: i64| Delivery {
            id: format!("dlv_evt_t1_{seq}_webhook_wh_a"),
            event_id: format!("evt_t1_{seq}"),
            tenant_id: "t1".into(),
            seq,
            target_kind: "webhook".into(),
            target_id: "wh_a".into(),
            url: "https://hooks.example.com/wh_a".into(),
            attempts: 0,
            next_attempt_at: 1,
            delivered_at: None,
            last_error: None,
            locked_until: None,
        };
        store
            .transaction(|conn| {
                queries::insert_journal(conn, &[audit_row("t1", 1)], &[event(1)], &[delivery(1)])
            })
            .unwrap();
        // 7,400 records are 66,600 parameters: more than one PostgreSQL statement takes.
        let many: Vec<AuditRow> = (2..7_402).map(|seq| audit_row("t1", seq)).collect();
        store
            .transaction(|conn| queries::insert_journal(conn, &many, &[event(2)], &[delivery(2)]))
            .unwrap();
        let heads = || {
            store
                .transaction(|conn| queries::open_tenant_journal(conn, "t1"))
                .unwrap()
        };
        assert_eq!(
            heads().last_record.as_deref(),
            Some("record 7401"),
            "{engine:?}"
        );
        assert_eq!(heads().last_seq, Some(2), "{engine:?}");
        let delivered = store
            .transaction(|conn| storage::outbox::deliveries_of_event(conn, "evt_t1_2"))
            .unwrap();
        assert_eq!(delivered, [delivery(2)], "{engine:?}");
        // A delivery of an event that does not exist is refused, in the same statement.
        let orphan = store.transaction(|conn| {
            queries::insert_journal(conn, &[audit_row("t1", 7_402)], &[], &[delivery(9)])
        });
        assert!(orphan.is_err(), "{engine:?}");
        assert_eq!(
            heads().last_record.as_deref(),
            Some("record 7401"),
            "{engine:?}: rolled back"
        );
    });
}

/// A new PostgreSQL database with the tenant `t1`, and a store on it.
fn postgres_with_tenant_t1() -> (TestDatabase, storage::Store) {
    let db = TestDatabase::new(Engine::Postgres).unwrap();
    let store = db.store().unwrap();
    store
        .transaction(|conn| queries::insert_tenant(conn, &tenant("t1", "acme")))
        .unwrap();
    (db, store)
}

/// A page of the audit trail in a time window walks the chain in `seq` order to the page's
/// limit. Planned generically (the store's default), the two-sided time range looked tiny and
/// PostgreSQL read the whole window through the time index and sorted it; listing and counting
/// with a window plan for their values.
#[test]
fn an_audit_page_in_a_time_window_walks_the_chain_to_its_limit() {
    let (db, store) = postgres_with_tenant_t1();
    db.execute(
        "INSERT INTO audit_log (tenant_id, seq, at, event_type, actor, correlation_id, record, hash) \
         SELECT 't1', n, 1000 + n, 'admin.action', 'system:test', 'c', repeat('r', 700), 'hash' \
         FROM generate_series(1, 20000) AS n",
    )
    .unwrap();
    db.execute("ANALYZE audit_log").unwrap();
    let window = queries::AuditFilter {
        tenant_id: "t1".into(),
        from: Some(0),
        to: Some(1_000_000),
        limit: 100,
        ..Default::default()
    };
    let plan = store
        .transaction(|conn| {
            let page = queries::list_audit_rows(conn, &window)?;
            assert_eq!(page.len(), 100);
            assert_eq!(page[0].seq, 1);
            // The statement diesel sent: tenant, after-seq, from, to, limit.
            explain_prepared(
                conn,
                r#""audit_log"."at" >= $3"#,
                "('t1', 0, 0, 1000000, 100)",
            )
        })
        .unwrap();
    assert!(plan.contains("audit_log_pkey"), "{plan}");
    assert!(!plan.contains("Sort"), "{plan}");
}

/// A directory created since the last ANALYZE is, to PostgreSQL's statistics, empty. A plan
/// made for its id then scans it by the directory index alone (it "has no rows") instead of
/// probing the userName or primary-key index, and an initial sync into a new tenant on a big
/// database slowed to milliseconds per lookup. The store's connections plan generically, from
/// the number of directories, which no new directory can mislead.
#[test]
fn lookups_in_a_directory_newer_than_the_statistics_probe_their_index() {
    let (db, store) = postgres_with_tenant_t1();
    let users = |directory: &str| {
        format!(
            "INSERT INTO users (id, tenant_id, external_subject, created_at, updated_at, \
             directory_id, user_name, user_name_lower) \
             SELECT '{directory}_' || n, 't1', '{directory}_' || n, n, n, '{directory}', \
             'user' || n || '@{directory}', 'user' || n || '@{directory}' \
             FROM generate_series(1, 3000) AS n"
        )
    };
    db.execute(&users("dir_old")).unwrap();
    db.execute("ANALYZE users").unwrap();
    db.execute(&users("dir_new")).unwrap();

    // The very statements the SCIM code sends: run each once, then explain the statement diesel
    // prepared for it on that connection.
    let (lookup, members) = store
        .transaction(|conn| {
            let user_name = storage::scim::Cond::Test {
                field: storage::scim::UserField::UserName,
                op: storage::scim::Op::Eq,
                value: storage::scim::Lit::Text("user7@dir_new".into()),
            };
            let page = storage::scim::Page {
                sort_by: None,
                descending: false,
                offset: 0,
                limit: 100,
            };
            let (total, found) =
                storage::scim::search_users(conn, "dir_new", Some(&user_name), &page)?;
            assert_eq!((total, found.len()), (1, 1));
            let ids = ["dir_new_1".to_owned(), "dir_old_1".to_owned()];
            let members = storage::scim::existing_directory_users(conn, "dir_new", &ids)?;
            assert_eq!(members, ["dir_new_1"]);
            let lookup = explain_prepared(
                conn,
                r#""users"."user_name_lower" = $2"#,
                "('dir_new', 'user7@dir_new', 100, 0)",
            )?;
            let members = explain_prepared(
                conn,
                r#""users"."id" = ANY($2)"#,
                "('dir_new', ARRAY['dir_new_1', 'dir_old_1'])",
            )?;
            Ok::<_, StorageError>((lookup, members))
        })
        .unwrap();
    assert!(lookup.contains("users_directory_user_name"), "{lookup}");
    assert!(members.contains("users_pkey"), "{members}");
}

/// `EXPLAIN EXECUTE` of the statement this connection has prepared whose text contains
/// `fragment`, with `arguments`.
fn explain_prepared(
    conn: &mut storage::Conn,
    fragment: &str,
    arguments: &str,
) -> Result<String, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }
    use diesel::RunQueryDsl;
    let storage::AnyConnection::Postgresql(pg) = conn else {
        unreachable!("a PostgreSQL test")
    };
    let prepared: Vec<Prepared> = diesel::sql_query(
        "SELECT name FROM pg_prepared_statements WHERE strpos(statement, $1) > 0",
    )
    .bind::<diesel::sql_types::Text, _>(fragment)
    .load(pg)?;
    assert_eq!(prepared.len(), 1, "one prepared statement with {fragment}");
    let name = &prepared[0].name;
    let lines: Vec<Line> =
        diesel::sql_query(format!(r#"EXPLAIN EXECUTE "{name}"{arguments}"#)).load(pg)?;
    Ok(lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `insert_journal` counts one bound parameter per column and row to stay under PostgreSQL's
/// limit; a column added to a journal table must be counted too.
#[test]
fn the_journal_column_counts_match_the_schema() {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel::RunQueryDsl;
    let db = TestDatabase::new(Engine::Postgres).unwrap();
    let store = db.store().unwrap();
    for (table, columns) in queries::JOURNAL_COLUMNS {
        let found = store
            .transaction(|conn| match conn {
                storage::AnyConnection::Postgresql(pg) => diesel::sql_query(
                    "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = $1",
                )
                .bind::<diesel::sql_types::Text, _>(table)
                .get_result::<Count>(pg)
                .map_err(StorageError::from),
                storage::AnyConnection::Sqlite(_) => unreachable!("a PostgreSQL test"),
            })
            .unwrap();
        assert_eq!(usize::try_from(found.n).unwrap(), columns, "{table}");
    }
}

/// The journal's reads are fresh only under READ COMMITTED (each statement its own snapshot);
/// a transaction at a stricter level (a role's `default_transaction_isolation`, say) is
/// refused instead of sealing onto a stale head.
#[test]
fn the_journal_refuses_a_transaction_that_would_read_a_stale_head() {
    let db = TestDatabase::new(Engine::Postgres).unwrap();
    let store = db.store().unwrap();
    let opened = store.transaction(|conn| {
        use diesel::connection::SimpleConnection;
        if let storage::AnyConnection::Postgresql(pg) = conn {
            pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        }
        queries::open_tenant_journal(conn, "t1")
    });
    let error = opened.unwrap_err().to_string();
    assert!(error.contains("READ COMMITTED"), "{error}");
    // The same store opens it at its default level.
    store
        .transaction(|conn| queries::open_tenant_journal(conn, "t1"))
        .unwrap();
}

/// What a change listener heard within five seconds (notifications travel asynchronously).
fn heard_within_5s(listener: &mut storage::ChangeListener) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let heard = listener.poll(None).unwrap().tables;
        if !heard.is_empty() || std::time::Instant::now() > deadline {
            return heard;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn every_committed_write_to_an_announced_table_is_heard_and_a_rolled_back_one_is_not() {
    use diesel::connection::SimpleConnection;
    let sqlite = TestDatabase::new(Engine::Sqlite).unwrap();
    assert!(
        sqlite.store().unwrap().change_listener().unwrap().is_none(),
        "SQLite has no channel, so nothing may be cached"
    );

    let db = TestDatabase::new(Engine::Postgres).unwrap();
    let store = db.store().unwrap();
    let mut listener = store
        .change_listener()
        .unwrap()
        .expect("PostgreSQL listens");
    assert_eq!(listener.poll(None).unwrap(), storage::Heard::default());
    // A ping comes back through the channel, and is no change.
    let first = listener.poll(Some("n1")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut pings = first.pings;
    while pings.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        pings = listener.poll(None).unwrap().pings;
    }
    assert_eq!(pings, ["n1"]);
    assert!(first.tables.is_empty());
    fn write(table: &str) -> impl Fn(&mut storage::Conn) -> Result<(), StorageError> + '_ {
        move |c: &mut storage::Conn| {
            c.batch_execute(&format!("DELETE FROM {table} WHERE false"))
                .map_err(StorageError::from)
        }
    }
    // A write that rolls back is never announced; the next committed one is, alone.
    let rolled_back: Result<(), StorageError> = store.transaction(|c| {
        write("tenants")(c)?;
        Err(StorageError::Unavailable {
            detail: "roll back".into(),
        })
    });
    assert!(rolled_back.is_err());
    for table in storage::ANNOUNCED_TABLES {
        store.transaction(write(table)).unwrap();
        assert_eq!(heard_within_5s(&mut listener), [*table]);
    }
    // Every announced table has its trigger, and no other table has one.
    let triggers: Vec<String> = store
        .transaction(|c| {
            #[derive(diesel::QueryableByName)]
            struct Trigger {
                #[diesel(sql_type = diesel::sql_types::Text)]
                tgname: String,
            }
            let storage::AnyConnection::Postgresql(pg) = c else {
                unreachable!("a PostgreSQL store")
            };
            use diesel::RunQueryDsl;
            diesel::sql_query(
                "SELECT tgname::text AS tgname FROM pg_trigger WHERE tgname LIKE '%_announce' \
                 ORDER BY tgname",
            )
            .load::<Trigger>(pg)
            .map_err(StorageError::from)
        })
        .unwrap()
        .into_iter()
        .map(|t| t.tgname)
        .collect();
    let mut expected: Vec<String> = storage::ANNOUNCED_TABLES
        .iter()
        .map(|t| format!("{t}_announce"))
        .collect();
    expected.sort();
    assert_eq!(triggers, expected);
}

#[test]
fn an_inline_read_never_waits_for_a_connection_and_never_writes() {
    each_engine(|engine, store| {
        store
            .transaction(|c| queries::insert_tenant(c, &tenant("t1", "acme")))
            .unwrap();
        // With a connection free, the closure runs here and its reads use it.
        let found = store
            .read_without_waiting(|| store.read(|c| queries::find_tenant(c, "acme")))
            .unwrap_or_else(|_| panic!("{engine:?}: a connection was free"))
            .unwrap();
        assert_eq!(found.map(|t| t.id).as_deref(), Some("t1"), "{engine:?}");
        // A write inside is refused rather than waiting for the writer.
        let write = store
            .read_without_waiting(|| {
                store.transaction(|c| queries::insert_tenant(c, &tenant("t2", "globex")))
            })
            .unwrap_or_else(|_| panic!("{engine:?}: a connection was free"));
        assert!(
            matches!(write, Err(StorageError::Unavailable { .. })),
            "{engine:?}: {write:?}"
        );
        assert!(store
            .read(|c| queries::find_tenant(c, "globex"))
            .unwrap()
            .is_none());
        // So is a nested read: it has no reserved connection and may not wait for one.
        let nested = store
            .read_without_waiting(|| {
                store.read(|_| store.read(|c| queries::find_tenant(c, "acme")))
            })
            .unwrap_or_else(|_| panic!("{engine:?}: a connection was free"));
        assert!(
            matches!(nested, Err(StorageError::Unavailable { .. })),
            "{engine:?}"
        );
        // With every connection taken, the closure comes back unrun.
        // Every connection `read` draws from: SQLite's four readers, or the test pool's four.
        let readers = 4;
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let holders: Vec<_> = (0..readers)
            .map(|_| {
                let store = store.clone();
                let wait = wait.clone();
                let ready = ready_tx.clone();
                std::thread::spawn(move || {
                    store
                        .read(|_| {
                            ready.send(()).unwrap();
                            let _ = wait.lock().unwrap().recv();
                            Ok::<_, StorageError>(())
                        })
                        .unwrap();
                })
            })
            .collect();
        for _ in 0..readers {
            ready_rx.recv().unwrap();
        }
        let mut ran = false;
        let outcome = store.read_without_waiting(|| ran = true);
        let came_back = outcome.is_err();
        drop(outcome);
        assert!(came_back, "{engine:?}: no connection was free");
        assert!(!ran, "{engine:?}: the closure came back unrun");
        for _ in 0..readers {
            release.send(()).unwrap();
        }
        for h in holders {
            h.join().unwrap();
        }
    });
}
