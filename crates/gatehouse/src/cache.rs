//! What this process remembers of rows that change rarely but are read on every request (SCIM
//! bearer tokens, SAML connections, OIDC clients), and how it forgets them when they change
//! anywhere.
//!
//! A cached row is derived data: the database stays the truth, and the cache is used only while
//! this process demonstrably hears of every change. That is the job of
//! [`storage::ChangeListener`] (PostgreSQL `LISTEN`, fed by triggers on the watched tables) and
//! of whoever runs [`Gatehouse::pump_changes`] (the server's change-listener thread):
//!
//! * **No listener, no cache.** Until a pump has succeeded, and on SQLite always, every lookup
//!   goes to the database. An embedder that never runs the pump never caches.
//! * **Liveness is proven, not assumed.** A pump that pinged the server keeps the cache usable
//!   for [`LIVE_FOR_MS`] of `Call::now` time. If the listener stalls, breaks or its network
//!   vanishes, pumps stop proving liveness and the cache stops being used within that time; a
//!   listener that fails, and a new one, forget everything, since notifications may have been
//!   missed in between.
//! * **A change forgets everything**, here or on any replica: configuration changes are rare,
//!   and a clear cache is only a few database reads. A change this process makes itself (every
//!   one is audited as `config.changed`) is forgotten right after it commits, without waiting
//!   for the notification (`Gatehouse::transaction_as`).
//! * **No lookup re-caches what a change made stale.** A lookup notes the generation before it
//!   reads the database and stores its result only if no invalidation happened since
//!   (checked and stored under the same lock the invalidation takes).
//! * **Bounded age.** An entry is re-read at least every [`MAX_AGE_SECS`], whatever the
//!   listener says.
//!
//! So a revocation committed on any replica is honoured everywhere within one pump interval
//! (the server pumps every 50 ms), and in this process at once.

use crate::{Gatehouse, Result, ScimClient};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::RwLock;
use storage::models;

/// How long a successful ping of the listener keeps the cache usable (milliseconds of
/// `Call::now` time).
pub const LIVE_FOR_MS: i64 = 1_000;
/// The longest an entry is used before it is read again from the database.
pub const MAX_AGE_SECS: i64 = 60;
/// Entries kept at most (a full cache is cleared, not grown: an attacker presenting many valid
/// tokens is not a thing, but nothing here may grow without bound).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
struct CachedScimToken {
    client: ScimClient,
    /// The token's own end (rotation overlap), unix seconds.
    expires_at: Option<i64>,
}

/// A cached row and when it was read (unix seconds).
#[derive(Debug, Clone)]
struct Entry<T> {
    value: T,
    cached_at: i64,
}

impl<T: Clone> Entry<T> {
    /// The value, if read less than [`MAX_AGE_SECS`] before `now` (and not after it: a clock
    /// that went backwards does not make an entry young forever).
    fn fresh_at(&self, now: DateTime<Utc>) -> Option<&T> {
        let age = now.timestamp() - self.cached_at;
        (0..MAX_AGE_SECS).contains(&age).then_some(&self.value)
    }
}

/// Cached rows of one kind, by key.
type Entries<T> = HashMap<String, Entry<T>>;

#[derive(Debug, Default)]
struct State {
    /// Bumped by every invalidation.
    generation: u64,
    /// Unix milliseconds until which entries may be used; `None`: no proven listener.
    live_until_ms: Option<i64>,
    /// Live SCIM tokens by the SHA-256 of the bearer.
    scim_tokens: Entries<CachedScimToken>,
    /// SAML connections by id.
    saml_connections: Entries<models::SamlConnection>,
    /// OIDC clients (apps) by client id.
    oidc_clients: Entries<models::OidcClient>,
}

impl State {
    /// Whether a listener proved itself alive recently enough for `now`.
    fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.live_until_ms
            .is_some_and(|until| now.timestamp_millis() < until)
    }

    fn forget(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.scim_tokens.clear();
        self.saml_connections.clear();
        self.oidc_clients.clear();
    }
}

/// Store `value` under `key` in the entries `pick` selects, if `ticket` is still current and a
/// listener is live.
fn remember<T>(
    cache: &RowCache,
    ticket: Ticket,
    pick: impl FnOnce(&mut State) -> &mut Entries<T>,
    key: String,
    value: T,
    now: DateTime<Utc>,
) {
    let mut state = cache.write();
    if state.generation != ticket.0 || !state.live_at(now) {
        return;
    }
    let entries = pick(&mut state);
    if entries.len() >= MAX_ENTRIES {
        entries.clear();
    }
    entries.insert(
        key,
        Entry {
            value,
            cached_at: now.timestamp(),
        },
    );
}

/// The fresh value under `key` in the entries `pick` selects, if a listener is live.
fn lookup<T: Clone>(
    cache: &RowCache,
    pick: impl FnOnce(&State) -> &Entries<T>,
    key: &str,
    now: DateTime<Utc>,
) -> Option<T> {
    let state = cache.read();
    if !state.live_at(now) {
        return None;
    }
    pick(&state).get(key)?.fresh_at(now).cloned()
}

