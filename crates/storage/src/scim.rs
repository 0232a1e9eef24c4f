//! Queries of SCIM provisioning: directories, their tokens, users as SCIM sees them, groups and
//! memberships, and the filter language the facade translates SCIM filters into.
//!
//! Filters are executed as SQL on indexed columns only ([`UserField`], [`GroupField`]); the
//! facade refuses every other attribute before a query is built, so no request can make the
//! server scan resource JSON in the application.

use crate::models::*;
use crate::schema::*;
use crate::{Conn, StorageError};
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};

type Result<T> = std::result::Result<T, StorageError>;
type Db = <Conn as diesel::Connection>::Backend;

fn classify<T>(r: QueryResult<T>) -> Result<T> {
    r.map_err(StorageError::classify)
}

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both engines for ASCII.
    fn lower(x: Nullable<Text>) -> Nullable<Text>;
}

diesel::define_sql_function! {
    /// SQL `coalesce()` for a nullable condition, so that `not` over an unassigned attribute is
    /// true (SCIM's `ne` semantics) instead of SQL's unknown.
    fn coalesce(x: Nullable<Bool>, y: Bool) -> Bool;
}

// ---------- the filter language ----------

/// A comparison operator of a translated filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal (true for an unassigned attribute).
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Has a value (the literal is ignored).
    Present,
}

/// A literal of a translated filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lit {
    /// Text, already lower-cased by the caller for case-insensitive fields.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// No literal (`pr`).
    None,
}

/// A condition tree over the fields `F` of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond<F> {
    /// Both hold.
    And(Box<Cond<F>>, Box<Cond<F>>),
    /// Either holds.
    Or(Box<Cond<F>>, Box<Cond<F>>),
    /// The inner condition does not hold.
    Not(Box<Cond<F>>),
    /// `field op literal`.
    Test {
        /// Column.
        field: F,
        /// Operator.
        op: Op,
        /// Literal.
        value: Lit,
    },
}

/// The filterable (indexed) columns of a SCIM user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    /// `id` (exact).
    Id,
    /// `userName` (compared lower-cased).
    UserName,
    /// `externalId` (exact).
    ExternalId,
    /// `active` (boolean).
    Active,
    /// `emails.value` (the user's e-mail column, compared lower-cased).
    Email,
    /// `meta.created` (unix seconds as text is not comparable: only sorting uses it).
    Created,
    /// `meta.lastModified` (sorting only).
    Modified,
}

/// The filterable (indexed) columns of a SCIM group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    /// `id` (exact).
    Id,
    /// `displayName` (compared lower-cased).
    DisplayName,
    /// `externalId` (exact).
    ExternalId,
    /// `members.value`: the group has this user as a member (`eq` only).
    Member,
    /// `meta.created` (sorting only).
    Created,
    /// `meta.lastModified` (sorting only).
    Modified,
}

/// Sorting and paging of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<F> {
    /// Sort column, `None` for creation order.
    pub sort_by: Option<F>,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

type UserExpr = Box<dyn BoxableExpression<users::table, Db, SqlType = Nullable<Bool>>>;
type GroupExpr = Box<dyn BoxableExpression<groups::table, Db, SqlType = Nullable<Bool>>>;

