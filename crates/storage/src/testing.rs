//! Throw-away databases for tests of this and higher crates: a SQLite file in the temp directory,
//! or a fresh PostgreSQL database on the local server (`GATEHOUSE_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432`). Both are removed on drop. A PostgreSQL server that
//! cannot be reached is an error, not a skip: CI must exercise both engines.

use crate::{Engine, StorageError, Store};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A migrated, empty database that disappears when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// The database URL (give it to `Store::open` or to a server under test).
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

fn unique_name() -> String {
    format!(
        "gatehouse_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The admin URL of the local PostgreSQL used by tests.
pub fn postgres_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

impl TestDatabase {
    /// A new database on `engine`, migrated.
    pub fn new(engine: Engine) -> Result<TestDatabase, StorageError> {
        match engine {
            Engine::Sqlite => Self::sqlite(),
            Engine::Postgres => Self::postgres(),
        }
    }

    /// A new SQLite file database, migrated.
    pub fn sqlite() -> Result<TestDatabase, StorageError> {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
        let _ = std::fs::remove_file(&path);
        let db = TestDatabase {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        };
        Store::open(&db.url)?.migrate()?;
        Ok(db)
    }

    /// A new PostgreSQL database on the local server, migrated.
    pub fn postgres() -> Result<TestDatabase, StorageError> {
        let admin = postgres_admin_url();
        let name = unique_name();
        let mut conn =
            diesel::PgConnection::establish(&format!("{admin}/postgres")).map_err(|e| {
                StorageError::Unavailable {
                    detail: format!("{admin}: {e}"),
                }
            })?;
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let db = TestDatabase {
            url: format!("{admin}/{name}"),
            cleanup: Cleanup::Postgres {
                admin_url: admin,
                name,
            },
        };
        Store::open_with_pool_size(&db.url, 4)?.migrate()?;
        Ok(db)
    }

    /// Open a store on this database.
    pub fn store(&self) -> Result<Store, StorageError> {
        Store::open_with_pool_size(&self.url, 4)
    }

    /// Run one raw SQL statement on a connection of its own, outside every store and
    /// transaction, the way someone with direct database access would; returns the number of
    /// rows it changed. For tests that tamper with stored data (the audit chain).
    pub fn execute(&self, sql: &str) -> Result<usize, StorageError> {
        let query = diesel::sql_query(sql);
        let unavailable = |e: diesel::ConnectionError| StorageError::Unavailable {
            detail: e.to_string(),
        };
        let changed = match Engine::of(&self.url) {
            Engine::Postgres => {
                let mut conn = diesel::PgConnection::establish(&self.url).map_err(unavailable)?;
                diesel::RunQueryDsl::execute(query, &mut conn)
            }
            Engine::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(crate::sqlite_path(&self.url))
                    .map_err(unavailable)?;
                diesel::RunQueryDsl::execute(query, &mut conn)
            }
        };
        changed.map_err(StorageError::classify)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut conn) =
                    diesel::PgConnection::establish(&format!("{admin_url}/postgres"))
                {
                    let _ =
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// Both engines, for tests that must pass on each.
pub const ENGINES: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

/// Whether another connection could take `tenant_id`'s journal lock right now (PostgreSQL;
/// always `true` on SQLite, which has no such lock). Lets facade tests check that a transaction
/// in progress does not hold it.
pub fn journal_lock_is_free(store: &Store, tenant_id: &str) -> Result<bool, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    store.transaction(|conn| match conn {
        crate::AnyConnection::Postgresql(pg) => {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(crate::queries::journal_lock_key(tenant_id))
                .get_result::<Taken>(pg)
                .map(|t| t.locked)
                .map_err(StorageError::classify)
        }
        crate::AnyConnection::Sqlite(_) => Ok(true),
    })
}

/// How many lock requests in this database are waiting right now (PostgreSQL; always 0 on
/// SQLite). Lets a test see that a transaction it started is blocked on another's lock, rather
/// than assume so after a sleep.
pub fn waiting_lock_requests(store: &Store) -> Result<i64, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    store.read(|conn| match conn {
        crate::AnyConnection::Postgresql(pg) => {
            use diesel::RunQueryDsl;
            // pg_stat_activity rather than pg_locks: a row-lock waiter waits on the holder's
            // transaction id, a lock that belongs to no database.
            diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result::<Count>(pg)
            .map(|c| c.n)
            .map_err(StorageError::classify)
        }
        crate::AnyConnection::Sqlite(_) => Ok(0),
    })
}
