//! What this process remembers of rows that change rarely but are read on every request (SCIM
//! bearer tokens, SAML connections, OIDC clients), and how it forgets them when they change
//! anywhere.
//!
//! A cached row is derived data: the database stays the truth, and the cache is used only while
//! this process demonstrably hears of every change. That is the job of
//! [`storage::ChangeListener`] (PostgreSQL `LISTEN`, fed by triggers on the watched tables) and
//! of whoever runs [`Gatehouse::pump_changes`] (the server's change-listener thread):
//!
//! * **No listener, no cache.** Until a listener has proven itself, and on SQLite always, every
//!   lookup goes to the database. An embedder that never runs the pump never caches.
//! * **Liveness is proven end to end, not assumed.** A pump sends a ping (a nonce) through the
//!   notification channel itself; when it comes back, every change committed before it was
//!   sent has been heard (PostgreSQL delivers notifications in commit order), and the cache is
//!   usable for [`LIVE_FOR_MS`] counted from the ping's sending, and only for calls whose `now`
//!   falls in that window. A listener that stalls, breaks, loses its network or sits behind a
//!   pooler that swallows notifications stops proving itself, and the cache stops being used
//!   within that time; a listener that fails, and a new one, forget everything.
//! * **A change forgets everything**, here or on any replica: configuration changes are rare,
//!   and a clear cache is only a few database reads. A change this process makes itself (every
//!   one is audited as `config.changed`) is forgotten right after its transaction ends, without
//!   waiting for the notification (`Gatehouse::transaction_as`), as is anything a transaction
//!   cached before it rolled back.
//! * **No lookup re-caches what a change made stale.** A lookup notes the generation before it
//!   reads the database and stores its result only if no invalidation happened since
//!   (checked and stored under the same lock the invalidation takes).
//! * **Bounded age.** An entry is re-read at least every [`MAX_AGE_SECS`], whatever the
//!   listener says.
//!
//! So a change committed on any replica is honoured everywhere within one pump interval (the
//! server pumps every 50 ms) while the listener works, within [`LIVE_FOR_MS`] of its last proof
//! when it does not, and in this process at once.

use crate::{Gatehouse, Result, ScimClient};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::RwLock;
use storage::models;

/// How long a ping that came back through the channel keeps the cache usable, counted from
/// when it was sent (milliseconds of `Call::now` time). It bounds how long a listener that
/// stalled, or stopped hearing, goes on being trusted.
pub const LIVE_FOR_MS: i64 = 500;
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
    /// When (unix milliseconds) the last ping that came back was sent: every change committed
    /// before then has been heard. `None`: no proven listener.
    proven_at_ms: Option<i64>,
    /// The ping in flight: its nonce and when it was sent.
    pending_ping: Option<(String, i64)>,
    /// Live SCIM tokens by the SHA-256 of the bearer.
    scim_tokens: Entries<CachedScimToken>,
    /// SAML connections by id.
    saml_connections: Entries<models::SamlConnection>,
    /// OIDC clients (apps) by client id.
    oidc_clients: Entries<models::OidcClient>,
}

impl State {
    /// Whether a listener proved itself alive recently enough for `now`.
    /// A `now` before the proof (a request that began before it, a clock set back) is not
    /// covered by it either.
    fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.proven_at_ms
            .is_some_and(|proven| (0..LIVE_FOR_MS).contains(&(now.timestamp_millis() - proven)))
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
    // A transaction may have read its own uncommitted write: if it rolls back, what it
    // cached must go (`Gatehouse::transaction_as`).
    REMEMBERED.with(|r| r.set(true));
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
        state.proven_at_ms = None;
        state.pending_ping = None;
    }

    /// The nonce of a ping to send now, if none is in flight (or the one in flight is overdue).
    fn ping_to_send(&self, nonce: impl FnOnce() -> String, now: DateTime<Utc>) -> Option<String> {
        let mut state = self.write();
        let now_ms = now.timestamp_millis();
        let overdue = |sent: i64| !(0..LIVE_FOR_MS).contains(&(now_ms - sent));
        if state
            .pending_ping
            .as_ref()
            .is_some_and(|(_, sent)| !overdue(*sent))
        {
            return None;
        }
        let nonce = nonce();
        state.pending_ping = Some((nonce.clone(), now_ms));
        Some(nonce)
    }

    fn heard(&self, heard: &storage::Heard) {
        let mut state = self.write();
        if !heard.tables.is_empty() {
            state.forget();
        }
        let came_back = state
            .pending_ping
            .as_ref()
            .is_some_and(|(nonce, _)| heard.pings.contains(nonce));
        if came_back {
            if let Some((_, sent)) = state.pending_ping.take() {
                state.proven_at_ms = Some(sent);
            }
        }
    }

    fn listener_failed(&self) {
        let mut state = self.write();
        state.forget();
        state.proven_at_ms = None;
        state.pending_ping = None;
    }
}

