//! Change notifications: how a process learns that another one (a replica, the CLI, an operator
//! in `psql`) changed a row it may have cached.
//!
//! On PostgreSQL every statement that writes one of the watched tables (SCIM tokens and
//! directories, SAML connections, OIDC clients, tenants and their domains, role rule sets,
//! signing keys) announces the table's name on [`CHANGE_CHANNEL`], from a trigger of the
//! migration `migrations_postgres/2026-12-07-000001_change_notifications`, so no write path can
//! forget to. NOTIFY is transactional: a listener hears of a change when it commits, never of
//! one that rolls back. A [`ChangeListener`] is a dedicated connection (not from the pool) that
//! `LISTEN`s there; [`ChangeListener::poll`] hands over what arrived without waiting, and its
//! pings prove the channel works end to end. The listener needs a direct connection (or a
//! pooler in session mode): behind a pooler in transaction mode its pings never come back,
//! so nothing is ever cached.
//!
//! SQLite has no such channel, and the CLI writes the same file from another process, so a
//! SQLite store offers no listener ([`Store::change_listener`] is `None`) and its callers do
//! not cache: its reads are in-process and cheap anyway.

use crate::{Engine, StorageError, Store};
use diesel::connection::SimpleConnection;
use diesel::Connection;

/// The PostgreSQL channel the change triggers notify (the payload is the table's name).
pub const CHANGE_CHANNEL: &str = "gatehouse_config_changes";

/// The tables whose writes are announced on [`CHANGE_CHANNEL`] (each has a trigger
/// `<table>_announce`): what a process may cache while it listens.
pub const ANNOUNCED_TABLES: &[&str] = &[
    "scim_tokens",
    "scim_directories",
    "saml_connections",
    "oidc_clients",
    "tenants",
    "tenant_domains",
    "role_rulesets",
    "signing_keys",
];

/// A dedicated PostgreSQL connection listening on [`CHANGE_CHANNEL`].
pub struct ChangeListener {
    conn: diesel::PgConnection,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").finish_non_exhaustive()
    }
}

impl Store {
    /// Open a listener for changes of the watched tables (see the module documentation), or
    /// `None` on SQLite, which has no notification channel. Only what commits after this
    /// returns is heard: whoever caches must forget what it knew before.
    pub fn change_listener(&self) -> Result<Option<ChangeListener>, StorageError> {
        match self.engine {
            Engine::Sqlite => Ok(None),
            Engine::Postgres => {
                let mut conn = diesel::PgConnection::establish(&self.url).map_err(|e| {
                    StorageError::Unavailable {
                        detail: e.to_string(),
                    }
                })?;
                conn.batch_execute(&format!("LISTEN {CHANGE_CHANNEL}"))
                    .map_err(StorageError::classify)?;
                Ok(Some(ChangeListener { conn }))
            }
        }
    }
}

/// What one [`ChangeListener::poll`] heard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heard {
    /// The tables whose changes committed since the last poll, each named once, in order of
    /// arrival.
    pub tables: Vec<String>,
    /// The pings (see [`ChangeListener::poll`]) that came back, by their nonces.
    pub pings: Vec<String>,
}

/// The payload prefix of a listener's ping; no table is named like this.
const PING_PREFIX: &str = "ping:";

impl ChangeListener {
    /// What arrived since the last poll, without waiting for more. With `ping`, first send
    /// the nonce through the channel itself (`pg_notify` on this connection): hearing it back
    /// in a later poll (or this one) proves the `LISTEN` still works end to end, and since
    /// PostgreSQL delivers notifications in commit order, that every change committed before
    /// the ping was heard too. A plain round trip would not prove it: behind a pooler in
    /// transaction mode the `LISTEN` stays on a server connection this one no longer holds, and
    /// nothing ever arrives, without an error. Pings of other listeners on the channel are
    /// reported too (each listener knows its own nonces). An error means the listener is broken
    /// and changes may have been missed: drop it, forget what was cached, and open a new one.
    pub fn poll(&mut self, ping: Option<&str>) -> Result<Heard, StorageError> {
        use diesel::RunQueryDsl;
        if let Some(nonce) = ping {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<diesel::sql_types::Text, _>(CHANGE_CHANNEL)
                .bind::<diesel::sql_types::Text, _>(format!("{PING_PREFIX}{nonce}"))
                .execute(&mut self.conn)
                .map_err(StorageError::classify)?;
        }
        let mut heard = Heard::default();
        for notification in self.conn.notifications_iter() {
            let notification = notification.map_err(StorageError::classify)?;
            if notification.channel != CHANGE_CHANNEL {
                continue;
            }
            match notification.payload.strip_prefix(PING_PREFIX) {
                Some(nonce) => heard.pings.push(nonce.to_owned()),
                None if !heard.tables.contains(&notification.payload) => {
                    heard.tables.push(notification.payload)
                }
                None => {}
            }
        }
        Ok(heard)
    }
}