fn like_pattern(op: Op, v: &str) -> String {
    let escaped = v
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    match op {
        Op::Co => format!("%{escaped}%"),
        Op::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

/// `expr op text` for a `Nullable<Text>` expression; `None` if the literal does not fit.
macro_rules! text_test {
    ($expr:expr, $op:expr, $value:expr) => {{
        match ($op, $value) {
            (Op::Present, _) => Some(Box::new($expr.is_not_null().nullable()) as _),
            (Op::Eq, Lit::Text(v)) => Some(Box::new($expr.eq(v.clone())) as _),
            (Op::Ne, Lit::Text(v)) => {
                Some(Box::new(coalesce($expr.ne(v.clone()), true).nullable()) as _)
            }
            (op @ (Op::Co | Op::Sw | Op::Ew), Lit::Text(v)) => {
                Some(Box::new($expr.like(like_pattern(op, v)).escape('\\')) as _)
            }
            (Op::Gt, Lit::Text(v)) => Some(Box::new($expr.gt(v.clone())) as _),
            (Op::Ge, Lit::Text(v)) => Some(Box::new($expr.ge(v.clone())) as _),
            (Op::Lt, Lit::Text(v)) => Some(Box::new($expr.lt(v.clone())) as _),
            (Op::Le, Lit::Text(v)) => Some(Box::new($expr.le(v.clone())) as _),
            _ => None,
        }
    }};
}

fn user_expr(c: &Cond<UserField>) -> Option<UserExpr> {
    Some(match c {
        Cond::And(a, b) => Box::new(user_expr(a)?.and(user_expr(b)?)),
        Cond::Or(a, b) => Box::new(user_expr(a)?.or(user_expr(b)?)),
        Cond::Not(a) => Box::new(diesel::dsl::not(coalesce(user_expr(a)?, false)).nullable()),
        Cond::Test { field, op, value } => match field {
            UserField::Id => text_test!(users::id.nullable(), *op, value)?,
            UserField::UserName => text_test!(users::user_name_lower, *op, value)?,
            UserField::ExternalId => text_test!(users::external_id, *op, value)?,
            UserField::Email => text_test!(lower(users::email), *op, value)?,
            UserField::Active => match (op, value) {
                (Op::Eq, Lit::Bool(b)) => Box::new(users::active.eq(*b).nullable()),
                (Op::Ne, Lit::Bool(b)) => Box::new(users::active.ne(*b).nullable()),
                (Op::Present, _) => Box::new(users::active.is_not_null().nullable()),
                _ => return None,
            },
            UserField::Created | UserField::Modified => return None,
        },
    })
}

fn group_expr(c: &Cond<GroupField>) -> Option<GroupExpr> {
    Some(match c {
        Cond::And(a, b) => Box::new(group_expr(a)?.and(group_expr(b)?)),
        Cond::Or(a, b) => Box::new(group_expr(a)?.or(group_expr(b)?)),
        Cond::Not(a) => Box::new(diesel::dsl::not(coalesce(group_expr(a)?, false)).nullable()),
        Cond::Test { field, op, value } => match field {
            GroupField::Id => text_test!(groups::id.nullable(), *op, value)?,
            GroupField::DisplayName => {
                text_test!(groups::display_name_lower.nullable(), *op, value)?
            }
            GroupField::ExternalId => text_test!(groups::external_id, *op, value)?,
            GroupField::Member => match (op, value) {
                (Op::Eq, Lit::Text(v)) => Box::new(
                    groups::id
                        .eq_any(
                            group_members::table
                                .filter(group_members::user_id.eq(v.clone()))
                                .select(group_members::group_id),
                        )
                        .nullable(),
                ),
                _ => return None,
            },
            GroupField::Created | GroupField::Modified => return None,
        },
    })
}

/// Why a condition could not be translated (an operator the field does not support).
fn unsupported() -> StorageError {
    StorageError::Query {
        source: diesel::result::Error::QueryBuilderError(
            "filter operator not supported for this column".into(),
        ),
    }
}

// ---------- directories and tokens ----------

/// Create a SCIM directory.
pub fn insert_directory(conn: &mut Conn, row: &ScimDirectory) -> Result<()> {
    classify(
        diesel::insert_into(scim_directories::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// A directory by id.
pub fn find_directory(conn: &mut Conn, id: &str) -> Result<Option<ScimDirectory>> {
    classify(
        scim_directories::table
            .find(id)
            .select(ScimDirectory::as_select())
            .first(conn)
            .optional(),
    )
}

/// The directories of a tenant, oldest first.
pub fn list_directories(conn: &mut Conn, tenant_id: &str) -> Result<Vec<ScimDirectory>> {
    classify(
        scim_directories::table
            .filter(scim_directories::tenant_id.eq(tenant_id))
            .order((
                scim_directories::created_at.asc(),
                scim_directories::id.asc(),
            ))
            .select(ScimDirectory::as_select())
            .load(conn),
    )
}

/// Store a token hash.
pub fn insert_token(conn: &mut Conn, row: &ScimToken) -> Result<()> {
    classify(
        diesel::insert_into(scim_tokens::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// The live token with this hash (not revoked, not past its overlap window) and its directory.
/// The lookup is by the unique hash index, so no secret is compared byte by byte in the app.
pub fn find_live_token(
    conn: &mut Conn,
    token_hash: &str,
    now: i64,
) -> Result<Option<(ScimToken, ScimDirectory)>> {
    classify(
        scim_tokens::table
            .inner_join(scim_directories::table)
            .filter(scim_tokens::token_hash.eq(token_hash))
            .filter(scim_tokens::revoked_at.is_null())
            .filter(
                scim_tokens::expires_at
                    .is_null()
                    .or(scim_tokens::expires_at.gt(now)),
            )
            .select((ScimToken::as_select(), ScimDirectory::as_select()))
            .first(conn)
            .optional(),
    )
}

/// The tokens of a directory, oldest first.
pub fn list_tokens(conn: &mut Conn, directory_id: &str) -> Result<Vec<ScimToken>> {
    classify(
        scim_tokens::table
            .filter(scim_tokens::directory_id.eq(directory_id))
            .order((scim_tokens::created_at.asc(), scim_tokens::id.asc()))
            .select(ScimToken::as_select())
            .load(conn),
    )
}

/// End the live tokens of a directory at `expires_at` (those already ending earlier keep their
/// end); returns how many changed.
pub fn expire_tokens(conn: &mut Conn, directory_id: &str, expires_at: i64) -> Result<usize> {
    classify(
        diesel::update(
            scim_tokens::table
                .filter(scim_tokens::directory_id.eq(directory_id))
                .filter(scim_tokens::revoked_at.is_null())
                .filter(
                    scim_tokens::expires_at
                        .is_null()
                        .or(scim_tokens::expires_at.gt(expires_at)),
                ),
        )
        .set(scim_tokens::expires_at.eq(Some(expires_at)))
        .execute(conn),
    )
}

/// Revoke one token of a directory; returns whether it existed and was live.
pub fn revoke_token(conn: &mut Conn, directory_id: &str, id: &str, at: i64) -> Result<bool> {
    let n = classify(
        diesel::update(
            scim_tokens::table
                .find(id)
                .filter(scim_tokens::directory_id.eq(directory_id))
                .filter(scim_tokens::revoked_at.is_null()),
        )
        .set(scim_tokens::revoked_at.eq(Some(at)))
        .execute(conn),
    )?;
    Ok(n == 1)
}

// ---------- users ----------

/// A user provisioned by `directory_id`.
pub fn find_directory_user(conn: &mut Conn, directory_id: &str, id: &str) -> Result<Option<User>> {
    if !storable(id) {
        return Ok(None);
    }
    classify(
        users::table
            .find(id)
            .filter(users::directory_id.eq(directory_id))
            .select(User::as_select())
            .first(conn)
            .optional(),
    )
}

/// Whether a key from a URL could be stored at all: PostgreSQL's `text` cannot hold NUL, so
/// a lookup by such a key would fail as a query error; no row can have it on either engine.
fn storable(key: &str) -> bool {
    !key.contains('\0')
}

/// The user of a tenant holding a (lower-cased) `userName`, whichever directory owns it.
pub fn find_user_by_user_name(
    conn: &mut Conn,
    tenant_id: &str,
    user_name_lower: &str,
) -> Result<Option<User>> {
    classify(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::user_name_lower.eq(user_name_lower))
            .select(User::as_select())
            .first(conn)
            .optional(),
    )
}

/// The SCIM-provisioned user a first SAML login links to: same tenant, not yet linked to any
/// connection, and whose `userName` equals the asserted subject or e-mail, or whose e-mail
/// equals the asserted e-mail (all lower-cased by the caller).
pub fn find_link_candidate(
    conn: &mut Conn,
    tenant_id: &str,
    subject_lower: &str,
    email_lower: Option<&str>,
) -> Result<Option<User>> {
    let mut names = vec![subject_lower.to_owned()];
    if let Some(e) = email_lower {
        names.push(e.to_owned());
    }
    let by_name = classify(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::connection_id.is_null())
            .filter(users::user_name_lower.eq_any(&names))
            .select(User::as_select())
            .first(conn)
            .optional(),
    )?;
    if by_name.is_some() {
        return Ok(by_name);
    }
    let Some(email) = email_lower else {
        return Ok(None);
    };
    classify(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::connection_id.is_null())
            .filter(lower(users::email).eq(email))
            .order(users::created_at.asc())
            .select(User::as_select())
            .first(conn)
            .optional(),
    )
}

/// Which of `ids` are users of `directory_id`.
pub fn existing_directory_users(
    conn: &mut Conn,
    directory_id: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(ids.len());
    // Chunked so that a 10,000-member push stays under every engine's bind-parameter limit.
    for chunk in ids.chunks(500) {
        let query = users::table
            .filter(users::directory_id.eq(directory_id))
            .filter(users::id.eq_any(chunk))
            .order(users::id)
            .select(users::id);
        // On PostgreSQL the users found are share-locked (in id order) until the caller
        // commits: a deletion that is committing meanwhile is waited for and then seen, so a
        // group push cannot add a user that has just left the directory. SQLite has one writer.
        out.extend(match &mut *conn {
            crate::AnyConnection::Postgresql(pg) => classify(query.for_share().load::<String>(pg))?,
            other => classify(query.load::<String>(other))?,
        });
    }
    Ok(out)
}

/// Each user's groups as one JSON array of `[id, displayName, displayName lower-cased]`,
/// selected beside the user: a correlated subquery per row of the page, so the page and its
/// groups are one statement (one round trip) instead of two. PostgreSQL orders the array as
/// [`groups_of_users`] orders its rows (by name, then id, in the database's collation). SQLite
/// promises no order inside `json_group_array`, so [`user_groups_from_json`] sorts by name and
/// id byte-wise there, which is the order of its default (`BINARY`) collation in
/// [`groups_of_users`].
const USER_GROUPS_JSON_PG: &str = "(SELECT json_agg(json_build_array(g.id, g.display_name, \
     g.display_name_lower) ORDER BY g.display_name_lower, g.id)::text \
     FROM group_members m INNER JOIN groups g ON g.id = m.group_id WHERE m.user_id = users.id)";
const USER_GROUPS_JSON_SQLITE: &str = "(SELECT json_group_array(json_array(g.id, \
     g.display_name, g.display_name_lower)) \
     FROM group_members m INNER JOIN groups g ON g.id = m.group_id WHERE m.user_id = users.id)";

/// Declares a select-list expression whose SQL is one of the `USER_GROUPS_JSON_*` texts. Not
/// diesel's `dsl::sql`: a literal marks its statement unsafe to keep prepared, and PostgreSQL
/// then parsed and planned the `userName eq` lookup at every execution (0.23 ms instead of
/// 0.02). One type per engine, each with a static query id, so that a statement made of static
/// parts is found in diesel's cache by type, without its SQL being built at every call.
macro_rules! constant_sql_expression {
    ($(#[$doc:meta])* $name:ident, $sql:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        struct $name;

        impl diesel::expression::Expression for $name {
            type SqlType = Nullable<Text>;
        }

        impl<QS> diesel::expression::AppearsOnTable<QS> for $name {}

        impl<QS> diesel::expression::SelectableExpression<QS> for $name {}

        impl<GB> diesel::expression::ValidGrouping<GB> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }

        impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }
    };
}

constant_sql_expression!(
    /// [`USER_GROUPS_JSON_PG`] as an expression.
    UserGroupsJsonPg,
    USER_GROUPS_JSON_PG
);
constant_sql_expression!(
    /// [`USER_GROUPS_JSON_SQLITE`] as an expression.
    UserGroupsJsonSqlite,
    USER_GROUPS_JSON_SQLITE
);

/// Load `query`'s users, each with its groups' JSON (the engine's `UserGroupsJson*`).
macro_rules! load_users_with_groups {
    ($conn:expr, $query:expr) => {
        match $conn {
            Conn::Postgresql(_) => classify(
                $query
                    .select((User::as_select(), UserGroupsJsonPg))
                    .load::<(User, Option<String>)>($conn),
            ),
            Conn::Sqlite(_) => classify(
                $query
                    .select((User::as_select(), UserGroupsJsonSqlite))
                    .load::<(User, Option<String>)>($conn),
            ),
        }
    };
}

/// [`load_users_with_groups`] for a query of static parts, run on the engine's own connection
/// instead of through [`Conn`]: diesel's `MultiConnection` builds a statement's SQL text at
/// every execution (to hand it to the engine's connection), even for a statement it keeps
/// prepared, which was a tenth of the server's own CPU in an IdP's `userName eq` lookup. The
/// engine's connection finds a static statement in its cache by type.
macro_rules! load_users_with_groups_natively {
    ($conn:expr, $query:expr) => {
        match $conn {
            Conn::Postgresql(c) => classify(
                $query
                    .select((User::as_select(), UserGroupsJsonPg))
                    .load::<(User, Option<String>)>(c),
            ),
            Conn::Sqlite(c) => classify(
                $query
                    .select((User::as_select(), UserGroupsJsonSqlite))
                    .load::<(User, Option<String>)>(c),
            ),
        }
    };
}

/// A user's groups as [`USER_GROUPS_JSON_PG`] / [`USER_GROUPS_JSON_SQLITE`] select them:
/// (group id, displayName), ordered as [`groups_of_users`] orders them.
fn user_groups_from_json(conn: &Conn, json: Option<&str>) -> Result<Vec<(String, String)>> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let mut groups: Vec<(String, String, String)> =
        serde_json::from_str(json).map_err(|e| StorageError::Query {
            source: diesel::result::Error::DeserializationError(Box::new(e)),
        })?;
    if matches!(conn, Conn::Sqlite(_)) {
        groups.sort_by(|a, b| (&a.2, &a.0).cmp(&(&b.2, &b.0)));
    }
    Ok(groups
        .into_iter()
        .map(|(id, name, _lower)| (id, name))
        .collect())
}

/// [`find_directory_user`] with the user's groups, in one statement (as [`search_users`]
/// reads them).
pub fn find_directory_user_with_groups(
    conn: &mut Conn,
    directory_id: &str,
    id: &str,
) -> Result<Option<UserWithGroups>> {
    if !storable(id) {
        return Ok(None);
    }
    let by_id = users::table
        .filter(users::id.eq(id))
        .filter(users::directory_id.eq(directory_id));
    let rows = load_users_with_groups_natively!(&mut *conn, by_id)?;
    match rows.into_iter().next() {
        Some((user, groups)) => {
            let groups = user_groups_from_json(conn, groups.as_deref())?;
            Ok(Some((user, groups)))
        }
        None => Ok(None),
    }
}

/// A user with its groups as (group id, displayName).
pub type UserWithGroups = (User, Vec<(String, String)>);

/// Users of a directory matching `cond`: the total count and one page, each user with its
/// groups as (group id, displayName) in the order of [`groups_of_users`].
pub fn search_users(
    conn: &mut Conn,
    directory_id: &str,
    cond: Option<&Cond<UserField>>,
    page: &Page<UserField>,
) -> Result<(i64, Vec<UserWithGroups>)> {
    let build = || -> Result<_> {
        let mut q = users::table
            .filter(users::directory_id.eq(directory_id.to_owned()))
            .into_boxed();
        if let Some(c) = cond {
            q = q.filter(user_expr(c).ok_or_else(unsupported)?);
        }
        Ok(q)
    };
    let mut q = build()?;
    q = match (page.sort_by, page.descending) {
        (Some(UserField::UserName), false) => q.order(users::user_name_lower.asc()),
        (Some(UserField::UserName), true) => q.order(users::user_name_lower.desc()),
        (Some(UserField::ExternalId), false) => q.order(users::external_id.asc()),
        (Some(UserField::ExternalId), true) => q.order(users::external_id.desc()),
        (Some(UserField::Email), false) => q.order(users::email.asc()),
        (Some(UserField::Email), true) => q.order(users::email.desc()),
        (Some(UserField::Active), false) => q.order(users::active.asc()),
        (Some(UserField::Active), true) => q.order(users::active.desc()),
        (Some(UserField::Modified), false) => q.order(users::updated_at.asc()),
        (Some(UserField::Modified), true) => q.order(users::updated_at.desc()),
        (Some(UserField::Id), false) => q.order(users::id.asc()),
        (Some(UserField::Id), true) => q.order(users::id.desc()),
        (_, true) => q.order(users::created_at.desc()),
        (_, false) => q.order(users::created_at.asc()),
    };
    let rows = match unique_key_lookup(cond, page) {
        // An IdP's "does this user exist?" (`userName eq`, `externalId eq`, in creation
        // order): the same statement as below, but built from static parts.
        Some((field, value)) => {
            let by_directory = users::table
                .filter(users::directory_id.eq(directory_id))
                .order((users::created_at.asc(), users::id.asc()))
                .offset(page.offset)
                .limit(page.limit);
            if field == UserField::UserName {
                load_users_with_groups_natively!(
                    &mut *conn,
                    by_directory.filter(users::user_name_lower.eq(value))
                )?
            } else {
                load_users_with_groups_natively!(
                    &mut *conn,
                    by_directory.filter(users::external_id.eq(value))
                )?
            }
        }
        None => load_users_with_groups!(
            conn,
            q.then_order_by(users::id.asc())
                .offset(page.offset)
                .limit(page.limit)
        )?,
    };
    let total = match total_from_page(page, rows.len()) {
        Some(total) => total,
        None => classify(build()?.count().get_result(conn))?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for (user, groups) in rows {
        let groups = user_groups_from_json(conn, groups.as_deref())?;
        out.push((user, groups));
    }
    Ok((total, out))
}

/// `userName eq "…"` or `externalId eq "…"` in creation order, the lookups IdPs make before
/// every create: the field and the (already lower-cased, for userName) value.
fn unique_key_lookup<'c>(
    cond: Option<&'c Cond<UserField>>,
    page: &Page<UserField>,
) -> Option<(UserField, &'c str)> {
    if page.sort_by.is_some() || page.descending {
        return None;
    }
    match cond? {
        Cond::Test {
            field: field @ (UserField::UserName | UserField::ExternalId),
            op: Op::Eq,
            value: Lit::Text(value),
        } => Some((*field, value.as_str())),
        _ => None,
    }
}

/// The number of matches when the page itself shows it: a page that is not full and not past
/// the end holds the last match. An IdP's `userName eq` lookup (0 or 1 row in a page of 100)
/// then costs one query instead of a `COUNT(*)` and the page.
fn total_from_page<F>(page: &Page<F>, rows: usize) -> Option<i64> {
    let rows = i64::try_from(rows).ok()?;
    (rows < page.limit && (rows > 0 || page.offset == 0)).then_some(page.offset + rows)
}

/// Write every column of a user only if its version is still `expected` (optimistic
/// concurrency: on PostgreSQL a concurrent writer's commit makes this match nothing); returns
/// whether the row was written.
pub fn update_user_versioned(conn: &mut Conn, row: &User, expected: i64) -> Result<bool> {
    let n = classify(
        diesel::update(
            users::table
                .find(&row.id)
                .filter(users::version.eq(expected)),
        )
        .set(row)
        .execute(conn),
    )?;
    Ok(n == 1)
}

/// Delete a user and everything that hangs off it (memberships, sessions with their codes and
/// access tokens); returns whether the user existed. Audit records are kept: they are the
/// history of what happened.
pub fn hard_delete_user(conn: &mut Conn, tenant_id: &str, user_id: &str) -> Result<bool> {
    let session_ids: Vec<String> = classify(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .select(sessions::id)
            .load(conn),
    )?;
    for chunk in session_ids.chunks(500) {
        classify(
            diesel::delete(access_tokens::table.filter(access_tokens::session_id.eq_any(chunk)))
                .execute(conn),
        )?;
        classify(
            diesel::delete(auth_codes::table.filter(auth_codes::session_id.eq_any(chunk)))
                .execute(conn),
        )?;
        classify(
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(chunk)))
                .execute(conn),
        )?;
    }
    classify(diesel::delete(user_grants::table.find(user_id)).execute(conn))?;
    classify(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn))?;
    classify(
        diesel::delete(group_members::table.filter(group_members::user_id.eq(user_id)))
            .execute(conn),
    )?;
    let n = classify(
        diesel::delete(
            users::table
                .find(user_id)
                .filter(users::tenant_id.eq(tenant_id)),
        )
        .execute(conn),
    )?;
    Ok(n == 1)
}