thread_local! {
    /// Whether this thread cached a row since [`take_remembered`] last asked.
    static REMEMBERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread cached a row since the last call (and forget that it did).
pub(crate) fn take_remembered() -> bool {
    REMEMBERED.with(|r| r.replace(false))
}

/// Put back what an enclosing caller's [`take_remembered`] would have seen.
pub(crate) fn note_remembered() {
    REMEMBERED.with(|r| r.set(true));
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

    /// Whether cached rows may be used by a call at `now`: a listener has proven, within
    /// [`LIVE_FOR_MS`] before `now`, that it hears every change (for health checks and tests).
    pub fn caching_live(&self, now: DateTime<Utc>) -> bool {
        self.row_cache.read().live_at(now)
    }

    /// Take what `listener` heard and forget the cached rows that changed; send a ping through
    /// the channel when none is in flight. A ping that comes back proves that every change
    /// committed before it was sent has been heard, which keeps the cache usable for
    /// [`LIVE_FOR_MS`] from its sending. Call it every few tens of milliseconds: that interval
    /// bounds how long a change made elsewhere goes unnoticed here. Returns the number of
    /// changed tables heard of. An error means changes may have been missed: the cache is
    /// cleared and unused until a new listener is opened and proven.
    pub fn pump_changes(
        &self,
        listener: &mut storage::ChangeListener,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let ping = self.row_cache.ping_to_send(|| self.random_hex(8), now);
        match listener.poll(ping.as_deref()) {
            Ok(heard) => {
                self.row_cache.heard(&heard);
                Ok(heard.tables.len())
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

    fn ms(t: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
        t + chrono::Duration::milliseconds(ms)
    }

    fn client() -> ScimClient {
        ScimClient {
            directory_id: "d".into(),
            tenant_id: "t".into(),
            token_id: "k".into(),
        }
    }

    /// A ping sent at `sent` comes back.
    fn prove(cache: &RowCache, sent: DateTime<Utc>) {
        let nonce = cache
            .ping_to_send(|| format!("n{}", sent.timestamp_millis()), sent)
            .unwrap_or_default();
        cache.heard(&storage::Heard {
            tables: Vec::new(),
            pings: vec![nonce],
        });
    }

    fn change_heard(cache: &RowCache) {
        cache.heard(&storage::Heard {
            tables: vec!["scim_tokens".into()],
            pings: Vec::new(),
        });
    }

    fn live_cache(now: DateTime<Utc>) -> RowCache {
        let cache = RowCache::default();
        cache.listener_opened();
        prove(&cache, now);
        cache
    }

    fn cache_token(cache: &RowCache, key: &str, expires_at: Option<i64>, now: DateTime<Utc>) {
        let t = cache.ticket();
        cache.remember_scim_token(t, key.into(), client(), expires_at, now);
    }

    #[test]
    fn nothing_is_cached_without_a_proven_listener() {
        let cache = RowCache::default();
        cache_token(&cache, "h", None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
        // A listener opened, its ping sent but not (yet) back, proves nothing.
        cache.listener_opened();
        assert!(cache.ping_to_send(|| "n1".into(), at(100)).is_some());
        cache_token(&cache, "h", None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
        // Someone else's ping proves nothing either.
        cache.heard(&storage::Heard {
            tables: Vec::new(),
            pings: vec!["other".into()],
        });
        cache_token(&cache, "h", None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
    }

    #[test]
    fn a_proof_covers_calls_from_its_ping_until_live_for_ms_later() {
        let cache = live_cache(at(100));
        cache_token(&cache, "h", None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), Some(client()));
        assert_eq!(
            cache.scim_token("h", ms(at(100), LIVE_FOR_MS - 1)),
            Some(client())
        );
        // No ping back for LIVE_FOR_MS: the database is asked again.
        assert_eq!(cache.scim_token("h", ms(at(100), LIVE_FOR_MS)), None);
        // Nor does it cover a call from before the ping (begun earlier, or a clock set back).
        assert_eq!(cache.scim_token("h", ms(at(100), -1)), None);
        // One ping in flight at a time; an overdue one is replaced.
        assert!(cache.ping_to_send(|| "a".into(), at(101)).is_some());
        assert!(cache.ping_to_send(|| "b".into(), ms(at(101), 10)).is_none());
        assert!(cache
            .ping_to_send(|| "c".into(), ms(at(101), LIVE_FOR_MS))
            .is_some());
        // The late answer to the replaced ping proves nothing.
        cache.heard(&storage::Heard {
            tables: Vec::new(),
            pings: vec!["a".into()],
        });
        assert_eq!(cache.scim_token("h", ms(at(101), LIVE_FOR_MS + 1)), None);
    }

    #[test]
    fn a_change_heard_forgets_and_a_lookup_begun_before_it_does_not_cache() {
        let cache = live_cache(at(100));
        cache_token(&cache, "h", None, at(100));
        // A lookup that read the database before the change must not store its (stale) row.
        let stale_lookup = cache.ticket();
        change_heard(&cache);
        assert_eq!(cache.scim_token("h", at(100)), None);
        cache.remember_scim_token(stale_lookup, "h".into(), client(), None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
        cache_token(&cache, "h", None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), Some(client()));
    }

    #[test]
    fn a_failed_listener_forgets_and_stops_caching() {
        let cache = live_cache(at(100));
        cache_token(&cache, "h", None, at(100));
        cache.listener_failed();
        assert_eq!(cache.scim_token("h", at(100)), None);
        cache_token(&cache, "h", None, at(100));
        assert_eq!(cache.scim_token("h", at(100)), None);
    }

    #[test]
    fn entries_end_with_their_token_and_with_age() {
        let cache = live_cache(at(100));
        cache_token(&cache, "h", Some(101), at(100));
        assert_eq!(cache.scim_token("h", at(100)), Some(client()));
        prove(&cache, at(101));
        assert_eq!(cache.scim_token("h", at(101)), None, "expired at 101");

        cache_token(&cache, "g", None, at(101));
        let old = at(101 + MAX_AGE_SECS);
        prove(&cache, old);
        assert_eq!(cache.scim_token("g", old), None, "older than MAX_AGE_SECS");
        // A clock that went backwards does not make an entry young forever.
        prove(&cache, at(50));
        assert_eq!(cache.scim_token("g", at(50)), None);
    }

    #[test]
    fn caching_is_noted_for_the_transaction_that_did_it() {
        let cache = live_cache(at(100));
        let _ = take_remembered();
        cache_token(&cache, "h", None, at(100));
        assert!(take_remembered());
        assert!(!take_remembered());
    }
}