/// The process's cache of rarely changing rows (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct RowCache {
    state: RwLock<State>,
}

/// A lookup's ticket: the generation it started at, to be shown when storing its result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl RowCache {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Forget everything (a change was made or heard of).
    pub(crate) fn invalidate(&self) {
        self.write().forget();
    }

    /// Take a ticket before reading the database.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.read().generation)
    }

    /// The live SCIM token with this hash, if cached and usable at `now`.
    pub(crate) fn scim_token(&self, token_hash: &str, now: DateTime<Utc>) -> Option<ScimClient> {
        let token = lookup(self, |s| &s.scim_tokens, token_hash, now)?;
        token
            .expires_at
            .is_none_or(|end| end > now.timestamp())
            .then_some(token.client)
    }

    /// Remember a live token read from the database under `ticket`; dropped if anything was
    /// invalidated since the ticket was taken, or if no listener is proven live.
    pub(crate) fn remember_scim_token(
        &self,
        ticket: Ticket,
        token_hash: String,
        client: ScimClient,
        expires_at: Option<i64>,
        now: DateTime<Utc>,
    ) {
        let token = CachedScimToken { client, expires_at };
        remember(self, ticket, |s| &mut s.scim_tokens, token_hash, token, now);
    }

    /// The SAML connection with this id, if cached and usable at `now`.
    pub(crate) fn saml_connection(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Option<models::SamlConnection> {
        lookup(self, |s| &s.saml_connections, id, now)
    }

    /// Remember a SAML connection read under `ticket` (see [`RowCache::remember_scim_token`]).
    pub(crate) fn remember_saml_connection(
        &self,
        ticket: Ticket,
        row: models::SamlConnection,
        now: DateTime<Utc>,
    ) {
        let key = row.id.clone();
        remember(self, ticket, |s| &mut s.saml_connections, key, row, now);
    }

    /// The OIDC client with this id, if cached and usable at `now`.
    pub(crate) fn oidc_client(&self, id: &str, now: DateTime<Utc>) -> Option<models::OidcClient> {
        lookup(self, |s| &s.oidc_clients, id, now)
    }

    /// Remember an OIDC client read under `ticket` (see [`RowCache::remember_scim_token`]).
    pub(crate) fn remember_oidc_client(
        &self,
        ticket: Ticket,
        row: models::OidcClient,
        now: DateTime<Utc>,
    ) {
        let key = row.id.clone();
        remember(self, ticket, |s| &mut s.oidc_clients, key, row, now);
    }

    fn listener_opened(&self) {
        let mut state = self.write();
        state.forget();
        state.live_until_ms = None;
    }

    fn heard(&self, changed: bool, proven_live_at: Option<DateTime<Utc>>) {
        let mut state = self.write();
        if changed {
            state.forget();
        }
        if let Some(at) = proven_live_at {
            state.live_until_ms = Some(at.timestamp_millis().saturating_add(LIVE_FOR_MS));
        }
    }

    fn listener_failed(&self) {
        let mut state = self.write();
        state.forget();
        state.live_until_ms = None;
    }
}