/// Active users of a tenant: the seat count.
pub fn count_active_users(conn: &mut Conn, tenant_id: &str) -> Result<i64> {
    classify(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::active.eq(true))
            .count()
            .get_result(conn),
    )
}

// ---------- groups ----------

/// Create a group.
pub fn insert_group(conn: &mut Conn, row: &Group) -> Result<()> {
    classify(diesel::insert_into(groups::table).values(row).execute(conn)).map(drop)
}

/// Replace every column of a group.
pub fn update_group(conn: &mut Conn, row: &Group) -> Result<usize> {
    classify(
        diesel::update(groups::table.find(&row.id))
            .set(row)
            .execute(conn),
    )
}

/// A group of `directory_id`.
pub fn find_directory_group(
    conn: &mut Conn,
    directory_id: &str,
    id: &str,
) -> Result<Option<Group>> {
    if !storable(id) {
        return Ok(None);
    }
    classify(
        groups::table
            .find(id)
            .filter(groups::directory_id.eq(directory_id))
            .select(Group::as_select())
            .first(conn)
            .optional(),
    )
}

/// Write every column of a group only if its version is still `expected`; returns whether the
/// row was written.
pub fn update_group_versioned(conn: &mut Conn, row: &Group, expected: i64) -> Result<bool> {
    let n = classify(
        diesel::update(
            groups::table
                .find(&row.id)
                .filter(groups::version.eq(expected)),
        )
        .set(row)
        .execute(conn),
    )?;
    Ok(n == 1)
}

