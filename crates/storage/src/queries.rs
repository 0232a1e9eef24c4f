//! Every query the facade runs, written once for both engines. Each takes the connection of a
//! transaction opened by [`crate::Store::transaction`].

use crate::models::*;
use crate::schema::*;
use crate::{Conn, StorageError};
use diesel::prelude::*;

type Result<T> = std::result::Result<T, StorageError>;

fn classify<T>(r: QueryResult<T>) -> Result<T> {
    r.map_err(StorageError::classify)
}

// ---------- tenants ----------

/// Insert a tenant; a duplicate slug or external id is [`StorageError::Conflict`].
pub fn insert_tenant(conn: &mut Conn, row: &Tenant) -> Result<()> {
    classify(
        diesel::insert_into(tenants::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// All tenants, by slug.
pub fn list_tenants(conn: &mut Conn) -> Result<Vec<Tenant>> {
    classify(
        tenants::table
            .order(tenants::slug.asc())
            .select(Tenant::as_select())
            .load(conn),
    )
}

/// A tenant by id or by slug.
pub fn find_tenant(conn: &mut Conn, id_or_slug: &str) -> Result<Option<Tenant>> {
    classify(
        tenants::table
            .filter(tenants::id.eq(id_or_slug).or(tenants::slug.eq(id_or_slug)))
            .select(Tenant::as_select())
            .first(conn)
            .optional(),
    )
}

/// Replace a tenant's mutable fields.
pub fn update_tenant(conn: &mut Conn, row: &Tenant) -> Result<usize> {
    classify(
        diesel::update(tenants::table.find(&row.id))
            .set(row)
            .execute(conn),
    )
}

// ---------- domains ----------

/// Attach an e-mail domain to a tenant (domains are unique across tenants).
pub fn insert_domain(conn: &mut Conn, row: &TenantDomain) -> Result<()> {
    classify(
        diesel::insert_into(tenant_domains::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// The domains of a tenant.
pub fn list_domains(conn: &mut Conn, tenant_id: &str) -> Result<Vec<TenantDomain>> {
    classify(
        tenant_domains::table
            .filter(tenant_domains::tenant_id.eq(tenant_id))
            .order(tenant_domains::domain.asc())
            .select(TenantDomain::as_select())
            .load(conn),
    )
}

/// The tenant owning a verified domain, if any.
pub fn find_domain(conn: &mut Conn, domain: &str) -> Result<Option<TenantDomain>> {
    classify(
        tenant_domains::table
            .find(domain)
            .select(TenantDomain::as_select())
            .first(conn)
            .optional(),
    )
}

// ---------- SAML connections ----------

/// Insert a SAML connection.
pub fn insert_saml_connection(conn: &mut Conn, row: &SamlConnection) -> Result<()> {
    classify(
        diesel::insert_into(saml_connections::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// A SAML connection by id.
pub fn find_saml_connection(conn: &mut Conn, id: &str) -> Result<Option<SamlConnection>> {
    classify(
        saml_connections::table
            .find(id)
            .select(SamlConnection::as_select())
            .first(conn)
            .optional(),
    )
}

/// The SAML connections of a tenant, oldest first.
pub fn list_saml_connections(conn: &mut Conn, tenant_id: &str) -> Result<Vec<SamlConnection>> {
    classify(
        saml_connections::table
            .filter(saml_connections::tenant_id.eq(tenant_id))
            .order((
                saml_connections::created_at.asc(),
                saml_connections::id.asc(),
            ))
            .select(SamlConnection::as_select())
            .load(conn),
    )
}

/// Replace every column of a SAML connection.
pub fn update_saml_connection(conn: &mut Conn, row: &SamlConnection) -> Result<usize> {
    classify(
        diesel::update(saml_connections::table.find(&row.id))
            .set(row)
            .execute(conn),
    )
}

/// Delete a SAML connection (its users keep their rows; they can no longer sign in through it).
pub fn delete_saml_connection(conn: &mut Conn, id: &str) -> Result<usize> {
    classify(diesel::delete(saml_connections::table.find(id)).execute(conn))
}

// ---------- OIDC clients (apps) ----------

/// Register an app.
pub fn insert_client(conn: &mut Conn, row: &OidcClient) -> Result<()> {
    classify(
        diesel::insert_into(oidc_clients::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// An app by client id.
pub fn find_client(conn: &mut Conn, id: &str) -> Result<Option<OidcClient>> {
    classify(
        oidc_clients::table
            .find(id)
            .select(OidcClient::as_select())
            .first(conn)
            .optional(),
    )
}

/// Every app.
pub fn list_clients(conn: &mut Conn) -> Result<Vec<OidcClient>> {
    classify(
        oidc_clients::table
            .order(oidc_clients::id.asc())
            .select(OidcClient::as_select())
            .load(conn),
    )
}

/// Replace every column of an app.
pub fn update_client(conn: &mut Conn, row: &OidcClient) -> Result<usize> {
    classify(
        diesel::update(oidc_clients::table.find(&row.id))
            .set(row)
            .execute(conn),
    )
}

// ---------- users ----------

/// Insert a user; the (tenant, connection, subject) triple is unique.
pub fn insert_user(conn: &mut Conn, row: &User) -> Result<()> {
    classify(diesel::insert_into(users::table).values(row).execute(conn)).map(drop)
}

/// Insert `row` unless a unique key it carries (its tenant's lower-cased `userName`, its
/// subject) is taken; returns whether it was inserted. A taken key does not abort the
/// transaction (unlike [`insert_user`]'s conflict), so the caller can look at who holds it:
/// SCIM creation tries this first and only looks the name up when it is taken, which saves the
/// common case a round trip.
pub fn insert_user_if_free(conn: &mut Conn, row: &User) -> Result<bool> {
    let n = match conn {
        crate::AnyConnection::Postgresql(c) => diesel::insert_into(users::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        crate::AnyConnection::Sqlite(c) => diesel::insert_into(users::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
    };
    classify(n).map(|n| n == 1)
}

/// The user a connection knows by this subject.
pub fn find_user_by_subject(
    conn: &mut Conn,
    tenant_id: &str,
    connection_id: &str,
    subject: &str,
) -> Result<Option<User>> {
    classify(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::connection_id.eq(connection_id))
            .filter(users::external_subject.eq(subject))
            .select(User::as_select())
            .first(conn)
            .optional(),
    )
}

/// A user by id, locked against other writers until the transaction ends (PostgreSQL `FOR NO
/// KEY UPDATE`; SQLite has one writer at a time anyway), for a read-modify-write of the row
/// that must not lose a concurrent change.
pub fn lock_user(conn: &mut Conn, id: &str) -> Result<Option<User>> {
    if let crate::AnyConnection::Postgresql(pg) = conn {
        return classify(
            users::table
                .find(id)
                .select(User::as_select())
                .for_no_key_update()
                .first(pg)
                .optional(),
        );
    }
    find_user(conn, id)
}

/// A user by id.
pub fn find_user(conn: &mut Conn, id: &str) -> Result<Option<User>> {
    classify(
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional(),
    )
}

/// Users of a tenant, by creation.
pub fn list_users(conn: &mut Conn, tenant_id: &str, limit: i64, offset: i64) -> Result<Vec<User>> {
    classify(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .order((users::created_at.asc(), users::id.asc()))
            .limit(limit)
            .offset(offset)
            .select(User::as_select())
            .load(conn),
    )
}

/// Replace every column of a user.
pub fn update_user(conn: &mut Conn, row: &User) -> Result<usize> {
    classify(
        diesel::update(users::table.find(&row.id))
            .set(row)
            .execute(conn),
    )
}

// ---------- login flows ----------

/// Remember an authorize request while the user is at the IdP.
pub fn insert_login_flow(conn: &mut Conn, row: &LoginFlow) -> Result<()> {
    classify(
        diesel::insert_into(login_flows::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// The flow a SAML request id belongs to.
pub fn find_login_flow_by_request(conn: &mut Conn, request_id: &str) -> Result<Option<LoginFlow>> {
    classify(
        login_flows::table
            .filter(login_flows::saml_request_id.eq(request_id))
            .select(LoginFlow::as_select())
            .first(conn)
            .optional(),
    )
}

/// A flow by id.
pub fn find_login_flow(conn: &mut Conn, id: &str) -> Result<Option<LoginFlow>> {
    classify(
        login_flows::table
            .find(id)
            .select(LoginFlow::as_select())
            .first(conn)
            .optional(),
    )
}

/// Mark a flow consumed; returns `false` if it already was (so a flow completes at most once,
/// even with two replicas racing).
pub fn consume_login_flow(conn: &mut Conn, id: &str) -> Result<bool> {
    let n = classify(
        diesel::update(
            login_flows::table
                .find(id)
                .filter(login_flows::consumed.eq(false)),
        )
        .set(login_flows::consumed.eq(true))
        .execute(conn),
    )?;
    Ok(n == 1)
}

// ---------- break-glass recovery ----------

/// Designate (idempotently) a tenant's SSO account admin.
pub fn put_recovery_admin(conn: &mut Conn, row: &RecoveryAdmin) -> Result<()> {
    if find_recovery_admin(conn, &row.tenant_id, &row.user_id)?.is_some() {
        return Ok(());
    }
    classify(
        diesel::insert_into(recovery_admins::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// Remove a designation; returns whether there was one.
pub fn delete_recovery_admin(conn: &mut Conn, tenant_id: &str, user_id: &str) -> Result<bool> {
    let n = classify(
        diesel::delete(
            recovery_admins::table
                .filter(recovery_admins::tenant_id.eq(tenant_id))
                .filter(recovery_admins::user_id.eq(user_id)),
        )
        .execute(conn),
    )?;
    Ok(n > 0)
}

/// One designation.
pub fn find_recovery_admin(
    conn: &mut Conn,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<RecoveryAdmin>> {
    classify(
        recovery_admins::table
            .filter(recovery_admins::tenant_id.eq(tenant_id))
            .filter(recovery_admins::user_id.eq(user_id))
            .select(RecoveryAdmin::as_select())
            .first(conn)
            .optional(),
    )
}

/// A tenant's designated SSO account admins.
pub fn list_recovery_admins(conn: &mut Conn, tenant_id: &str) -> Result<Vec<RecoveryAdmin>> {
    classify(
        recovery_admins::table
            .filter(recovery_admins::tenant_id.eq(tenant_id))
            .order(recovery_admins::user_id.asc())
            .select(RecoveryAdmin::as_select())
            .load(conn),
    )
}

/// Store a recovery link.
pub fn insert_recovery_link(conn: &mut Conn, row: &RecoveryLink) -> Result<()> {
    classify(
        diesel::insert_into(recovery_links::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// A recovery link by the hash of its secret.
pub fn find_recovery_link(conn: &mut Conn, token_hash: &str) -> Result<Option<RecoveryLink>> {
    classify(
        recovery_links::table
            .filter(recovery_links::token_hash.eq(token_hash))
            .select(RecoveryLink::as_select())
            .first(conn)
            .optional(),
    )
}

/// Mark a link used; `false` if it already was (one use, even with two replicas racing).
pub fn use_recovery_link(conn: &mut Conn, id: &str, at: i64) -> Result<bool> {
    let n = classify(
        diesel::update(
            recovery_links::table
                .find(id)
                .filter(recovery_links::used_at.is_null()),
        )
        .set(recovery_links::used_at.eq(Some(at)))
        .execute(conn),
    )?;
    Ok(n == 1)
}

// ---------- logout ----------

/// Record an SP-initiated logout flow.
pub fn insert_logout_flow(conn: &mut Conn, row: &LogoutFlow) -> Result<()> {
    classify(
        diesel::insert_into(logout_flows::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// The logout flow our LogoutRequest `request_id` belongs to.
pub fn find_logout_flow_by_request(
    conn: &mut Conn,
    request_id: &str,
) -> Result<Option<LogoutFlow>> {
    classify(
        logout_flows::table
            .filter(logout_flows::saml_request_id.eq(request_id))
            .select(LogoutFlow::as_select())
            .first(conn)
            .optional(),
    )
}

/// Mark a logout flow consumed; `false` if it already was.
pub fn consume_logout_flow(conn: &mut Conn, id: &str) -> Result<bool> {
    let n = classify(
        diesel::update(
            logout_flows::table
                .find(id)
                .filter(logout_flows::consumed.eq(false)),
        )
        .set(logout_flows::consumed.eq(true))
        .execute(conn),
    )?;
    Ok(n == 1)
}

/// Live (unrevoked) sessions of a connection's subject, by the NameID the IdP asserted.
pub fn live_sessions_by_name_id(
    conn: &mut Conn,
    connection_id: &str,
    name_id: &str,
) -> Result<Vec<Session>> {
    classify(
        sessions::table
            .filter(sessions::connection_id.eq(connection_id))
            .filter(sessions::idp_name_id.eq(name_id))
            .filter(sessions::revoked_at.is_null())
            .select(Session::as_select())
            .load(conn),
    )
}

// ---------- sessions, codes, tokens ----------

/// Open a session.
pub fn insert_session(conn: &mut Conn, row: &Session) -> Result<()> {
    classify(
        diesel::insert_into(sessions::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// A session by id.
pub fn find_session(conn: &mut Conn, id: &str) -> Result<Option<Session>> {
    classify(
        sessions::table
            .find(id)
            .select(Session::as_select())
            .first(conn)
            .optional(),
    )
}

/// A session with its user and tenant, in one round trip (the token endpoint's hot path).
pub fn find_session_user_tenant(
    conn: &mut Conn,
    id: &str,
) -> Result<Option<(Session, User, Tenant)>> {
    classify(
        sessions::table
            .inner_join(users::table.on(users::id.eq(sessions::user_id)))
            .inner_join(tenants::table.on(tenants::id.eq(sessions::tenant_id)))
            .filter(sessions::id.eq(id))
            .select((Session::as_select(), User::as_select(), Tenant::as_select()))
            .first(conn)
            .optional(),
    )
}

/// Revoke one session (no-op if already revoked); returns whether it changed.
pub fn revoke_session(conn: &mut Conn, id: &str, at: i64, reason: &str) -> Result<bool> {
    let n = classify(
        diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(Some(at)),
            sessions::revoked_reason.eq(Some(reason)),
        ))
        .execute(conn),
    )?;
    Ok(n == 1)
}

/// Revoke every live session of a user; returns the ids revoked.
pub fn revoke_user_sessions(
    conn: &mut Conn,
    user_id: &str,
    at: i64,
    reason: &str,
) -> Result<Vec<String>> {
    let ids: Vec<String> = classify(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .select(sessions::id)
            .load(conn),
    )?;
    for id in &ids {
        revoke_session(conn, id, at, reason)?;
    }
    Ok(ids)
}

/// Sessions that expired at or before `now`, were never revoked, and whose expiry is not yet
/// recorded in the audit trail: soonest expiry first, at most `limit`.
pub fn expired_unrecorded_sessions(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<Session>> {
    classify(
        sessions::table
            .filter(sessions::expires_at.le(now))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expiry_recorded_at.is_null())
            .order((sessions::expires_at.asc(), sessions::id.asc()))
            .limit(limit)
            .select(Session::as_select())
            .load(conn),
    )
}

/// Claim the recording of session `id`'s expiry: mark it as recorded at `now` if it is still
/// expired, unrevoked and unmarked. Returns whether this call marked it; of several replicas
/// sweeping at once exactly one gets `true`, and only it may write the audit record.
///
/// On PostgreSQL a row another transaction has locked (it is revoking the session, or another
/// sweep is claiming it) is skipped rather than waited for (`FOR UPDATE SKIP LOCKED`): a sweep
/// never queues behind a revocation of the same session. A skipped session comes up again on the next
/// sweep if it is still unrecorded. SQLite has a single writer, so a plain conditional update
/// is the claim.
pub fn mark_session_expiry_recorded(conn: &mut Conn, id: &str, now: i64) -> Result<bool> {
    let changed = match conn {
        crate::AnyConnection::Postgresql(pg) => classify(
            diesel::sql_query(
                "UPDATE sessions SET expiry_recorded_at = $1 WHERE id = \
                 (SELECT id FROM sessions WHERE id = $2 AND expires_at <= $1 \
                  AND revoked_at IS NULL AND expiry_recorded_at IS NULL \
                  FOR UPDATE SKIP LOCKED)",
            )
            .bind::<diesel::sql_types::BigInt, _>(now)
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(pg),
        )?,
        crate::AnyConnection::Sqlite(_) => classify(
            diesel::update(
                sessions::table
                    .find(id)
                    .filter(sessions::expires_at.le(now))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expiry_recorded_at.is_null()),
            )
            .set(sessions::expiry_recorded_at.eq(Some(now)))
            .execute(conn),
        )?,
    };
    Ok(changed == 1)
}

/// Sessions of a user, newest first.
pub fn list_user_sessions(conn: &mut Conn, user_id: &str) -> Result<Vec<Session>> {
    classify(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .order(sessions::created_at.desc())
            .select(Session::as_select())
            .load(conn),
    )
}

/// Store an authorization code (hashed).
pub fn insert_auth_code(conn: &mut Conn, row: &AuthCode) -> Result<()> {
    classify(
        diesel::insert_into(auth_codes::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// Take an authorization code: returns it only the first time (single use across replicas).
/// On PostgreSQL the conditional update returns the row (one round trip); SQLite, in process,
/// reads it back after the update.
pub fn take_auth_code(conn: &mut Conn, code_hash: &str) -> Result<Option<AuthCode>> {
    if let crate::AnyConnection::Postgresql(pg) = conn {
        return classify(
            diesel::update(
                auth_codes::table
                    .find(code_hash)
                    .filter(auth_codes::used.eq(false)),
            )
            .set(auth_codes::used.eq(true))
            .returning(AuthCode::as_returning())
            .get_result(pg)
            .optional(),
        );
    }
    let n = classify(
        diesel::update(
            auth_codes::table
                .find(code_hash)
                .filter(auth_codes::used.eq(false)),
        )
        .set(auth_codes::used.eq(true))
        .execute(conn),
    )?;
    if n != 1 {
        return Ok(None);
    }
    classify(
        auth_codes::table
            .find(code_hash)
            .select(AuthCode::as_select())
            .first(conn)
            .optional(),
    )
}

/// A code that was already taken, if it is still on record: presenting it again is the
/// signal RFC 6749 §4.1.2 asks the provider to act on.
pub fn find_used_auth_code(conn: &mut Conn, code_hash: &str) -> Result<Option<AuthCode>> {
    classify(
        auth_codes::table
            .find(code_hash)
            .filter(auth_codes::used.eq(true))
            .select(AuthCode::as_select())
            .first(conn)
            .optional(),
    )
}

/// Store an access token (hashed).
pub fn insert_access_token(conn: &mut Conn, row: &AccessToken) -> Result<()> {
    classify(
        diesel::insert_into(access_tokens::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// An access token with its session.
pub fn find_access_token(
    conn: &mut Conn,
    token_hash: &str,
) -> Result<Option<(AccessToken, Session)>> {
    classify(
        access_tokens::table
            .inner_join(sessions::table.on(sessions::id.eq(access_tokens::session_id)))
            .filter(access_tokens::token_hash.eq(token_hash))
            .select((AccessToken::as_select(), Session::as_select()))
            .first(conn)
            .optional(),
    )
}

// ---------- signing keys ----------

/// Add a token-signing key.
pub fn insert_signing_key(conn: &mut Conn, row: &SigningKey) -> Result<()> {
    classify(
        diesel::insert_into(signing_keys::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// Every signing key, newest first.
pub fn list_signing_keys(conn: &mut Conn) -> Result<Vec<SigningKey>> {
    classify(
        signing_keys::table
            .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
            .select(SigningKey::as_select())
            .load(conn),
    )
}

/// Retire a key: it stops signing now and stays published until `publish_until`.
pub fn retire_signing_key(
    conn: &mut Conn,
    kid: &str,
    at: i64,
    publish_until: i64,
) -> Result<usize> {
    classify(
        diesel::update(signing_keys::table.find(kid))
            .set((
                signing_keys::retired_at.eq(Some(at)),
                signing_keys::publish_until.eq(Some(publish_until)),
            ))
            .execute(conn),
    )
}

// ---------- replay cache ----------

/// Record that `key` was seen, to be remembered until `expires_at`. Returns `false` if it had
/// already been recorded (a replay) — on this replica or any other sharing the database.
pub fn remember_once(conn: &mut Conn, key: &str, expires_at: i64) -> Result<bool> {
    let r = diesel::insert_into(replay_cache::table)
        .values((
            replay_cache::key.eq(key),
            replay_cache::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match r {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(StorageError::classify(e)),
    }
}

/// Forget replay-cache entries and login flows that expired before `now`, and authorization
/// codes that expired before `codes_expired_before` (kept a while after their expiry, so a
/// late second presentation is still recognised as a reuse). Returns how many rows went.
pub fn purge_expired(conn: &mut Conn, now: i64, codes_expired_before: i64) -> Result<usize> {
    let a = classify(
        diesel::delete(replay_cache::table.filter(replay_cache::expires_at.lt(now))).execute(conn),
    )?;
    let b = classify(
        diesel::delete(login_flows::table.filter(login_flows::expires_at.lt(now))).execute(conn),
    )?;
    let c = classify(
        diesel::delete(auth_codes::table.filter(auth_codes::expires_at.lt(codes_expired_before)))
            .execute(conn),
    )?;
    Ok(a + b + c)
}

// ---------- operator tokens ----------

/// Store an operator (admin API) token hash.
pub fn insert_operator_token(conn: &mut Conn, row: &OperatorToken) -> Result<()> {
    classify(
        diesel::insert_into(operator_tokens::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// A live operator token by hash.
pub fn find_operator_token(conn: &mut Conn, token_hash: &str) -> Result<Option<OperatorToken>> {
    classify(
        operator_tokens::table
            .filter(operator_tokens::token_hash.eq(token_hash))
            .filter(operator_tokens::revoked_at.is_null())
            .select(OperatorToken::as_select())
            .first(conn)
            .optional(),
    )
}

/// Every operator token (hashes included; the caller must not display them).
pub fn list_operator_tokens(conn: &mut Conn) -> Result<Vec<OperatorToken>> {
    classify(
        operator_tokens::table
            .order(operator_tokens::created_at.asc())
            .select(OperatorToken::as_select())
            .load(conn),
    )
}

/// Revoke an operator token.
pub fn revoke_operator_token(conn: &mut Conn, id: &str, at: i64) -> Result<usize> {
    classify(
        diesel::update(operator_tokens::table.find(id))
            .set(operator_tokens::revoked_at.eq(Some(at)))
            .execute(conn),
    )
}

// ---------- audit log ----------

/// The newest record of a tenant's chain.
pub fn last_audit_row(conn: &mut Conn, tenant_id: &str) -> Result<Option<AuditRow>> {
    classify(
        audit_log::table
            .filter(audit_log::tenant_id.eq(tenant_id))
            .order(audit_log::seq.desc())
            .select(AuditRow::as_select())
            .first(conn)
            .optional(),
    )
}

/// Append a record. The (tenant, seq) primary key makes two writers racing for the same position
/// fail rather than fork the chain.
pub fn insert_audit_row(conn: &mut Conn, row: &AuditRow) -> Result<()> {
    classify(
        diesel::insert_into(audit_log::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// Filter for [`list_audit_rows`] and [`count_audit_rows`]. All conditions are conjunctive.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Tenant whose chain to read.
    pub tenant_id: String,
    /// Only records with `seq > after_seq` (cursor paging).
    pub after_seq: i64,
    /// Only records with `seq <= until_seq` (a fixed end, e.g. an export's own record).
    pub until_seq: Option<i64>,
    /// Inclusive lower bound on `at`.
    pub from: Option<i64>,
    /// Exclusive upper bound on `at`.
    pub to: Option<i64>,
    /// Only these event types (`None`: any type; an empty list matches nothing).
    pub event_types: Option<Vec<String>>,
    /// Only this actor (`kind:id`).
    pub actor: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// Page size ([`list_audit_rows`] only).
    pub limit: i64,
}

type AuditQuery<'a> = audit_log::BoxedQuery<'a, <Conn as diesel::Connection>::Backend>;

fn filtered_audit_rows(f: &AuditFilter) -> AuditQuery<'_> {
    let mut q = audit_log::table
        .filter(audit_log::tenant_id.eq(&f.tenant_id))
        .filter(audit_log::seq.gt(f.after_seq))
        .into_boxed();
    if let Some(until) = f.until_seq {
        q = q.filter(audit_log::seq.le(until));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::at.lt(to));
    }
    if let Some(types) = &f.event_types {
        q = q.filter(audit_log::event_type.eq_any(types));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::actor.eq(a));
    }
    if let Some(t) = &f.target {
        q = q.filter(audit_log::target.eq(t));
    }
    q
}

/// Rows per multi-row INSERT: far below PostgreSQL's 65,535 bind parameters and SQLite's
/// 32,766 for every table written in batches here.
pub(crate) const INSERT_BATCH: usize = 500;

/// Append several records in one statement per [`INSERT_BATCH`] (the staged records of one
/// transaction; see the facade's journal). Same primary key guard as [`insert_audit_row`].
pub fn insert_audit_rows(conn: &mut Conn, rows: &[AuditRow]) -> Result<()> {
    for chunk in rows.chunks(INSERT_BATCH) {
        crate::insert_batch!(conn, audit_log::table, chunk)?;
    }
    Ok(())
}

/// Append one tenant's sealed journal: audit records, outbox events and their deliveries (the
/// caller holds the tenant's journal lock, see [`open_tenant_journal`]). On PostgreSQL the
/// three multi-row inserts are **one** statement (the first ones as data-modifying `WITH`
/// clauses), because every round trip made under the lock lengthens the queue of the tenant's
/// other writers; SQLite, in process and single-writer, gets one insert per table.
pub fn insert_journal(
    conn: &mut Conn,
    audits: &[AuditRow],
    events: &[OutboxEvent],
    deliveries: &[Delivery],
) -> Result<()> {
    // PostgreSQL takes at most 65,535 bound parameters per statement; a journal that large
    // (a group push of thousands of members) goes table by table, in batches.
    let [(_, audit_columns), (_, event_columns), (_, delivery_columns)] = JOURNAL_COLUMNS;
    let parameters = audits.len() * audit_columns
        + events.len() * event_columns
        + deliveries.len() * delivery_columns;
    match conn {
        crate::AnyConnection::Postgresql(pg) if parameters <= 60_000 => {
            let mut parts: Vec<Box<dyn diesel::query_builder::QueryFragment<diesel::pg::Pg> + '_>> =
                Vec::with_capacity(3);
            if !audits.is_empty() {
                parts.push(Box::new(
                    diesel::insert_into(audit_log::table).values(audits),
                ));
            }
            if !events.is_empty() {
                parts.push(Box::new(
                    diesel::insert_into(outbox_events::table).values(events),
                ));
            }
            if !deliveries.is_empty() {
                parts.push(Box::new(
                    diesel::insert_into(crate::schema::deliveries::table).values(deliveries),
                ));
            }
            if parts.is_empty() {
                return Ok(());
            }
            classify(OneStatement { parts }.execute(pg)).map(drop)
        }
        _ => {
            insert_audit_rows(conn, audits)?;
            crate::outbox::insert_events(conn, events)?;
            crate::outbox::insert_deliveries(conn, deliveries)
        }
    }
}

/// The columns of the journal's tables, one bound parameter each per inserted row (a test
/// checks them against the schema).
pub const JOURNAL_COLUMNS: [(&str, usize); 3] =
    [("audit_log", 9), ("outbox_events", 6), ("deliveries", 12)];

/// Several PostgreSQL data-modifying statements run as one: `WITH j0 AS (first), j1 AS
/// (second) last`. PostgreSQL runs every part, and checks foreign keys at the end of the whole
/// statement (so a delivery may reference an event inserted beside it).
struct OneStatement<'a> {
    parts: Vec<Box<dyn diesel::query_builder::QueryFragment<diesel::pg::Pg> + 'a>>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for OneStatement<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        let Some((last, first)) = self.parts.split_last() else {
            return Err(diesel::result::Error::QueryBuilderError(
                "an empty statement".into(),
            ));
        };
        for (i, part) in first.iter().enumerate() {
            out.push_sql(if i == 0 { "WITH " } else { ", " });
            out.push_sql(&format!("j{i} AS ("));
            part.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        if !first.is_empty() {
            out.push_sql(" ");
        }
        last.walk_ast(out.reborrow())
    }
}

impl diesel::query_builder::QueryId for OneStatement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl RunQueryDsl<diesel::PgConnection> for OneStatement<'_> {}

/// Records of a tenant's chain in `seq` order, at most `f.limit`.
pub fn list_audit_rows(conn: &mut Conn, f: &AuditFilter) -> Result<Vec<AuditRow>> {
    plan_time_window_for_its_values(conn, f)?;
    classify(
        filtered_audit_rows(f)
            .order(audit_log::seq.asc())
            .limit(f.limit)
            .select(AuditRow::as_select())
            .load(conn),
    )
}

/// How many records match `f` (its `limit` is ignored).
pub fn count_audit_rows(conn: &mut Conn, f: &AuditFilter) -> Result<i64> {
    plan_time_window_for_its_values(conn, f)?;
    classify(filtered_audit_rows(f).count().get_result(conn))
}

/// The one exception to generic plans (see `Manager::open`): a `from`/`to` window. Planned
/// without its values, a two-sided time range looks tiny, and PostgreSQL read the whole window
/// through `audit_log_time` and sorted it instead of walking the chain in `seq` order to the
/// page's limit (500,000 rows read for a page of 100). For the rest of the caller's
/// transaction (`SET LOCAL`; outside one it would not hold), statements are planned for their
/// values again.
fn plan_time_window_for_its_values(conn: &mut Conn, f: &AuditFilter) -> Result<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        crate::AnyConnection::Postgresql(pg) if f.from.is_some() || f.to.is_some() => {
            classify(pg.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan"))
        }
        _ => Ok(()),
    }
}

/// The advisory-lock key of a tenant's journal: FNV-1a (64 bit) of its id. Computed here rather
/// than by PostgreSQL's `hashtext` so that callers can sort the tenants of one transaction by the
/// very key they lock (a consistent order even when two tenants' keys collide), and wide enough
/// that collisions are not a practical concern.
pub fn journal_lock_key(tenant_id: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in tenant_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// What a writer needs to append to a tenant's journal, read under the tenant's journal lock:
/// the newest audit record (JSON), the last outbox event number, and the webhook endpoints that
/// receive the tenant's events (enabled, the tenant's own and every-tenant ones, by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalHeads {
    /// The chain head: the newest audit record's JSON, `None` for a new chain.
    pub last_record: Option<String>,
    /// The last outbox event number, `None` before the first event.
    pub last_seq: Option<i64>,
    /// `(endpoint id, url)` pairs.
    pub receivers: Vec<(String, String)>,
}

/// Open a tenant's journal for appending: serialize appends to it (its audit chain **and** its
/// outbox numbering) until the transaction ends, and read its [`JournalHeads`].
///
/// On PostgreSQL the lock is a transaction-scoped advisory lock on [`journal_lock_key`]
/// (replicas queue for the chain head instead of forking it), and lock and reads are one round
/// trip: `gatehouse_open_journal` (migrations_postgres) takes the lock, then reads in a new
/// statement, which under READ COMMITTED sees what the lock's previous holder committed. Every
/// round trip made under the lock lengthens the queue of a busy tenant's writers (a SCIM sync
/// creates users of one tenant on 16 connections), so this one does three things at once.
/// SQLite already has a single writer: no lock, two plain reads.
///
/// Both journals share this one lock on purpose: two locks taken in different orders by
/// different transactions deadlocked under concurrent SCIM group writes. The lock is
/// re-entrant within a transaction.
pub fn open_tenant_journal(conn: &mut Conn, tenant_id: &str) -> Result<JournalHeads> {
    match conn {
        crate::AnyConnection::Postgresql(pg) => {
            #[derive(QueryableByName)]
            struct Opened {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                last_record: Option<String>,
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
                last_seq: Option<i64>,
                #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
                receiver_ids: Vec<String>,
                #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
                receiver_urls: Vec<String>,
            }
            let opened: Opened = classify(
                diesel::sql_query("SELECT * FROM gatehouse_open_journal($1, $2)")
                    .bind::<diesel::sql_types::BigInt, _>(journal_lock_key(tenant_id))
                    .bind::<diesel::sql_types::Text, _>(tenant_id)
                    .get_result(pg),
            )?;
            if opened.receiver_ids.len() != opened.receiver_urls.len() {
                return Err(StorageError::Query {
                    source: diesel::result::Error::DeserializationError(
                        "gatehouse_open_journal: receiver ids and urls differ in length".into(),
                    ),
                });
            }
            Ok(JournalHeads {
                last_record: opened.last_record,
                last_seq: opened.last_seq,
                receivers: opened
                    .receiver_ids
                    .into_iter()
                    .zip(opened.receiver_urls)
                    .collect(),
            })
        }
        crate::AnyConnection::Sqlite(_) => {
            let last_record = audit_log::table
                .filter(audit_log::tenant_id.eq(tenant_id))
                .order(audit_log::seq.desc())
                .select(audit_log::record)
                .limit(1)
                .single_value();
            let last_event = outbox_events::table
                .filter(outbox_events::tenant_id.eq(tenant_id))
                .select(diesel::dsl::max(outbox_events::seq))
                .single_value();
            let (last_record, last_seq) =
                classify(diesel::select((last_record, last_event)).get_result(conn))?;
            let receivers = crate::outbox::endpoints_for_tenant(conn, tenant_id)?
                .into_iter()
                .map(|e| (e.id, e.url))
                .collect();
            Ok(JournalHeads {
                last_record,
                last_seq,
                receivers,
            })
        }
    }
}

// ---------- role mapping ----------

/// A tenant's role rule set.
pub fn find_role_ruleset(conn: &mut Conn, tenant_id: &str) -> Result<Option<RoleRuleset>> {
    classify(
        role_rulesets::table
            .find(tenant_id)
            .select(RoleRuleset::as_select())
            .first(conn)
            .optional(),
    )
}

/// Insert or replace a tenant's role rule set.
pub fn put_role_ruleset(conn: &mut Conn, row: &RoleRuleset) -> Result<()> {
    let updated = classify(
        diesel::update(role_rulesets::table.find(&row.tenant_id))
            .set(row)
            .execute(conn),
    )?;
    if updated == 0 {
        classify(
            diesel::insert_into(role_rulesets::table)
                .values(row)
                .execute(conn),
        )?;
    }
    Ok(())
}

/// The grants a user holds now.
pub fn find_user_grants(conn: &mut Conn, user_id: &str) -> Result<Option<UserGrants>> {
    classify(
        user_grants::table
            .find(user_id)
            .select(UserGrants::as_select())
            .first(conn)
            .optional(),
    )
}

/// Insert or replace a user's grants.
pub fn put_user_grants(conn: &mut Conn, row: &UserGrants) -> Result<()> {
    let updated = classify(
        diesel::update(user_grants::table.find(&row.user_id))
            .set(row)
            .execute(conn),
    )?;
    if updated == 0 {
        classify(
            diesel::insert_into(user_grants::table)
                .values(row)
                .execute(conn),
        )?;
    }
    Ok(())
}

// ---------- refresh tokens ----------

/// Store a refresh token (hashed).
pub fn insert_refresh_token(conn: &mut Conn, row: &RefreshToken) -> Result<()> {
    classify(
        diesel::insert_into(refresh_tokens::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// Look a refresh token up and mark it used. Returns the row and whether it was fresh (a
/// second use of a rotated token returns `false`: the caller treats that as theft).
pub fn use_refresh_token(
    conn: &mut Conn,
    token_hash: &str,
) -> Result<Option<(RefreshToken, bool)>> {
    let Some(row) = classify(
        refresh_tokens::table
            .find(token_hash)
            .select(RefreshToken::as_select())
            .first(conn)
            .optional(),
    )?
    else {
        return Ok(None);
    };
    let fresh = classify(
        diesel::update(
            refresh_tokens::table
                .find(token_hash)
                .filter(refresh_tokens::used.eq(false)),
        )
        .set(refresh_tokens::used.eq(true))
        .execute(conn),
    )? == 1;
    Ok(Some((row, fresh)))
}