impl Gatehouse {
    /// The SAML connection `id`, from the cache when it is usable at `now`, else read on
    /// `conn` (and remembered).
    pub(crate) fn cached_saml_connection(
        &self,
        conn: &mut storage::Conn,
        id: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<Option<models::SamlConnection>, storage::StorageError> {
        self.cached_row(
            |c| c.saml_connection(id, now),
            || storage::queries::find_saml_connection(conn, id),
            |c, ticket, row| c.remember_saml_connection(ticket, row, now),
        )
    }

    /// The OIDC client `id`, from the cache when it is usable at `now`, else read on `conn`
    /// (and remembered).
    pub(crate) fn cached_client(
        &self,
        conn: &mut storage::Conn,
        id: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<Option<models::OidcClient>, storage::StorageError> {
        self.cached_row(
            |c| c.oidc_client(id, now),
            || storage::queries::find_client(conn, id),
            |c, ticket, row| c.remember_oidc_client(ticket, row, now),
        )
    }

    /// `cached`, else `read` under a ticket and `remember` what it found.
    fn cached_row<T: Clone>(
        &self,
        cached: impl FnOnce(&RowCache) -> Option<T>,
        read: impl FnOnce() -> std::result::Result<Option<T>, storage::StorageError>,
        remember: impl FnOnce(&RowCache, Ticket, T),
    ) -> std::result::Result<Option<T>, storage::StorageError> {
        if let Some(row) = cached(&self.row_cache) {
            return Ok(Some(row));
        }
        let ticket = self.row_cache.ticket();
        let row = read()?;
        if let Some(row) = &row {
            remember(&self.row_cache, ticket, row.clone());
        }
        Ok(row)
    }

    /// Open a listener for changes of cached rows made by any process on this database, or
    /// `None` on SQLite (which has none, and whose lookups are not cached). Everything cached
    /// so far is forgotten: changes made before the listener existed were not heard. Feed it
    /// to [`Gatehouse::pump_changes`] from a thread of its own.
    pub fn open_change_listener(&self) -> Result<Option<storage::ChangeListener>> {
        let listener = self.store.change_listener()?;
        if listener.is_some() {
            self.row_cache.listener_opened();
        }
        Ok(listener)
    }

    /// Take what `listener` heard and forget the cached rows that changed. With `ping` it
    /// first proves the connection alive, which keeps the cache usable until `now` plus
    /// [`LIVE_FOR_MS`]; call it every few tens of milliseconds (that interval bounds how long
    /// a change made elsewhere goes unnoticed here) and ping every few calls. Returns the
    /// number of changed tables heard of. An error means changes may have been missed: the
    /// cache is cleared and unused until a new listener is opened and pumped.
    pub fn pump_changes(
        &self,
        listener: &mut storage::ChangeListener,
        now: DateTime<Utc>,
        ping: bool,
    ) -> Result<usize> {
        match listener.poll(ping) {
            Ok(tables) => {
                self.row_cache
                    .heard(!tables.is_empty(), ping.then_some(now));
                Ok(tables.len())
            }
            Err(e) => {
                self.row_cache.listener_failed();
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
    }

    fn client() -> ScimClient {
        ScimClient {
            directory_id: "d".into(),
            tenant_id: "t".into(),
            token_id: "k".into(),
        }
    }

    fn live_cache(now: DateTime<Utc>) -> RowCache {
        let cache = RowCache::default();
        cache.listener_opened();
        cache.heard(false, Some(now));
        cache
    }

    #[test]
    fn nothing_is_cached_without_a_proven_listener() {
        let cache = RowCache::default();
        let t = cache.ticket();
        cache.remember_scim_token(t, "h".into(), client(), None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
        // A listener opened but never pinged proves nothing either.
        cache.listener_opened();
        let t = cache.ticket();
        cache.remember_scim_token(t, "h".into(), client(), None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
    }

    #[test]
    fn a_live_listener_serves_entries_until_its_proof_runs_out() {
        let cache = live_cache(at(100));
        let t = cache.ticket();
        cache.remember_scim_token(t, "h".into(), client(), None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), Some(client()));
        // No ping for longer than LIVE_FOR_MS: the database is asked again.
        let later = at(100) + chrono::Duration::milliseconds(LIVE_FOR_MS);
        assert_eq!(cache.scim_token("h", later), None);
        // A pump without ping keeps listening but proves nothing new.
        cache.heard(false, None);
        assert_eq!(cache.scim_token("h", later), None);
        cache.heard(false, Some(later));
        assert_eq!(cache.scim_token("h", later), Some(client()));
    }

    #[test]
    fn a_change_heard_forgets_and_a_lookup_begun_before_it_does_not_cache() {
        let cache = live_cache(at(100));
        let before = cache.ticket();
        cache.remember_scim_token(before, "h".into(), client(), None, at(100));
        // A lookup that read the database before the change must not store its (stale) row.
        let stale_lookup = cache.ticket();
        cache.heard(true, Some(at(100)));
        assert_eq!(cache.scim_token("h", at(100)), None);
        cache.remember_scim_token(stale_lookup, "h".into(), client(), None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
        let after = cache.ticket();
        cache.remember_scim_token(after, "h".into(), client(), None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), Some(client()));
    }

    #[test]
    fn a_failed_listener_forgets_and_stops_caching() {
        let cache = live_cache(at(100));
        let t = cache.ticket();
        cache.remember_scim_token(t, "h".into(), client(), None, at(100));
        cache.listener_failed();
        assert_eq!(cache.scim_token("h", at(100)), None);
        let t = cache.ticket();
        cache.remember_scim_token(t, "h".into(), client(), None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
    }

    #[test]
    fn entries_end_with_their_token_and_with_age() {
        let cache = live_cache(at(100));
        let t = cache.ticket();
        cache.remember_scim_token(t, "h".into(), client(), Some(101), at(100));
        assert_eq!(cache.scim_token("h", at(100)), Some(client()));
        cache.heard(false, Some(at(101)));
        assert_eq!(cache.scim_token("h", at(101)), None, "expired at 101");

        let t = cache.ticket();
        cache.remember_scim_token(t, "g".into(), client(), None, at(101));
        let old = at(101 + MAX_AGE_SECS);
        cache.heard(false, Some(old));
        assert_eq!(cache.scim_token("g", old), None, "older than MAX_AGE_SECS");
        // A clock that went backwards does not make an entry young forever.
        cache.heard(false, Some(at(50)));
        assert_eq!(cache.scim_token("g", at(50)), None);
    }
}