/// Delete a group and its memberships.
pub fn delete_group(conn: &mut Conn, id: &str) -> Result<usize> {
    classify(
        diesel::delete(group_members::table.filter(group_members::group_id.eq(id))).execute(conn),
    )?;
    classify(diesel::delete(groups::table.find(id)).execute(conn))
}

/// Groups of a directory matching `cond`: the total count and one page.
pub fn search_groups(
    conn: &mut Conn,
    directory_id: &str,
    cond: Option<&Cond<GroupField>>,
    page: &Page<GroupField>,
) -> Result<(i64, Vec<Group>)> {
    let build = || -> Result<_> {
        let mut q = groups::table
            .filter(groups::directory_id.eq(directory_id.to_owned()))
            .into_boxed();
        if let Some(c) = cond {
            q = q.filter(group_expr(c).ok_or_else(unsupported)?);
        }
        Ok(q)
    };
    let mut q = build()?;
    q = match (page.sort_by, page.descending) {
        (Some(GroupField::DisplayName), false) => q.order(groups::display_name_lower.asc()),
        (Some(GroupField::DisplayName), true) => q.order(groups::display_name_lower.desc()),
        (Some(GroupField::ExternalId), false) => q.order(groups::external_id.asc()),
        (Some(GroupField::ExternalId), true) => q.order(groups::external_id.desc()),
        (Some(GroupField::Modified), false) => q.order(groups::updated_at.asc()),
        (Some(GroupField::Modified), true) => q.order(groups::updated_at.desc()),
        (Some(GroupField::Id), false) => q.order(groups::id.asc()),
        (Some(GroupField::Id), true) => q.order(groups::id.desc()),
        (_, true) => q.order(groups::created_at.desc()),
        (_, false) => q.order(groups::created_at.asc()),
    };
    let rows = classify(
        q.then_order_by(groups::id.asc())
            .offset(page.offset)
            .limit(page.limit)
            .select(Group::as_select())
            .load(conn),
    )?;
    let total = match total_from_page(page, rows.len()) {
        Some(total) => total,
        None => classify(build()?.count().get_result(conn))?,
    };
    Ok((total, rows))
}

