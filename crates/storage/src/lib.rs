//! Gatehouse persistence: the diesel schema, embedded migrations and every query the facade needs.
//!
//! SQLite (a file, created on first use) is the embedded default; PostgreSQL is the production
//! store. Both go through **one code path**: a [`diesel::MultiConnection`] enum and a schema that
//! only uses column types both engines share (text, bigint, integer, boolean; times are unix
//! seconds). This is the only crate of the workspace that uses diesel (enforced by the layering
//! test and `deny.toml`).
//!
//! The facade owns transactions: it calls [`Store::transaction`] and passes the connection to the
//! query functions in [`queries`].
//!
//! ```no_run
//! let store = storage::Store::open("sqlite://gatehouse.db").unwrap();
//! store.migrate().unwrap();
//! let tenants = store.transaction(|conn| storage::queries::list_tenants(conn)).unwrap();
//! # let _: Vec<storage::models::Tenant> = tenants;
//! ```

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

/// Insert `rows` (a slice) into `table` in one statement. `diesel::MultiConnection` cannot
/// build multi-row inserts (their SQL differs per backend), so this dispatches on the engine;
/// the statement is the same on both.
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::AnyConnection::Postgresql(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
            $crate::AnyConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
        }
        .map_err($crate::StorageError::classify)
    };
}
pub(crate) use insert_batch;

mod changes;
pub mod models;
pub mod outbox;
pub mod queries;
pub mod schema;
pub mod scim;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
/// PostgreSQL-only objects (functions SQLite has no equivalent of), applied after [`MIGRATIONS`]
/// on PostgreSQL. Their versions never repeat one of `migrations/`: both share one table.
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations_postgres");

mod connection {
    #![allow(missing_docs)] // the derive generates undocumented helper items

    /// One connection to either engine; every query in this crate is written once against it.
    #[derive(diesel::MultiConnection)]
    pub enum AnyConnection {
        Postgresql(diesel::PgConnection),
        Sqlite(diesel::SqliteConnection),
    }
}
pub use changes::{ChangeListener, Heard, ANNOUNCED_TABLES, CHANGE_CHANNEL};
pub use connection::AnyConnection;
pub mod testing;

/// The connection type the query functions take.
pub type Conn = AnyConnection;

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite://PATH`, `sqlite:PATH`, or a bare file path.
    Sqlite,
}

impl Engine {
    /// Decide the engine from the URL scheme (never by trial: a PostgreSQL URL must never fall back
    /// to creating a SQLite file of that name when the server is down).
    pub fn of(url: &str) -> Engine {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }
}

/// Errors of the storage layer. The `Display` text may contain database detail: it is for logs,
/// never for HTTP responses (the server maps this to a generic 500 / 503).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database could not be reached or opened.
    #[error("database unavailable: {detail}")]
    Unavailable {
        /// Driver detail.
        detail: String,
    },
    /// A migration failed to apply.
    #[error("migration failed: {detail}")]
    Migration {
        /// Driver detail.
        detail: String,
    },
    /// A uniqueness constraint was violated (the caller maps this to a domain "already exists").
    #[error("unique constraint violated: {detail}")]
    Conflict {
        /// Constraint detail.
        detail: String,
    },
    /// A value the database cannot store (PostgreSQL's `text` refuses NUL characters). The
    /// caller's input, not an outage: boundaries refuse NUL before it gets here, and this is
    /// the backstop for any path that does not.
    #[error("a value cannot be stored: {detail}")]
    Unstorable {
        /// Driver detail.
        detail: String,
    },
    /// Any other query failure.
    #[error("query failed: {source}")]
    Query {
        /// The diesel error.
        #[from]
        source: diesel::result::Error,
    },
}

impl StorageError {
    pub(crate) fn classify(err: diesel::result::Error) -> StorageError {
        match err {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            ) => StorageError::Conflict {
                detail: info.message().to_owned(),
            },
            // SQLSTATE 22021, which diesel does not name; PostgreSQL's English message is the
            // only handle (a server answering in another language leaves this a query error).
            diesel::result::Error::DatabaseError(_, info)
                if info
                    .message()
                    .starts_with("invalid byte sequence for encoding")
                    && info.message().ends_with("0x00") =>
            {
                StorageError::Unstorable {
                    detail: info.message().to_owned(),
                }
            }
            other => StorageError::Query { source: other },
        }
    }
}