/// Members of a group as (user id, userName), in userName order.
pub fn list_group_members(
    conn: &mut Conn,
    group_id: &str,
) -> Result<Vec<(String, Option<String>)>> {
    classify(
        group_members::table
            .inner_join(users::table)
            .filter(group_members::group_id.eq(group_id))
            .order(users::user_name_lower.asc())
            .select((users::id, users::user_name))
            .load(conn),
    )
}

/// Add members (ids already checked to be users of the group's directory); existing ones are
/// skipped.
pub fn add_group_members(conn: &mut Conn, group_id: &str, user_ids: &[String]) -> Result<()> {
    let existing: std::collections::HashSet<String> = classify(
        group_members::table
            .filter(group_members::group_id.eq(group_id))
            .select(group_members::user_id)
            .load::<String>(conn),
    )?
    .into_iter()
    .collect();
    // One row per statement: the multi-engine backend has no batch insert. It runs inside the
    // caller's transaction, so a large push is still one commit.
    for id in user_ids.iter().filter(|id| !existing.contains(id.as_str())) {
        classify(
            diesel::insert_into(group_members::table)
                .values((
                    group_members::group_id.eq(group_id),
                    group_members::user_id.eq(id),
                ))
                .execute(conn),
        )?;
    }
    Ok(())
}

/// Remove members of a group.
pub fn remove_group_members(conn: &mut Conn, group_id: &str, user_ids: &[String]) -> Result<()> {
    for chunk in user_ids.chunks(500) {
        classify(
            diesel::delete(
                group_members::table
                    .filter(group_members::group_id.eq(group_id))
                    .filter(group_members::user_id.eq_any(chunk)),
            )
            .execute(conn),
        )?;
    }
    Ok(())
}

/// The groups a user belongs to as (group id, displayName), by name.
pub fn groups_of_user(conn: &mut Conn, user_id: &str) -> Result<Vec<(String, String)>> {
    let mut by_user = groups_of_users(conn, &[user_id.to_owned()])?;
    Ok(by_user.remove(user_id).unwrap_or_default())
}

/// The groups of several users at once (one query for a whole page of a listing, instead of
/// one per user), as user id → (group id, displayName) by name. Users in no group are absent.
pub fn groups_of_users(
    conn: &mut Conn,
    user_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<(String, String)>>> {
    let mut by_user: std::collections::HashMap<String, Vec<(String, String)>> =
        std::collections::HashMap::new();
    // Bounded by the page size, but chunked anyway so no caller can exceed SQLite's limit on
    // bound parameters.
    for chunk in user_ids.chunks(500) {
        let rows: Vec<(String, String, String)> = classify(
            group_members::table
                .inner_join(groups::table)
                .filter(group_members::user_id.eq_any(chunk))
                // The id breaks ties between groups of the same name: the order is part of a
                // user's representation and of its ETag digest, so it must not vary.
                .order((
                    group_members::user_id.asc(),
                    groups::display_name_lower.asc(),
                    groups::id.asc(),
                ))
                .select((group_members::user_id, groups::id, groups::display_name))
                .load(conn),
        )?;
        for (user_id, group_id, name) in rows {
            by_user.entry(user_id).or_default().push((group_id, name));
        }
    }
    Ok(by_user)
}

/// Remove a user from every group; returns the group ids it left. The groups' representations
/// lose a member, so they are touched ([`touch_groups`]) — first, before the membership rows
/// are deleted: a concurrent write to one of those groups locks the group row and then its
/// membership rows, and taking them in the other order here would deadlock with it.
pub fn remove_user_memberships(conn: &mut Conn, user_id: &str, now: i64) -> Result<Vec<String>> {
    let ids = group_ids_of_user(conn, user_id)?;
    touch_groups(conn, &ids, now)?;
    classify(
        diesel::delete(group_members::table.filter(group_members::user_id.eq(user_id)))
            .execute(conn),
    )?;
    Ok(ids)
}

/// The ids of the groups a user is a member of.
pub fn group_ids_of_user(conn: &mut Conn, user_id: &str) -> Result<Vec<String>> {
    classify(
        group_members::table
            .filter(group_members::user_id.eq(user_id))
            .select(group_members::group_id)
            .load(conn),
    )
}

/// Record that these groups' SCIM representations changed although their rows did not (a
/// member was renamed or removed through its user): a new `meta.version`, so an ETag taken
/// before no longer matches, and `meta.lastModified`. On PostgreSQL the rows are locked in id
/// order first, so two such writes over overlapping groups cannot deadlock.
pub fn touch_groups(conn: &mut Conn, group_ids: &[String], now: i64) -> Result<()> {
    let mut ids = group_ids.to_vec();
    ids.sort();
    ids.dedup();
    for chunk in ids.chunks(500) {
        if let crate::AnyConnection::Postgresql(pg) = conn {
            classify(
                groups::table
                    .filter(groups::id.eq_any(chunk))
                    .order(groups::id)
                    .select(groups::id)
                    .for_no_key_update()
                    .load::<String>(pg),
            )?;
        }
        classify(
            diesel::update(groups::table.filter(groups::id.eq_any(chunk)))
                .set((
                    groups::version.eq(groups::version + 1),
                    groups::updated_at.eq(now),
                ))
                .execute(conn),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod total_from_page_tests {
    use super::{total_from_page, Page, UserField};

    fn page(offset: i64, limit: i64) -> Page<UserField> {
        Page {
            sort_by: None,
            descending: false,
            offset,
            limit,
        }
    }

    #[test]
    fn a_page_that_is_not_full_shows_the_total_and_anything_else_needs_a_count() {
        assert_eq!(
            total_from_page(&page(0, 100), 0),
            Some(0),
            "nothing matches"
        );
        assert_eq!(
            total_from_page(&page(0, 100), 1),
            Some(1),
            "userName eq hit"
        );
        assert_eq!(total_from_page(&page(200, 100), 7), Some(207), "last page");
        assert_eq!(
            total_from_page(&page(0, 100), 100),
            None,
            "full: more may follow"
        );
        assert_eq!(total_from_page(&page(200, 100), 0), None, "past the end");
        assert_eq!(
            total_from_page(&page(0, 0), 0),
            None,
            "count=0 asks only for the total"
        );
    }
}

#[cfg(test)]
mod lookup_plan_tests {
    use crate::testing::TestDatabase;
    use crate::{AnyConnection, Store};
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct PlanRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    /// SQLite's plan for the shape of query `search_users`/`search_groups` send for an IdP's
    /// existence check (filter on one column, default creation order).
    fn plan(store: &Store, table: &str, column: &str) -> String {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE directory_id = 'd' AND {column} = 'x' \
             ORDER BY created_at ASC, id ASC LIMIT 100 OFFSET 0"
        );
        store
            .read(|conn| match conn {
                AnyConnection::Sqlite(c) => diesel::sql_query(sql.as_str())
                    .load::<PlanRow>(c)
                    .map_err(crate::StorageError::from),
                AnyConnection::Postgresql(_) => Ok(Vec::new()),
            })
            .unwrap()
            .into_iter()
            .map(|r| r.detail)
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn sqlite_existence_checks_search_their_lookup_index_instead_of_scanning_the_directory() {
        let db = TestDatabase::sqlite().unwrap();
        let store = Store::open(&db.url).unwrap();
        for (table, column, index) in [
            ("users", "user_name_lower", "users_directory_user_name"),
            ("users", "external_id", "users_directory_external"),
            ("\"groups\"", "display_name_lower", "groups_directory_name"),
            ("\"groups\"", "external_id", "groups_directory_external"),
        ] {
            let plan = plan(&store, table, column);
            assert!(plan.contains(index), "{table}.{column}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{table}.{column}: {plan}");
        }
    }
}