/// Opens connections with the pragmas each engine needs.
#[derive(Debug)]
struct Manager {
    url: String,
    engine: Engine,
    /// SQLite reader connections refuse writes (`PRAGMA query_only`), so a write that strays
    /// into [`Store::read`] fails loudly instead of bypassing the single writer.
    read_only: bool,
}

/// A pooled connection plus what we learned about its health. The pool does not ping before
/// every checkout (that was one extra round trip per transaction, ~3 of every 13 statements of
/// a login); instead a transaction that fails pings once, and a connection that does not answer
/// is marked broken so the pool replaces it.
struct PooledConn {
    conn: AnyConnection,
    broken: bool,
}

impl PooledConn {
    /// After a failed use, ping once: a connection that does not answer is marked broken so
    /// the pool replaces it (instead of pinging before every checkout).
    fn check_after(&mut self, failed: bool) {
        if failed && self.conn.batch_execute("SELECT 1").is_err() {
            self.broken = true;
        }
    }
}

impl ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PooledConn, r2d2::Error> {
        self.open().map(|conn| PooledConn {
            conn,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), r2d2::Error> {
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        conn.broken
    }
}

impl Manager {
    fn open(&self) -> Result<AnyConnection, r2d2::Error> {
        match self.engine {
            Engine::Postgres => {
                let mut conn = diesel::PgConnection::establish(&self.url)
                    .map_err(r2d2::Error::ConnectionError)?;
                // Statements are planned for any value (a generic plan), once per prepared
                // statement. A plan made for the value at hand trusts the last ANALYZE, which
                // has never seen a directory or tenant created since: it believes it empty and
                // scans its (by now thousands of) rows by an index on the directory alone,
                // instead of probing the userName or primary-key index (seen: 2.6 ms per
                // `userName eq` lookup and 8 ms per member check during an initial sync on a
                // 100k-user database; 0.012 ms and 0.22 ms planned generically). A generic plan
                // sizes a directory from the number of directories, which a new one cannot
                // mislead. The one exception, audit pages in a time window, is in `queries`.
                conn.batch_execute("SET plan_cache_mode = force_generic_plan")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Postgresql(conn))
            }
            Engine::Sqlite => {
                let path = sqlite_path(&self.url);
                let mut conn = diesel::SqliteConnection::establish(path)
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers proceed during a write; busy_timeout makes a second process (the
                // CLI next to a running server) wait instead of failing; foreign keys are off by
                // default in SQLite and we want the same integrity as on PostgreSQL.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .map_err(r2d2::Error::QueryError)?;
                if self.read_only {
                    conn.batch_execute("PRAGMA query_only = ON;")
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    /// SQLite only: connections for [`Store::read`]. SQLite has one writer, so `pool` holds a
    /// single connection; in WAL mode readers run beside it and see every committed write, so
    /// reads get connections of their own instead of queueing behind writes. PostgreSQL reads
    /// use `pool`.
    readers: Option<r2d2::Pool<Manager>>,
    engine: Engine,
    /// Where the pools connect; a [`ChangeListener`] opens its own connection here.
    url: String,
    /// Tells this store's pools from another's (clones share it), for
    /// [`Store::read_without_waiting`]'s reserved connection.
    id: u64,
}

/// The next [`Store::id`].
static NEXT_STORE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Reader connections of a SQLite store.
const SQLITE_READERS: u32 = 4;

thread_local! {
    /// The connection [`Store::read_without_waiting`] reserved for the reads of its closure.
    static RESERVED: std::cell::RefCell<Option<(u64, r2d2::PooledConnection<Manager>)>> =
        const { std::cell::RefCell::new(None) };
    /// Whether this thread is inside [`Store::read_without_waiting`].
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .finish()
    }
}

impl Store {
    /// Open (and for SQLite, create) the database at `url` with a default pool size.
    pub fn open(url: &str) -> Result<Store, StorageError> {
        Self::open_with_pool_size(url, 8)
    }

    /// Open with an explicit pool size. SQLite always uses a single connection: it has one writer
    /// at a time anyway, and one connection avoids `SQLITE_BUSY` on lock upgrades inside
    /// concurrent transactions.
    pub fn open_with_pool_size(url: &str, size: u32) -> Result<Store, StorageError> {
        let engine = Engine::of(url);
        let size = match engine {
            Engine::Sqlite => 1,
            Engine::Postgres => size.max(1),
        };
        let build = |size: u32, read_only: bool| {
            r2d2::Pool::builder()
                .max_size(size)
                .connection_timeout(Duration::from_secs(30))
                .test_on_check_out(false)
                .build(Manager {
                    url: url.to_owned(),
                    engine,
                    read_only,
                })
                .map_err(|e| StorageError::Unavailable {
                    detail: e.to_string(),
                })
        };
        // The writer first: it creates the file and switches it to WAL before any reader opens.
        let pool = build(size, false)?;
        let readers = match engine {
            Engine::Sqlite => Some(build(SQLITE_READERS, true)?),
            Engine::Postgres => None,
        };
        Ok(Store {
            pool,
            readers,
            engine,
            url: url.to_owned(),
            id: NEXT_STORE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Which engine this store talks to.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether PostgreSQL's autovacuum is on (`None` on SQLite). With it off, tables are never
    /// analyzed: a plan PostgreSQL cached for a prepared statement while a table was empty (a
    /// scan) is kept as the table grows, and a unique-key lookup slows to a scan of the tenant
    /// (seen: 75 ms per SCIM create at 90k users). The server warns at start when it is off.
    pub fn autovacuum_enabled(&self) -> Result<Option<bool>, StorageError> {
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            autovacuum: String,
        }
        let mut conn = self.connection()?;
        match &mut conn.conn {
            AnyConnection::Postgresql(pg) => diesel::sql_query("SHOW autovacuum")
                .get_result::<Setting>(pg)
                .map(|s| Some(s.autovacuum == "on"))
                .map_err(StorageError::classify),
            AnyConnection::Sqlite(_) => Ok(None),
        }
    }

    /// Apply every embedded migration not yet applied; returns the versions applied now.
    pub fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.connection()?;
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| StorageError::Migration {
            detail: e.to_string(),
        };
        let versions = |applied: Vec<diesel::migration::MigrationVersion<'_>>| {
            applied.iter().map(|v| v.to_string()).collect::<Vec<_>>()
        };
        match &mut conn.conn {
            AnyConnection::Postgresql(c) => {
                let mut applied = versions(c.run_pending_migrations(MIGRATIONS).map_err(failed)?);
                applied.extend(versions(
                    c.run_pending_migrations(POSTGRES_MIGRATIONS)
                        .map_err(failed)?,
                ));
                Ok(applied)
            }
            AnyConnection::Sqlite(c) => Ok(versions(
                c.run_pending_migrations(MIGRATIONS).map_err(failed)?,
            )),
        }
    }

    /// A connection of the writer pool, waited for; refused inside
    /// [`Store::read_without_waiting`], whose caller must not wait.
    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, StorageError> {
        if INLINE.with(|i| i.get()) {
            return Err(StorageError::Unavailable {
                detail: "a write (or another wait for a connection) inside an inline read".into(),
            });
        }
        self.pool.get().map_err(|e| StorageError::Unavailable {
            detail: e.to_string(),
        })
    }

    /// The pool [`Store::read`] draws from.
    fn reader_pool(&self) -> &r2d2::Pool<Manager> {
        self.readers.as_ref().unwrap_or(&self.pool)
    }

    /// Run the read-only `f` on a pooled connection **without** a transaction: every statement
    /// is its own snapshot, and the `BEGIN`/`COMMIT` round trips a transaction costs are saved
    /// (they were half the statements of a SCIM lookup). Only for reads whose statements need
    /// not see one snapshot; anything that writes, or must be consistent across statements,
    /// uses [`Store::transaction`]. Inside [`Store::read_without_waiting`] it uses the
    /// connection reserved there.
    pub fn read<T, E>(&self, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let reserved = RESERVED.with(|r| {
            let mut r = r.borrow_mut();
            match r.take() {
                Some((id, pooled)) if id == self.id => Some(pooled),
                other => {
                    *r = other;
                    None
                }
            }
        });
        if let Some(mut pooled) = reserved {
            let result = f(&mut pooled.conn);
            pooled.check_after(result.is_err());
            RESERVED.with(|r| *r.borrow_mut() = Some((self.id, pooled)));
            return result;
        }
        if INLINE.with(|i| i.get()) {
            // A nested read, or one of another store, inside an inline run: waiting for a
            // connection here could stall the caller's thread, which the inline run promised
            // not to do.
            return Err(StorageError::Unavailable {
                detail: "no connection reserved for this read".into(),
            }
            .into());
        }
        let mut pooled = self
            .reader_pool()
            .get()
            .map_err(|e| StorageError::Unavailable {
                detail: e.to_string(),
            })?;
        let result = f(&mut pooled.conn);
        pooled.check_after(result.is_err());
        result
    }

    /// Run `f`, which only reads (through [`Store::read`]), on the calling thread with a
    /// connection taken from the pool **without waiting**: if none is free at this instant,
    /// `f` is handed back unrun (`Err(f)`) for the caller to run elsewhere. For callers on a
    /// thread that must not block for long, such as an async executor's (the server's SCIM
    /// reads): a read of one indexed statement costs less than the hand-off of the work to
    /// another thread and back, but waiting for a connection while the pool is exhausted could
    /// take seconds. On PostgreSQL, where reads and writes share one pool, it also declines when
    /// fewer than two connections are idle, so inline reads never take the last one a writer
    /// queued for. Inside `f`, [`Store::transaction`], [`Store::write_one`] and everything else
    /// that would wait for a connection fail, as does a nested read.
    pub fn read_without_waiting<R, F: FnOnce() -> R>(&self, f: F) -> Result<R, F> {
        if INLINE.with(|i| i.get()) {
            return Err(f);
        }
        // `try_get` goes ahead of threads queued in `get`; on PostgreSQL the readers' pool is
        // the writers' too, so an inline read leaves a connection idle for them.
        let pool = self.reader_pool();
        let headroom = if self.readers.is_some() { 0 } else { 1 };
        if pool.state().idle_connections <= headroom {
            return Err(f);
        }
        let Some(pooled) = pool.try_get() else {
            return Err(f);
        };
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                // Return the connection to the pool even if `f` unwinds.
                RESERVED.with(|r| drop(r.borrow_mut().take()));
                INLINE.with(|i| i.set(false));
            }
        }
        INLINE.with(|i| i.set(true));
        RESERVED.with(|r| *r.borrow_mut() = Some((self.id, pooled)));
        let _reset = Reset;
        Ok(f())
    }

    /// Run `f`, a **single** writing statement, on the writer without a transaction around it:
    /// the statement commits on its own, atomically, and the `BEGIN`/`COMMIT` round trips are
    /// saved. Only for one statement whose effect must stand whatever the caller does next (the
    /// replay cache: a login refused later still burns its assertion); anything that writes
    /// twice uses [`Store::transaction`].
    pub fn write_one<T, E>(&self, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut pooled = self.connection()?;
        let result = f(&mut pooled.conn);
        pooled.check_after(result.is_err());
        result
    }

    /// Run `f` in one database transaction: committed if `f` returns `Ok`, rolled back otherwise
    /// (so a failed operation never leaves a partial write).
    pub fn transaction<T, E>(&self, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut pooled = self.connection()?;
        let mut caller_error: Option<E> = None;
        let result = pooled.conn.transaction::<T, diesel::result::Error, _>(|c| {
            f(c).map_err(|e| {
                caller_error = Some(e);
                diesel::result::Error::RollbackTransaction
            })
        });
        pooled.check_after(result.is_err());
        match result {
            Ok(value) => Ok(value),
            Err(err) => match caller_error {
                Some(e) => Err(e),
                None => Err(StorageError::classify(err).into()),
            },
        }
    }
}
