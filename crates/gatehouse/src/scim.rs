//! SCIM 2.0 provisioning (RFC 7643/7644) as facade operations: directories and their bearer
//! tokens, Users and Groups CRUD with filters executed as SQL, ETags, lifecycle (deactivation
//! ends every session at once, data is kept, reactivation restores the same user), seats, and
//! the audit trail of every change.
//!
//! The protocol itself (validation, PATCH dialects, filter grammar, projection) is `scim-model`;
//! this module decides what is stored where and what each change means for the rest of
//! Gatehouse. Every mutating operation is one transaction that also appends its audit records.

use crate::error::{GatehouseError, Result};
use crate::util::token_hash;
use crate::{Actor, Call, Gatehouse};
use audit::{AuditEvent, ChangeSource, SessionEndReason};
use scim_model::discovery::{self, ServiceProviderLimits};
use scim_model::filter::CompValue;
use scim_model::schema::{self, ResourceSchema};
use scim_model::{
    AttrPath, BulkLimits, ChangeSummary, CompareOp, Filter, Meta, PaginationLimits, PatchRequest,
    Projection, ScimError, SearchRequest, SortOrder,
};
use scim_model::{BulkMethod, BulkOperation, BulkOperationResult, BulkRequest, BulkResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use storage::scim::{self as sq, Cond, GroupField, Lit, Op, Page, UserField};
use storage::{models, queries, StorageError};

/// The largest page served (advertised as `filter.maxResults`).
pub const SCIM_MAX_RESULTS: u64 = 1000;
/// The page size when a client sends no `count`.
pub const SCIM_DEFAULT_COUNT: u64 = 100;
/// The most operations one PATCH may carry.
pub const SCIM_MAX_PATCH_OPERATIONS: usize = 1000;
/// Bulk limits (advertised in `/ServiceProviderConfig`; the server bounds bodies to the payload
/// size).
pub const SCIM_BULK_LIMITS: BulkLimits = BulkLimits {
    max_operations: 1000,
    max_payload_size: 1024 * 1024,
};
/// Longest bearer token considered (anything longer is refused before hashing).
const MAX_TOKEN_LEN: usize = 256;

/// Pagination limits of every list request.
pub const SCIM_PAGINATION: PaginationLimits = PaginationLimits {
    default_count: SCIM_DEFAULT_COUNT,
    max_count: SCIM_MAX_RESULTS,
};

/// Which resource endpoint a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScimKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ScimKind {
    fn schema(self) -> &'static ResourceSchema {
        match self {
            ScimKind::User => &schema::USER,
            ScimKind::Group => &schema::GROUP,
        }
    }

    fn name(self) -> &'static str {
        self.schema().name
    }
}

/// A SCIM directory as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimDirectoryView {
    /// Directory id (part of the base URL).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Label (`Okta`, `Entra ID production`).
    pub name: String,
    /// The SCIM base URL to paste into the IdP.
    pub base_url: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A new SCIM bearer token, shown exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimTokenIssued {
    /// Token id (for revocation; appears in audit records).
    pub token_id: String,
    /// The bearer token. Only its SHA-256 is stored.
    pub token: String,
    /// The directory it authenticates.
    pub directory_id: String,
    /// The SCIM base URL.
    pub base_url: String,
}

/// A SCIM token without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimTokenView {
    /// Token id.
    pub id: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// End of its overlap window after a rotation (RFC 3339).
    pub expires_at: Option<String>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// The authenticated SCIM client of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimClient {
    /// Directory the token belongs to.
    pub directory_id: String,
    /// Tenant of that directory; every read and write is confined to it.
    pub tenant_id: String,
    /// Token id (never the secret).
    pub token_id: String,
}

impl ScimClient {
    /// The actor of calls made by this client.
    pub fn actor(&self) -> Actor {
        Actor::Scim {
            directory_id: self.directory_id.clone(),
            token_id: self.token_id.clone(),
        }
    }
}

/// What a SCIM request produced, for the server to send.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimResponse {
    /// HTTP status (200, 201, 204, 304).
    pub status: u16,
    /// Body (absent for 204 and 304).
    pub body: Option<Value>,
    /// `ETag` header.
    pub etag: Option<String>,
    /// `Location` header (on create).
    pub location: Option<String>,
}

/// The tenant's seat count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatCount {
    /// Tenant id.
    pub tenant_id: String,
    /// Active users (deactivated and SCIM-deleted users do not count).
    pub active_users: i64,
}

impl From<ScimError> for GatehouseError {
    fn from(e: ScimError) -> Self {
        GatehouseError::Scim {
            status: e.status(),
            scim_type: e.scim_type().map(|t| t.as_str()),
            detail: e.to_string(),
        }
    }
}

fn scim_err(
    status: u16,
    scim_type: Option<&'static str>,
    detail: impl Into<String>,
) -> GatehouseError {
    GatehouseError::Scim {
        status,
        scim_type,
        detail: detail.into(),
    }
}

const CONCURRENT: &str = "concurrent SCIM update of the same resource";

fn concurrent() -> GatehouseError {
    GatehouseError::Conflict {
        what: CONCURRENT.into(),
    }
}

fn is_concurrent(e: &GatehouseError) -> bool {
    matches!(e, GatehouseError::Conflict { what } if what == CONCURRENT)
}

fn not_found() -> GatehouseError {
    ScimError::NotFound.into()
}

fn not_filterable(attribute: &str) -> GatehouseError {
    scim_err(
        400,
        Some("invalidFilter"),
        format!(
            "attribute {attribute} is not filterable here; filterable: id, userName, externalId, \
             active, emails.value (Users); id, displayName, externalId, members.value (Groups)"
        ),
    )
}

fn uniqueness(e: StorageError) -> GatehouseError {
    match e {
        StorageError::Conflict { .. } => ScimError::Uniqueness {
            attribute: "userName".into(),
        }
        .into(),
        other => other.into(),
    }
}

/// `W/"<version>"`: a group's ETag (its row is written whenever its representation changes:
/// its own writes, and a member's rename or deletion through `touch_groups`).
pub fn scim_etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A user's ETag: its row version and, when it is in groups, a digest of them
/// (`W/"<version>.<digest>"`). A user's `groups` change through group writes (a membership,
/// a rename) that do not write the user row; bumping the row from those writes would lock user
/// rows inside group transactions, which deadlocked against concurrent group pushes and user
/// writes. The digest moves the ETag with the representation without a write.
pub fn user_etag(version: i64, groups: &[(String, String)]) -> String {
    if groups.is_empty() {
        return scim_etag(version);
    }
    let mut hasher = openssl::sha::Sha256::new();
    for (id, name) in groups {
        for part in [id, name] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
    }
    let digest: String = hasher.finish()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("W/\"{version}.{digest}\"")
}

/// Whether an `If-Match` / `If-None-Match` header value names this entity tag (`*` always
/// does). Weak comparison: `W/` and the quotes are not part of the identity.
fn etag_matches(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| {
        tag.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let want = opaque(etag);
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == want)
}

fn check_if_match(if_match: Option<&str>, etag: &str) -> Result<()> {
    match if_match {
        Some(h) if !etag_matches(h, etag) => Err(ScimError::PreconditionFailed.into()),
        _ => Ok(()),
    }
}

/// The entity tag a rendered resource carries in `meta.version`.
fn etag_of(resource: &Value) -> String {
    resource
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn time(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn parse_object(text: Option<&str>) -> Map<String, Value> {
    text.and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// Drop the server-owned parts before storing a resource.
fn stored_form(resource: &Value, extra: &str) -> Value {
    let mut obj = resource.as_object().cloned().unwrap_or_default();
    obj.remove("id");
    obj.remove("meta");
    obj.remove(extra);
    Value::Object(obj)
}

// ---------- filter translation ----------

fn is_core(path: &AttrPath, schema: &ResourceSchema) -> bool {
    path.urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(schema.core.id))
}

fn op_of(op: CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

/// How a field compares: as lower-cased text, exact text, or a boolean.
#[derive(Clone, Copy)]
enum FieldKind {
    CaseInsensitive,
    Exact,
    Boolean,
    /// Membership: `eq` with a user id only.
    Membership,
}

fn comparison<F: Copy>(
    field: F,
    kind: FieldKind,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Result<Cond<F>> {
    let present = Cond::Test {
        field,
        op: Op::Present,
        value: Lit::None,
    };
    let bad_value = || {
        scim_err(
            400,
            Some("invalidFilter"),
            format!("the value compared with {name} has the wrong type"),
        )
    };
    let value = match (op, value) {
        (CompareOp::Eq, CompValue::Null) => return Ok(Cond::Not(Box::new(present))),
        (CompareOp::Ne, CompValue::Null) => return Ok(present),
        (_, CompValue::Null) => return Err(bad_value()),
        (_, v) => v,
    };
    let lit = match (kind, value) {
        (FieldKind::CaseInsensitive, CompValue::Str(s)) => Lit::Text(s.to_lowercase()),
        (FieldKind::Exact | FieldKind::Membership, CompValue::Str(s)) => Lit::Text(s.clone()),
        (FieldKind::Boolean, CompValue::Bool(b)) => Lit::Bool(*b),
        // Entra sends booleans as strings.
        (FieldKind::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("true") => {
            Lit::Bool(true)
        }
        (FieldKind::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("false") => {
            Lit::Bool(false)
        }
        _ => return Err(bad_value()),
    };
    let allowed = match kind {
        FieldKind::Boolean | FieldKind::Membership => matches!(op, CompareOp::Eq | CompareOp::Ne),
        _ => true,
    } && !(matches!(kind, FieldKind::Membership) && op == CompareOp::Ne);
    if !allowed {
        return Err(scim_err(
            400,
            Some("invalidFilter"),
            format!("operator {} is not supported for {name}", op.as_str()),
        ));
    }
    Ok(Cond::Test {
        field,
        op: op_of(op),
        value: lit,
    })
}

/// A user field by attribute path (`parent` is set inside a value filter such as `emails[...]`).
fn user_field(
    path: &AttrPath,
    parent: Option<&AttrPath>,
) -> Option<(UserField, FieldKind, String)> {
    let (name, sub) = match parent {
        Some(p) => (p.name.as_str(), Some(path.name.as_str())),
        None => (path.name.as_str(), path.sub_attribute.as_deref()),
    };
    let lname = name.to_ascii_lowercase();
    let lsub = sub.map(str::to_ascii_lowercase);
    let r = match (lname.as_str(), lsub.as_deref()) {
        ("id", None) => (UserField::Id, FieldKind::Exact, "id"),
        ("username", None) => (UserField::UserName, FieldKind::CaseInsensitive, "userName"),
        ("externalid", None) => (UserField::ExternalId, FieldKind::Exact, "externalId"),
        ("active", None) => (UserField::Active, FieldKind::Boolean, "active"),
        ("emails", None | Some("value")) => {
            (UserField::Email, FieldKind::CaseInsensitive, "emails.value")
        }
        _ => return None,
    };
    Some((r.0, r.1, r.2.to_owned()))
}

fn group_field(
    path: &AttrPath,
    parent: Option<&AttrPath>,
) -> Option<(GroupField, FieldKind, String)> {
    let (name, sub) = match parent {
        Some(p) => (p.name.as_str(), Some(path.name.as_str())),
        None => (path.name.as_str(), path.sub_attribute.as_deref()),
    };
    let lname = name.to_ascii_lowercase();
    let lsub = sub.map(str::to_ascii_lowercase);
    let r = match (lname.as_str(), lsub.as_deref()) {
        ("id", None) => (GroupField::Id, FieldKind::Exact, "id"),
        ("displayname", None) => (
            GroupField::DisplayName,
            FieldKind::CaseInsensitive,
            "displayName",
        ),
        ("externalid", None) => (GroupField::ExternalId, FieldKind::Exact, "externalId"),
        ("members", None | Some("value")) => {
            (GroupField::Member, FieldKind::Membership, "members.value")
        }
        _ => return None,
    };
    Some((r.0, r.1, r.2.to_owned()))
}

type FieldOf<F> = fn(&AttrPath, Option<&AttrPath>) -> Option<(F, FieldKind, String)>;

fn translate<F: Copy>(
    f: &Filter,
    schema: &ResourceSchema,
    field_of: FieldOf<F>,
    parent: Option<&AttrPath>,
) -> Result<Cond<F>> {
    let describe = |p: &AttrPath| match parent {
        Some(parent) => format!("{}.{}", parent.name, p.name),
        None => p.to_string(),
    };
    let resolve = |p: &AttrPath| -> Result<(F, FieldKind, String)> {
        let core = parent.map_or_else(|| is_core(p, schema), |pp| is_core(pp, schema));
        let found = if core { field_of(p, parent) } else { None };
        found.ok_or_else(|| not_filterable(&describe(p)))
    };
    Ok(match f {
        Filter::And(a, b) => Cond::And(
            Box::new(translate(a, schema, field_of, parent)?),
            Box::new(translate(b, schema, field_of, parent)?),
        ),
        Filter::Or(a, b) => Cond::Or(
            Box::new(translate(a, schema, field_of, parent)?),
            Box::new(translate(b, schema, field_of, parent)?),
        ),
        Filter::Not(a) => Cond::Not(Box::new(translate(a, schema, field_of, parent)?)),
        Filter::Present(p) => {
            let (field, kind, name) = resolve(p)?;
            if matches!(kind, FieldKind::Membership) {
                return Err(scim_err(
                    400,
                    Some("invalidFilter"),
                    format!("operator pr is not supported for {name}"),
                ));
            }
            Cond::Test {
                field,
                op: Op::Present,
                value: Lit::None,
            }
        }
        Filter::Compare { path, op, value } => {
            let (field, kind, name) = resolve(path)?;
            comparison(field, kind, &name, *op, value)?
        }
        Filter::ValuePath { path, filter } => {
            if parent.is_some() {
                return Err(not_filterable(&path.to_string()));
            }
            translate(filter, schema, field_of, Some(path))?
        }
    })
}

fn user_sort(p: &AttrPath) -> Option<UserField> {
    let name = p.name.to_ascii_lowercase();
    let sub = p.sub_attribute.as_deref().map(str::to_ascii_lowercase);
    Some(match (name.as_str(), sub.as_deref()) {
        ("id", None) => UserField::Id,
        ("username", None) => UserField::UserName,
        ("externalid", None) => UserField::ExternalId,
        ("active", None) => UserField::Active,
        ("emails", None | Some("value")) => UserField::Email,
        ("meta", Some("created")) => UserField::Created,
        ("meta", Some("lastmodified")) => UserField::Modified,
        _ => return None,
    })
}

fn group_sort(p: &AttrPath) -> Option<GroupField> {
    let name = p.name.to_ascii_lowercase();
    let sub = p.sub_attribute.as_deref().map(str::to_ascii_lowercase);
    Some(match (name.as_str(), sub.as_deref()) {
        ("id", None) => GroupField::Id,
        ("displayname", None) => GroupField::DisplayName,
        ("externalid", None) => GroupField::ExternalId,
        ("meta", Some("created")) => GroupField::Created,
        ("meta", Some("lastmodified")) => GroupField::Modified,
        _ => return None,
    })
}

fn page<F>(req: &SearchRequest, sort_by: Option<F>) -> Page<F> {
    Page {
        sort_by,
        descending: req.sort_order == SortOrder::Descending,
        offset: i64::try_from(req.pagination.offset()).unwrap_or(i64::MAX),
        limit: i64::try_from(req.pagination.count).unwrap_or(0),
    }
}

fn unsortable(p: &AttrPath, kind: ScimKind) -> GatehouseError {
    let sortable = match kind {
        ScimKind::User => {
            "id, userName, externalId, active, emails.value, meta.created, meta.lastModified"
        }
        ScimKind::Group => "id, displayName, externalId, meta.created, meta.lastModified",
    };
    scim_err(
        400,
        Some("invalidValue"),
        format!(
            "sortBy {p} is not supported for {}; sortable: {sortable}",
            kind.name()
        ),
    )
}

/// Whether `kind` can sort by `p`.
fn sortable(kind: ScimKind, p: &AttrPath) -> bool {
    match kind {
        ScimKind::User => user_sort(p).is_some(),
        ScimKind::Group => group_sort(p).is_some(),
    }
}

/// Whether a projection needs the group's member list (loading it is the expensive part of a
/// group read, and IdPs ask for `excludedAttributes=members` precisely to avoid it).
fn wants_members(p: &Projection) -> bool {
    let is_members = |a: &AttrPath| a.name.eq_ignore_ascii_case("members");
    if p.excluded
        .iter()
        .any(|a| is_members(a) && a.sub_attribute.is_none())
    {
        return false;
    }
    p.attributes.is_empty() || p.attributes.iter().any(is_members)
}

// ---------- the facade ----------

/// What a user row looks like after a SCIM change, before it is written.
struct UserChange<'a> {
    old_row: models::User,
    old_resource: Value,
    new_resource: Value,
    method: &'a str,
}

impl Gatehouse {
    /// The SCIM base URL of a directory.
    pub fn scim_base_url(&self, directory_id: &str) -> String {
        self.url(&format!("/scim/v2/{directory_id}"))
    }

    fn directory_view(&self, d: models::ScimDirectory) -> ScimDirectoryView {
        ScimDirectoryView {
            base_url: self.scim_base_url(&d.id),
            id: d.id,
            tenant_id: d.tenant_id,
            name: d.name,
            created_at: crate::admin::rfc3339(d.created_at),
        }
    }

    /// Create a SCIM directory for a tenant (id or slug).
    pub fn create_scim_directory(
        &self,
        call: &Call,
        tenant: &str,
        name: &str,
    ) -> Result<ScimDirectoryView> {
        let name = crate::util::label("name", name)?;
        let name = name.as_str();
        let id = format!("dir_{}", self.random_hex(12));
        let row = self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            let row = models::ScimDirectory {
                id: id.clone(),
                tenant_id: t.id.clone(),
                name: name.to_owned(),
                created_at: call.now.timestamp(),
            };
            sq::insert_directory(conn, &row)?;
            self.audit_config(
                conn,
                call,
                &t.id,
                "scim_directory",
                &row.id,
                "created",
                name,
            )?;
            Ok::<_, GatehouseError>(row)
        })?;
        Ok(self.directory_view(row))
    }

    /// The SCIM directories of a tenant.
    pub fn list_scim_directories(&self, tenant: &str) -> Result<Vec<ScimDirectoryView>> {
        let rows = self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            Ok::<_, GatehouseError>(sq::list_directories(conn, &t.id)?)
        })?;
        Ok(rows.into_iter().map(|d| self.directory_view(d)).collect())
    }

    fn new_scim_token(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        directory: &models::ScimDirectory,
        action: &str,
    ) -> Result<ScimTokenIssued> {
        let token = format!("ghs_{}", self.random_hex(32));
        let row = models::ScimToken {
            id: format!("sct_{}", self.random_hex(8)),
            directory_id: directory.id.clone(),
            token_hash: token_hash(&token),
            created_at: call.now.timestamp(),
            expires_at: None,
            revoked_at: None,
        };
        sq::insert_token(conn, &row)?;
        self.audit_config(
            conn,
            call,
            &directory.tenant_id,
            "scim_token",
            &row.id,
            action,
            &format!("directory={}", directory.id),
        )?;
        Ok(ScimTokenIssued {
            token_id: row.id,
            token,
            directory_id: directory.id.clone(),
            base_url: self.scim_base_url(&directory.id),
        })
    }

    fn directory(&self, conn: &mut storage::Conn, id: &str) -> Result<models::ScimDirectory> {
        sq::find_directory(conn, id)?.ok_or(GatehouseError::NotFound {
            what: "SCIM directory",
        })
    }

    /// Issue an additional bearer token for a directory (shown once; existing tokens keep
    /// working).
    pub fn issue_scim_token(&self, call: &Call, directory_id: &str) -> Result<ScimTokenIssued> {
        self.transaction(|conn| {
            let d = self.directory(conn, directory_id)?;
            self.new_scim_token(conn, call, &d, "created")
        })
    }

    /// Issue a new token and end every other live token of the directory after `overlap`
    /// (zero ends them now), so the IdP can be switched to the new token without downtime.
    pub fn rotate_scim_token(
        &self,
        call: &Call,
        directory_id: &str,
        overlap: chrono::Duration,
    ) -> Result<ScimTokenIssued> {
        if overlap < chrono::Duration::zero() || overlap > chrono::Duration::days(30) {
            return Err(GatehouseError::invalid("overlap", "between 0 and 30 days"));
        }
        // Audited as a configuration change, so this process forgets its cached tokens when
        // it commits, and other processes when they hear of it (crate::cache).
        self.transaction(|conn| {
            let d = self.directory(conn, directory_id)?;
            sq::expire_tokens(conn, &d.id, (call.now + overlap).timestamp())?;
            self.new_scim_token(conn, call, &d, "rotated")
        })
    }

    /// Revoke one token of a directory at once.
    pub fn revoke_scim_token(&self, call: &Call, directory_id: &str, token_id: &str) -> Result<()> {
        self.transaction(|conn| {
            let d = self.directory(conn, directory_id)?;
            if !sq::revoke_token(conn, &d.id, token_id, call.now.timestamp())? {
                return Err(GatehouseError::NotFound { what: "SCIM token" });
            }
            self.audit_config(
                conn,
                call,
                &d.tenant_id,
                "scim_token",
                token_id,
                "revoked",
                "",
            )
        })
    }

    /// The tokens of a directory (never their secrets).
    pub fn list_scim_tokens(&self, directory_id: &str) -> Result<Vec<ScimTokenView>> {
        let rows = self.transaction(|conn| {
            let d = self.directory(conn, directory_id)?;
            Ok::<_, GatehouseError>(sq::list_tokens(conn, &d.id)?)
        })?;
        Ok(rows
            .into_iter()
            .map(|r| ScimTokenView {
                id: r.id,
                created_at: crate::admin::rfc3339(r.created_at),
                expires_at: r.expires_at.map(crate::admin::rfc3339),
                revoked: r.revoked_at.is_some(),
            })
            .collect())
    }

    /// Authenticate a SCIM request: the bearer token must be live and belong to the directory
    /// named in the URL. Any failure is the same `Unauthorized` (no hint which part was wrong).
    /// The token is looked up by its SHA-256 through a unique index, so its bytes are never
    /// compared in a data-dependent loop.
    pub fn authenticate_scim(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        directory_id: &str,
        bearer: &str,
    ) -> Result<ScimClient> {
        if bearer.is_empty() || bearer.len() > MAX_TOKEN_LEN {
            return Err(GatehouseError::Unauthorized);
        }
        let hash = token_hash(bearer);
        if let Some(client) = self.row_cache.scim_token(&hash, now) {
            return if client.directory_id == directory_id {
                Ok(client)
            } else {
                Err(GatehouseError::Unauthorized)
            };
        }
        let ticket = self.row_cache.ticket();
        let found = self
            .store
            .read(|conn| sq::find_live_token(conn, &hash, now.timestamp()))?;
        let Some((token, dir)) = found else {
            return Err(GatehouseError::Unauthorized);
        };
        let client = ScimClient {
            directory_id: dir.id,
            tenant_id: dir.tenant_id,
            token_id: token.id,
        };
        self.row_cache
            .remember_scim_token(ticket, hash, client.clone(), token.expires_at, now);
        if client.directory_id == directory_id {
            Ok(client)
        } else {
            Err(GatehouseError::Unauthorized)
        }
    }

    /// Active users of a tenant (id or slug).
    pub fn seat_count(&self, tenant: &str) -> Result<SeatCount> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            Ok(SeatCount {
                active_users: sq::count_active_users(conn, &t.id)?,
                tenant_id: t.id,
            })
        })
    }

    /// `/ServiceProviderConfig` of a directory. Filtering is advertised, and the documentation
    /// URI points at the page listing which attributes are filterable.
    pub fn scim_service_provider_config(&self, client: &ScimClient) -> Value {
        discovery::service_provider_config(
            &self.scim_base_url(&client.directory_id),
            &ServiceProviderLimits {
                bulk: SCIM_BULK_LIMITS,
                filter_max_results: SCIM_MAX_RESULTS,
                // Served by the server itself, so it always matches the running version.
                documentation_uri: Some(self.url("/docs/scim.md")),
            },
        )
    }

    /// `/ResourceTypes` (or one of them by name).
    pub fn scim_resource_types(&self, client: &ScimClient, name: Option<&str>) -> Result<Value> {
        let base = self.scim_base_url(&client.directory_id);
        match name {
            None => Ok(discovery::resource_types(&base)),
            Some(n) => discovery::resource_type_by_name(&base, n).ok_or_else(not_found),
        }
    }

    /// `/Schemas` (or one of them by URN).
    pub fn scim_schemas(&self, client: &ScimClient, id: Option<&str>) -> Result<Value> {
        let base = self.scim_base_url(&client.directory_id);
        match id {
            None => Ok(discovery::schemas(&base)),
            Some(i) => discovery::schema_by_id(&base, i).ok_or_else(not_found),
        }
    }

    // ----- rendering -----

    /// `If-Match` against a user's current ETag (its groups are read only when it is sent).
    fn check_user_if_match(
        &self,
        conn: &mut storage::Conn,
        row: &models::User,
        if_match: Option<&str>,
    ) -> Result<()> {
        match if_match {
            None => Ok(()),
            Some(_) => {
                let groups = sq::groups_of_user(conn, &row.id)?;
                check_if_match(if_match, &user_etag(row.version, &groups))
            }
        }
    }

    fn render_user(
        &self,
        conn: &mut storage::Conn,
        client: &ScimClient,
        row: &models::User,
    ) -> Result<Value> {
        let groups = sq::groups_of_user(conn, &row.id)?;
        Ok(self.render_user_in(client, row, groups))
    }

    /// A user as SCIM shows it, given its groups as (id, displayName).
    fn render_user_in(
        &self,
        client: &ScimClient,
        row: &models::User,
        groups: Vec<(String, String)>,
    ) -> Value {
        let mut obj = parse_object(row.scim_resource.as_deref());
        // The column is the truth: a SAML-side or admin deactivation shows here too.
        obj.insert("active".into(), Value::Bool(row.active));
        let base = self.scim_base_url(&client.directory_id);
        let etag = user_etag(row.version, &groups);
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(id, name)| {
                json!({"value": id, "display": name, "$ref": format!("{base}/Groups/{id}"), "type": "direct"})
            })
            .collect();
        if !groups.is_empty() {
            obj.insert("groups".into(), Value::Array(groups));
        }
        let mut v = Value::Object(obj);
        let meta = Meta::new(
            &schema::USER,
            &base,
            &row.id,
            time(row.created_at),
            time(row.updated_at),
            Some(etag),
        );
        scim_model::set_server_attributes(&mut v, &row.id, &meta);
        v
    }

    fn render_group(
        &self,
        conn: &mut storage::Conn,
        client: &ScimClient,
        row: &models::Group,
        with_members: bool,
    ) -> Result<Value> {
        let mut obj = parse_object(Some(&row.resource));
        obj.insert(
            "displayName".into(),
            Value::String(row.display_name.clone()),
        );
        let base = self.scim_base_url(&client.directory_id);
        if with_members {
            let members: Vec<Value> = sq::list_group_members(conn, &row.id)?
                .into_iter()
                .map(|(id, name)| {
                    let mut m =
                        json!({"value": id, "$ref": format!("{base}/Users/{id}"), "type": "User"});
                    if let (Some(n), Some(o)) = (name, m.as_object_mut()) {
                        o.insert("display".into(), Value::String(n));
                    }
                    m
                })
                .collect();
            if !members.is_empty() {
                obj.insert("members".into(), Value::Array(members));
            }
        }
        let mut v = Value::Object(obj);
        let meta = Meta::new(
            &schema::GROUP,
            &base,
            &row.id,
            time(row.created_at),
            time(row.updated_at),
            Some(scim_etag(row.version)),
        );
        scim_model::set_server_attributes(&mut v, &row.id, &meta);
        Ok(v)
    }

    /// A resource answer; its `ETag` header is the `meta.version` of the full resource (taken
    /// before any projection).
    fn respond(&self, status: u16, etag: String, body: Value, location: bool) -> ScimResponse {
        let loc = if location {
            body.pointer("/meta/location")
                .and_then(Value::as_str)
                .map(str::to_owned)
        } else {
            None
        };
        ScimResponse {
            status,
            body: Some(body),
            etag: Some(etag),
            location: loc,
        }
    }

    // ----- audit -----

    #[allow(clippy::too_many_arguments)]
    fn audit_scim(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        method: &str,
        kind: ScimKind,
        resource_id: Option<&str>,
        status: u16,
        summary: String,
    ) -> Result<()> {
        self.audit(
            conn,
            call,
            &client.tenant_id,
            resource_id,
            AuditEvent::ScimOperation {
                directory_id: client.directory_id.clone(),
                token_id: client.token_id.clone(),
                method: method.to_owned(),
                resource_type: kind.name().to_owned(),
                resource_id: resource_id.map(str::to_owned),
                status,
                summary,
            },
        )
    }

    /// Run one mutating SCIM operation in a transaction; a refusal is still recorded (in its
    /// own transaction, since the operation's rolled back).
    fn scim_write(
        &self,
        call: &Call,
        client: &ScimClient,
        method: &str,
        kind: ScimKind,
        resource_id: Option<&str>,
        f: impl Fn(&mut storage::Conn) -> Result<ScimResponse>,
    ) -> Result<ScimResponse> {
        // A concurrent write to the same resource (seen as a version that moved under us) is
        // retried from a fresh read before it is reported as a conflict. The growing pause lets
        // the writer that won commit, so two busy writers do not keep colliding in lockstep.
        let mut result = self.transaction(&f);
        for attempt in 1..=32u64 {
            if !matches!(&result, Err(e) if is_concurrent(e)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(attempt.min(20)));
            result = self.transaction(&f);
        }
        if let Err(e) = &result {
            let status = match e {
                GatehouseError::Scim { status, .. } => *status,
                GatehouseError::Unauthorized => 401,
                GatehouseError::NotFound { .. } => 404,
                GatehouseError::Conflict { .. } => 409,
                GatehouseError::InvalidInput { .. } => 400,
                _ => 500,
            };
            // The status and scimType only: a refusal's detail can quote the request (a path,
            // a filter), and the audit trail records names and counts, never values. The
            // detail goes to the caller and to the logs.
            let summary = match e {
                GatehouseError::Scim { scim_type, .. } => {
                    format!("refused: {}", scim_type.unwrap_or("no scimType"))
                }
                _ => "failed".to_owned(),
            };
            // An id that names nothing is only what the request said: not recorded.
            let resource_id = resource_id.filter(|_| status != 404);
            // Best effort: an audit failure must not hide the original error from the client.
            let _ = self.transaction(|conn| {
                self.audit_scim(
                    conn,
                    call,
                    client,
                    method,
                    kind,
                    resource_id,
                    status,
                    summary,
                )
            });
        }
        result
    }

    /// Record that `users` joined or left a group (the role-mapping issue turns these into
    /// role changes without a new login).
    fn audit_memberships(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        users: impl IntoIterator<Item = String>,
    ) -> Result<()> {
        for user_id in users {
            self.audit(
                conn,
                call,
                &client.tenant_id,
                Some(&user_id),
                AuditEvent::UserUpdated {
                    user_id: user_id.clone(),
                    source: ChangeSource::Scim,
                    changed_fields: vec!["groups".into()],
                },
            )?;
        }
        Ok(())
    }

    // ----- users -----

    /// Apply a new canonical resource to a user row: columns, lifecycle, audit.
    fn write_user(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        change: UserChange<'_>,
    ) -> Result<ScimResponse> {
        let UserChange {
            old_row,
            old_resource,
            new_resource,
            method,
        } = change;
        let stored = stored_form(&new_resource, "groups");
        let view = scim_model::resource::User::from_resource(&stored)?;
        let mut row = old_row.clone();
        let lower = view.user_name.to_lowercase();
        if Some(&lower) != old_row.user_name_lower.as_ref() {
            if let Some(other) = sq::find_user_by_user_name(conn, &client.tenant_id, &lower)? {
                if other.id != row.id {
                    return Err(ScimError::Uniqueness {
                        attribute: "userName".into(),
                    }
                    .into());
                }
            }
        }
        let active = view.active.unwrap_or(true);
        let mut stored = stored;
        if let Some(o) = stored.as_object_mut() {
            o.insert("active".into(), Value::Bool(active));
        }
        row.user_name = Some(view.user_name.clone());
        row.user_name_lower = Some(lower);
        row.external_id = view.external_id.clone();
        row.email = view.primary_email().map(str::to_owned);
        row.first_name = view.name.as_ref().and_then(|n| n.given_name.clone());
        row.last_name = view.name.as_ref().and_then(|n| n.family_name.clone());
        row.active = active;
        row.scim_resource = Some(serde_json::to_string(&stored).map_err(GatehouseError::internal)?);
        let changes = ChangeSummary::between(
            &schema::USER,
            &stored_form(&old_resource, "groups"),
            &stored,
        );
        let changed = row != old_row;
        if changed {
            let renamed = row.user_name != old_row.user_name;
            let mut touched = Vec::new();
            if renamed {
                // Its groups show the userName as the member's `display`: their ETags move too.
                // Groups are locked before the user (LOCKING in docs/architecture.md): a group
                // push locks its group and then, adding members, their user rows.
                touched = sq::group_ids_of_user(conn, &row.id)?;
                touched.sort();
                sq::touch_groups(conn, &touched, call.now.timestamp())?;
            }
            row.version = old_row.version + 1;
            row.updated_at = call.now.timestamp();
            if !sq::update_user_versioned(conn, &row, old_row.version).map_err(uniqueness)? {
                return Err(concurrent());
            }
            if renamed {
                // A push that added the user to another group between the read above and the
                // update would keep that group's old ETag. The user row is locked now, so no
                // further membership can commit before this transaction: if the set moved,
                // start again from a fresh read.
                let mut now_in = sq::group_ids_of_user(conn, &row.id)?;
                now_in.sort();
                if now_in != touched {
                    return Err(concurrent());
                }
            }
        }
        let fields: Vec<String> = changes
            .changed_attributes
            .iter()
            .filter(|a| a.as_str() != "active")
            .cloned()
            .collect();
        if !fields.is_empty() {
            self.audit(
                conn,
                call,
                &client.tenant_id,
                Some(&row.id),
                AuditEvent::UserUpdated {
                    user_id: row.id.clone(),
                    source: ChangeSource::Scim,
                    changed_fields: fields.clone(),
                },
            )?;
            let data = json!({ "user_id": row.id, "source": "scim", "changed_fields": fields });
            self.emit(conn, call, &client.tenant_id, "user.updated", data)?;
            // Attributes such as department feed role rules.
            self.remap_users(conn, call, &client.tenant_id, [&row.id])?;
        }
        match (old_row.active, row.active) {
            (true, false) => self.deactivate(conn, call, client, &row.id)?,
            (false, true) => {
                self.audit(
                    conn,
                    call,
                    &client.tenant_id,
                    Some(&row.id),
                    AuditEvent::UserReactivated {
                        user_id: row.id.clone(),
                        source: ChangeSource::Scim,
                    },
                )?;
                let data = json!({ "user_id": row.id, "source": "scim" });
                self.emit(conn, call, &client.tenant_id, "user.reactivated", data)?;
            }
            _ => {}
        }
        self.audit_scim(
            conn,
            call,
            client,
            method,
            ScimKind::User,
            Some(&row.id),
            200,
            if changes.changed_attributes.is_empty() {
                "no change".into()
            } else {
                format!("changed: {}", changes.changed_attributes.join(","))
            },
        )?;
        let body = self.render_user(conn, client, &row)?;
        Ok(self.respond(200, etag_of(&body), body, false))
    }

    /// The one deactivation mechanism: every session of the user ends now (tokens die with
    /// their session), and the change is audited.
    fn deactivate(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        user_id: &str,
    ) -> Result<()> {
        self.audit(
            conn,
            call,
            &client.tenant_id,
            Some(user_id),
            AuditEvent::UserDeactivated {
                user_id: user_id.to_owned(),
                source: ChangeSource::Scim,
            },
        )?;
        let data = json!({ "user_id": user_id, "source": "scim" });
        self.emit(conn, call, &client.tenant_id, "user.deactivated", data)?;
        // Revocation, its audit records, events and back-channel logouts: one mechanism.
        self.end_user_sessions(
            conn,
            call,
            user_id,
            SessionEndReason::UserDeactivated,
            "user_deactivated",
        )?;
        Ok(())
    }

    fn create_user(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        body: &Value,
    ) -> Result<ScimResponse> {
        let resource = scim_model::validate_resource(&schema::USER, body)?;
        let view = scim_model::resource::User::from_resource(&resource)?;
        let lower = view.user_name.to_lowercase();
        let now = call.now.timestamp();
        let active = view.active.unwrap_or(true);
        let mut stored = stored_form(&resource, "groups");
        if let Some(o) = stored.as_object_mut() {
            o.insert("active".into(), Value::Bool(active));
        }
        let row = models::User {
            id: format!("usr_{}", self.random_hex(12)),
            tenant_id: client.tenant_id.clone(),
            connection_id: None,
            // SCIM users are not known to any connection until their first SAML login links
            // them (see `link_scim_user`); the subject is a placeholder the unique index
            // ignores while `connection_id` is NULL.
            external_subject: view.user_name.clone(),
            email: view.primary_email().map(str::to_owned),
            first_name: view.name.as_ref().and_then(|n| n.given_name.clone()),
            last_name: view.name.as_ref().and_then(|n| n.family_name.clone()),
            groups: "[]".into(),
            active,
            created_at: now,
            updated_at: now,
            directory_id: Some(client.directory_id.clone()),
            user_name: Some(view.user_name.clone()),
            user_name_lower: Some(lower.clone()),
            external_id: view.external_id.clone(),
            scim_resource: Some(serde_json::to_string(&stored).map_err(GatehouseError::internal)?),
            version: 1,
            attributes: "{}".into(),
        };
        // Insert first: a free userName (the common case) then costs no lookup.
        if !queries::insert_user_if_free(conn, &row)? {
            let Some(existing) = sq::find_user_by_user_name(conn, &client.tenant_id, &lower)?
            else {
                // Only the userName key can be taken here (the subject key ignores rows
                // without a connection, and ids are random), so its holder was renamed or
                // deleted since the insert: try the whole request again.
                return Err(concurrent());
            };
            // A user this tenant's directories deleted keeps its row: provisioning the same
            // userName again restores that user, with its id, links and history.
            if existing.directory_id.is_some() {
                return Err(ScimError::Uniqueness {
                    attribute: "userName".into(),
                }
                .into());
            }
            let mut old = existing.clone();
            old.directory_id = Some(client.directory_id.clone());
            let old_resource = Value::Object(parse_object(existing.scim_resource.as_deref()));
            let mut r = self.write_user(
                conn,
                call,
                client,
                UserChange {
                    old_row: old,
                    old_resource,
                    new_resource: resource,
                    method: "POST",
                },
            )?;
            r.status = 201;
            r.location = r
                .body
                .as_ref()
                .and_then(|b| b.pointer("/meta/location"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Ok(r);
        }
        self.audit(
            conn,
            call,
            &client.tenant_id,
            Some(&row.id),
            AuditEvent::UserCreated {
                user_id: row.id.clone(),
                source: ChangeSource::Scim,
            },
        )?;
        let data = json!({ "user_id": row.id, "source": "scim" });
        self.emit(conn, call, &client.tenant_id, "user.created", data)?;
        self.remap_users(conn, call, &client.tenant_id, [&row.id])?;
        self.audit_scim(
            conn,
            call,
            client,
            "POST",
            ScimKind::User,
            Some(&row.id),
            201,
            "created".into(),
        )?;
        // A user created just now belongs to no group yet: nothing to look up.
        let body = self.render_user_in(client, &row, Vec::new());
        Ok(self.respond(201, etag_of(&body), body, true))
    }

    fn delete_user(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<ScimResponse> {
        let mut row =
            sq::find_directory_user(conn, &client.directory_id, id)?.ok_or_else(not_found)?;
        self.check_user_if_match(conn, &row, if_match)?;
        let was_active = row.active;
        // Out of its groups first: groups are locked before users (LOCKING in
        // docs/architecture.md).
        let left = sq::remove_user_memberships(conn, &row.id, call.now.timestamp())?;
        // Deletion deactivates and detaches the user from the directory; the row, its links
        // and its history stay (hard deletion is a separate admin action).
        row.active = false;
        row.directory_id = None;
        row.version += 1;
        row.updated_at = call.now.timestamp();
        if !sq::update_user_versioned(conn, &row, row.version - 1)? {
            return Err(concurrent());
        }
        if !left.is_empty() {
            self.audit_memberships(conn, call, client, [row.id.clone()])?;
        }
        for group_id in &left {
            let data = json!({
                "group_id": group_id,
                "directory_id": client.directory_id,
                "user_ids": [row.id],
            });
            self.emit(
                conn,
                call,
                &client.tenant_id,
                "group.membership_removed",
                data,
            )?;
        }
        if was_active {
            self.deactivate(conn, call, client, &row.id)?;
        }
        self.audit(
            conn,
            call,
            &client.tenant_id,
            Some(&row.id),
            AuditEvent::UserDeleted {
                user_id: row.id.clone(),
                source: ChangeSource::Scim,
            },
        )?;
        let data = json!({ "user_id": row.id, "source": "scim" });
        self.emit(conn, call, &client.tenant_id, "user.deleted", data)?;
        self.audit_scim(
            conn,
            call,
            client,
            "DELETE",
            ScimKind::User,
            Some(&row.id),
            204,
            format!("deleted (data kept), left {} groups", left.len()),
        )?;
        Ok(ScimResponse {
            status: 204,
            body: None,
            etag: None,
            location: None,
        })
    }

    // ----- groups -----

    /// Check that every id to add is a user of this directory (ids of other directories or
    /// tenants are indistinguishable from unknown ones).
    fn check_members(
        &self,
        conn: &mut storage::Conn,
        client: &ScimClient,
        ids: &[String],
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let found = sq::existing_directory_users(conn, &client.directory_id, ids)?;
        if found.len() != ids.len() {
            return Err(scim_err(
                400,
                Some("invalidValue"),
                format!(
                    "{} member value(s) are not users of this directory",
                    ids.len() - found.len()
                ),
            ));
        }
        Ok(())
    }

    /// Change a group's members, audit each affected user, tell the app, and re-run role mapping
    /// for exactly those users (their next token carries the result, no login needed).
    #[allow(clippy::too_many_arguments)]
    fn write_group_members(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        group: &models::Group,
        added: &[String],
        removed: &[String],
    ) -> Result<()> {
        self.check_members(conn, client, added)?;
        sq::add_group_members(conn, &group.id, added)?;
        sq::remove_group_members(conn, &group.id, removed)?;
        self.audit_memberships(
            conn,
            call,
            client,
            added.iter().chain(removed.iter()).cloned(),
        )?;
        for (event, ids) in [
            ("group.membership_added", added),
            ("group.membership_removed", removed),
        ] {
            if !ids.is_empty() {
                let data = json!({
                    "group_id": group.id,
                    "display_name": group.display_name,
                    "directory_id": group.directory_id,
                    "user_ids": ids,
                });
                self.emit(conn, call, &client.tenant_id, event, data)?;
            }
        }
        self.remap_users(conn, call, &client.tenant_id, added.iter().chain(removed))
    }

    /// The app event of a group's own change (`group.created`, `group.updated`, `group.deleted`).
    fn emit_group(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        event: &str,
        group: &models::Group,
    ) -> Result<()> {
        let data = json!({
            "group_id": group.id,
            "display_name": group.display_name,
            "external_id": group.external_id,
            "directory_id": group.directory_id,
        });
        self.emit(conn, call, &client.tenant_id, event, data)?;
        Ok(())
    }

    fn create_group(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        body: &Value,
    ) -> Result<ScimResponse> {
        let resource = scim_model::validate_resource(&schema::GROUP, body)?;
        let view = scim_model::resource::Group::from_resource(&resource)?;
        let mut members: Vec<String> = view.members.iter().map(|m| m.value.clone()).collect();
        members.sort();
        members.dedup();
        let now = call.now.timestamp();
        let row = models::Group {
            id: format!("grp_{}", self.random_hex(12)),
            tenant_id: client.tenant_id.clone(),
            directory_id: client.directory_id.clone(),
            display_name: view.display_name.clone(),
            display_name_lower: view.display_name.to_lowercase(),
            external_id: view.external_id.clone(),
            resource: serde_json::to_string(&stored_form(&resource, "members"))
                .map_err(GatehouseError::internal)?,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        sq::insert_group(conn, &row)?;
        self.emit_group(conn, call, client, "group.created", &row)?;
        self.write_group_members(conn, call, client, &row, &members, &[])?;
        self.audit_scim(
            conn,
            call,
            client,
            "POST",
            ScimKind::Group,
            Some(&row.id),
            201,
            format!("created with {} members", members.len()),
        )?;
        let body = self.render_group(conn, client, &row, true)?;
        Ok(self.respond(201, etag_of(&body), body, true))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_group(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        client: &ScimClient,
        mut row: models::Group,
        new_resource: &Value,
        changes: &ChangeSummary,
        method: &str,
    ) -> Result<ScimResponse> {
        let view = scim_model::resource::Group::from_resource(new_resource)?;
        let renamed = view.display_name != row.display_name;
        if !changes.is_empty() {
            row.display_name = view.display_name.clone();
            row.display_name_lower = view.display_name.to_lowercase();
            row.external_id = view.external_id.clone();
            row.resource = serde_json::to_string(&stored_form(new_resource, "members"))
                .map_err(GatehouseError::internal)?;
            row.version += 1;
            row.updated_at = call.now.timestamp();
            if !sq::update_group_versioned(conn, &row, row.version - 1)? {
                return Err(concurrent());
            }
        }
        if changes
            .changed_attributes
            .iter()
            .any(|a| a.as_str() != "members")
        {
            self.emit_group(conn, call, client, "group.updated", &row)?;
        }
        self.write_group_members(
            conn,
            call,
            client,
            &row,
            &changes.members_added,
            &changes.members_removed,
        )?;
        if renamed {
            // Rules match group names: every member's roles may follow the new name.
            let members: Vec<String> = sq::list_group_members(conn, &row.id)?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            self.remap_users(conn, call, &client.tenant_id, &members)?;
        }
        self.audit_scim(
            conn,
            call,
            client,
            method,
            ScimKind::Group,
            Some(&row.id),
            200,
            format!(
                "changed: [{}], members +{} -{}",
                changes
                    .changed_attributes
                    .iter()
                    .filter(|a| a.as_str() != "members")
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
                changes.members_added.len(),
                changes.members_removed.len()
            ),
        )?;
        let body = self.render_group(conn, client, &row, true)?;
        Ok(self.respond(200, etag_of(&body), body, false))
    }

    // ----- the public SCIM operations -----

    /// `POST /Users` or `POST /Groups`.
    pub fn scim_create(
        &self,
        call: &Call,
        client: &ScimClient,
        kind: ScimKind,
        body: &Value,
    ) -> Result<ScimResponse> {
        self.scim_write(call, client, "POST", kind, None, |conn| match kind {
            ScimKind::User => self.create_user(conn, call, client, body),
            ScimKind::Group => self.create_group(conn, call, client, body),
        })
    }

    /// `GET /Users/{id}` or `GET /Groups/{id}`, with projection and `If-None-Match` (304).
    pub fn scim_get(
        &self,
        client: &ScimClient,
        kind: ScimKind,
        id: &str,
        projection: &Projection,
        if_none_match: Option<&str>,
    ) -> Result<ScimResponse> {
        // A read: no transaction, like `scim_search`. A user comes with its groups in one
        // statement; a group's members are a second one (its ETag is its own version).
        self.store.read(|conn| {
            let body = match kind {
                ScimKind::User => {
                    let (row, groups) =
                        sq::find_directory_user_with_groups(conn, &client.directory_id, id)?
                            .ok_or_else(not_found)?;
                    let etag = user_etag(row.version, &groups);
                    if if_none_match.is_some_and(|h| etag_matches(h, &etag)) {
                        return Ok(not_modified(etag));
                    }
                    self.render_user_in(client, &row, groups)
                }
                ScimKind::Group => {
                    let row = sq::find_directory_group(conn, &client.directory_id, id)?
                        .ok_or_else(not_found)?;
                    let etag = scim_etag(row.version);
                    if if_none_match.is_some_and(|h| etag_matches(h, &etag)) {
                        return Ok(not_modified(etag));
                    }
                    let with = wants_members(projection);
                    self.render_group(conn, client, &row, with)?
                }
            };
            Ok(self.respond(
                200,
                etag_of(&body),
                projection.apply(kind.schema(), &body),
                false,
            ))
        })
    }

    /// Whether a SCIM read is a **point lookup**: authentication plus at most one indexed
    /// statement of a bounded result, the only reads a caller on an async executor's thread may
    /// run there (the server's `scim_read`). `query` is the request's query string pairs;
    /// `by_id` for `GET /{kind}/{id}`. A listing is a point lookup when it filters by one
    /// unique key with `eq` (`id`, `userName`, `externalId` of users; `id`, `externalId`,
    /// `displayName` of groups) and does not sort; a group only without its members (a group's
    /// members are a second, unbounded read). A query that does not parse is one too: it is
    /// refused after authentication without touching the database.
    pub fn scim_read_is_point_lookup<'q>(
        kind: ScimKind,
        query: impl IntoIterator<Item = (&'q str, &'q str)>,
        by_id: bool,
    ) -> bool {
        let Ok(req) = SearchRequest::from_query(query, SCIM_PAGINATION) else {
            return true;
        };
        if kind == ScimKind::Group && wants_members(&req.projection) {
            return false;
        }
        if by_id {
            return true;
        }
        let keys: &[&str] = match kind {
            ScimKind::User => &["id", "userName", "externalId"],
            ScimKind::Group => &["id", "externalId", "displayName"],
        };
        req.sort_by.is_none()
            && matches!(
                &req.filter,
                Some(scim_model::Filter::Compare {
                    path,
                    op: scim_model::CompareOp::Eq,
                    ..
                }) if path.sub_attribute.is_none()
                    && keys.iter().any(|k| path.name.eq_ignore_ascii_case(k))
            )
    }

    /// `GET /Users`, `GET /Groups` or `POST /.search` on them: the ListResponse document.
    /// Filters run as SQL on indexed columns; any other attribute is `invalidFilter`.
    pub fn scim_search(
        &self,
        client: &ScimClient,
        kind: ScimKind,
        req: &SearchRequest,
    ) -> Result<Value> {
        let schema = kind.schema();
        if let Some(f) = &req.filter {
            f.validate(schema)?;
        }
        // A read: no transaction (each statement its own snapshot), which halves the round
        // trips of the IdP's most frequent request, the `userName eq` lookup.
        self.store.read(|conn| {
            let (total, resources) = match kind {
                ScimKind::User => {
                    let cond = req
                        .filter
                        .as_ref()
                        .map(|f| translate(f, schema, user_field, None))
                        .transpose()?;
                    let sort = req
                        .sort_by
                        .as_ref()
                        .map(|p| user_sort(p).ok_or_else(|| unsortable(p, ScimKind::User)))
                        .transpose()?;
                    let (total, rows) = sq::search_users(
                        conn,
                        &client.directory_id,
                        cond.as_ref(),
                        &page(req, sort),
                    )?;
                    // The page comes with each user's groups: a listing, and the IdP's
                    // `userName eq` lookup, is one statement.
                    let mut out = Vec::with_capacity(rows.len());
                    for (row, of_user) in rows {
                        let v = self.render_user_in(client, &row, of_user);
                        out.push(req.projection.apply(schema, &v));
                    }
                    (total, out)
                }
                ScimKind::Group => {
                    let cond = req
                        .filter
                        .as_ref()
                        .map(|f| translate(f, schema, group_field, None))
                        .transpose()?;
                    let sort = req
                        .sort_by
                        .as_ref()
                        .map(|p| group_sort(p).ok_or_else(|| unsortable(p, ScimKind::Group)))
                        .transpose()?;
                    let (total, rows) = sq::search_groups(
                        conn,
                        &client.directory_id,
                        cond.as_ref(),
                        &page(req, sort),
                    )?;
                    let with = wants_members(&req.projection);
                    let mut out = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let v = self.render_group(conn, client, row, with)?;
                        out.push(req.projection.apply(schema, &v));
                    }
                    (total, out)
                }
            };
            Ok(scim_model::ListResponse {
                total_results: u64::try_from(total).unwrap_or(0),
                start_index: req.pagination.start_index,
                resources,
            }
            .to_json())
        })
    }

    /// `POST /.search` at the root: Users then Groups, paged together. A filter attribute one
    /// resource type cannot filter on simply matches none of that type (RFC 7644 §3.4.3), but
    /// if neither type can evaluate it, that is the client's `invalidFilter`.
    pub fn scim_search_all(&self, client: &ScimClient, req: &SearchRequest) -> Result<Value> {
        // Fetch enough of each type to cut the requested window out of their concatenation.
        let window = req.pagination.offset().saturating_add(req.pagination.count);
        let mut each = req.clone();
        each.pagination = scim_model::Pagination {
            start_index: 1,
            count: window,
        };
        // `sortBy` orders each type by itself; a type that lacks the attribute keeps its
        // default order instead of dropping out (sorting never filters, RFC 7644 §3.4.2.3).
        let of_kind = |kind: ScimKind| {
            let mut r = each.clone();
            if r.sort_by.as_ref().is_some_and(|p| !sortable(kind, p)) {
                r.sort_by = None;
            }
            r
        };
        if let Some(p) = &req.sort_by {
            if !sortable(ScimKind::User, p) && !sortable(ScimKind::Group, p) {
                return Err(scim_err(
                    400,
                    Some("invalidValue"),
                    format!("sortBy {p} is supported by neither Users nor Groups"),
                ));
            }
        }
        let users = self.scim_search(client, ScimKind::User, &of_kind(ScimKind::User));
        let groups = self.scim_search(client, ScimKind::Group, &of_kind(ScimKind::Group));
        let (users, groups) = match (users, groups) {
            (Err(e), Err(_)) => return Err(e),
            (u, g) => (u.ok(), g.ok()),
        };
        let mut total = 0u64;
        let mut all = Vec::new();
        for list in [users, groups].into_iter().flatten() {
            total += list["totalResults"].as_u64().unwrap_or(0);
            if let Some(items) = list["Resources"].as_array() {
                all.extend(items.iter().cloned());
            }
        }
        let offset = usize::try_from(req.pagination.offset()).unwrap_or(usize::MAX);
        let count = usize::try_from(req.pagination.count).unwrap_or(usize::MAX);
        Ok(scim_model::ListResponse {
            total_results: total,
            start_index: req.pagination.start_index,
            resources: all.into_iter().skip(offset).take(count).collect(),
        }
        .to_json())
    }

    /// `PUT /Users/{id}` or `PUT /Groups/{id}`: full replacement (read-only attributes kept).
    pub fn scim_replace(
        &self,
        call: &Call,
        client: &ScimClient,
        kind: ScimKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<ScimResponse> {
        self.scim_write(call, client, "PUT", kind, Some(id), |conn| match kind {
            ScimKind::User => {
                let row = sq::find_directory_user(conn, &client.directory_id, id)?
                    .ok_or_else(not_found)?;
                let old = self.render_user(conn, client, &row)?;
                check_if_match(if_match, &etag_of(&old))?;
                let mut new = scim_model::replace_resource(&schema::USER, &old, body)?;
                // A PUT that leaves `active` out (or null) keeps the user's state: a profile
                // update must never silently reactivate a deactivated user, which is what
                // "unassigned means the default, true" would do (RFC 7644 §3.5.1 leaves
                // omitted attributes to the provider).
                if new.get("active").is_none_or(Value::is_null) {
                    if let Some(o) = new.as_object_mut() {
                        o.insert("active".into(), Value::Bool(row.active));
                    }
                }
                self.write_user(
                    conn,
                    call,
                    client,
                    UserChange {
                        old_row: row,
                        old_resource: old,
                        new_resource: new,
                        method: "PUT",
                    },
                )
            }
            ScimKind::Group => {
                let row = sq::find_directory_group(conn, &client.directory_id, id)?
                    .ok_or_else(not_found)?;
                check_if_match(if_match, &scim_etag(row.version))?;
                let old = self.render_group(conn, client, &row, true)?;
                let new = scim_model::replace_resource(&schema::GROUP, &old, body)?;
                let changes =
                    ChangeSummary::between(&schema::GROUP, &strip_meta(&old), &strip_meta(&new));
                self.write_group(conn, call, client, row, &new, &changes, "PUT")
            }
        })
    }

    /// `PATCH /Users/{id}` or `PATCH /Groups/{id}` (RFC 7644 §3.5.2 with the Entra and Okta
    /// dialects). Returns the updated resource.
    pub fn scim_patch(
        &self,
        call: &Call,
        client: &ScimClient,
        kind: ScimKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<ScimResponse> {
        let patch = PatchRequest::parse(body, SCIM_MAX_PATCH_OPERATIONS)?;
        self.scim_write(call, client, "PATCH", kind, Some(id), |conn| match kind {
            ScimKind::User => {
                let row = sq::find_directory_user(conn, &client.directory_id, id)?
                    .ok_or_else(not_found)?;
                let old = self.render_user(conn, client, &row)?;
                check_if_match(if_match, &etag_of(&old))?;
                let outcome = patch.apply(&schema::USER, &old)?;
                // `active` is the lifecycle switch and an absent value means active (on
                // create), so a PATCH that unassigns it would silently reactivate a
                // deactivated user: it can be replaced with true/false, never removed.
                if outcome.resource.get("active").is_none() {
                    return Err(ScimError::Mutability {
                        attribute: "active".into(),
                        reason: "it cannot be unassigned; replace it with true or false",
                    }
                    .into());
                }
                self.write_user(
                    conn,
                    call,
                    client,
                    UserChange {
                        old_row: row,
                        old_resource: old,
                        new_resource: outcome.resource,
                        method: "PATCH",
                    },
                )
            }
            ScimKind::Group => {
                let row = sq::find_directory_group(conn, &client.directory_id, id)?
                    .ok_or_else(not_found)?;
                check_if_match(if_match, &scim_etag(row.version))?;
                let old = self.render_group(conn, client, &row, true)?;
                let outcome = patch.apply(&schema::GROUP, &old)?;
                self.write_group(
                    conn,
                    call,
                    client,
                    row,
                    &outcome.resource,
                    &outcome.changes,
                    "PATCH",
                )
            }
        })
    }

    /// `DELETE /Users/{id}` (deactivates and detaches; data kept) or `DELETE /Groups/{id}`.
    pub fn scim_delete(
        &self,
        call: &Call,
        client: &ScimClient,
        kind: ScimKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<ScimResponse> {
        self.scim_write(call, client, "DELETE", kind, Some(id), |conn| match kind {
            ScimKind::User => self.delete_user(conn, call, client, id, if_match),
            ScimKind::Group => {
                let row = sq::find_directory_group(conn, &client.directory_id, id)?
                    .ok_or_else(not_found)?;
                check_if_match(if_match, &scim_etag(row.version))?;
                let members: Vec<String> = sq::list_group_members(conn, &row.id)?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                sq::delete_group(conn, &row.id)?;
                self.audit_memberships(conn, call, client, members.iter().cloned())?;
                self.emit_group(conn, call, client, "group.deleted", &row)?;
                if !members.is_empty() {
                    let data = json!({
                        "group_id": row.id,
                        "display_name": row.display_name,
                        "directory_id": row.directory_id,
                        "user_ids": members,
                    });
                    self.emit(
                        conn,
                        call,
                        &client.tenant_id,
                        "group.membership_removed",
                        data,
                    )?;
                }
                self.remap_users(conn, call, &client.tenant_id, &members)?;
                self.audit_scim(
                    conn,
                    call,
                    client,
                    "DELETE",
                    ScimKind::Group,
                    Some(&row.id),
                    204,
                    format!("deleted, {} members released", members.len()),
                )?;
                Ok(ScimResponse {
                    status: 204,
                    body: None,
                    etag: None,
                    location: None,
                })
            }
        })
    }
}

/// A user an operator pre-provisions (admin API / CLI), for tenants whose connections do not
/// create users at first login (JIT off): the first SAML login with this e-mail links to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUser {
    /// E-mail address (the linking key).
    pub email: String,
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
}

/// A user as the admin API lists it (SCIM-provisioned or JIT-created alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// Gatehouse user id (also its SCIM id).
    pub id: String,
    /// SCIM `userName`, if provisioned.
    pub user_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Whether the user may sign in (and takes a seat).
    pub active: bool,
    /// The SCIM directory that provisions it.
    pub directory_id: Option<String>,
    /// The SAML connection it signs in through, once linked.
    pub connection_id: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
}

impl Gatehouse {
    /// One page of a tenant's users in creation order (`limit` 1..=1000); `active` then keeps
    /// only active or only inactive users of that page.
    pub fn list_tenant_users(
        &self,
        tenant: &str,
        active: Option<bool>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<UserView>> {
        let limit = limit.clamp(1, 1000);
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            let rows = queries::list_users(conn, &t.id, limit, offset.max(0))?;
            Ok(rows
                .into_iter()
                .filter(|u| active.is_none_or(|a| u.active == a))
                .map(|u| UserView {
                    id: u.id,
                    user_name: u.user_name,
                    email: u.email,
                    active: u.active,
                    directory_id: u.directory_id,
                    connection_id: u.connection_id,
                    created_at: crate::admin::rfc3339(u.created_at),
                })
                .collect())
        })
    }

    /// Pre-provision a user by hand (audited, `user.created` event with source `admin`). The
    /// linking rule (docs/scim.md) makes the first SAML login with this e-mail this user, also
    /// when the connection's JIT provisioning is off.
    pub fn provision_user(&self, call: &Call, tenant: &str, input: &NewUser) -> Result<UserView> {
        let email = input.email.trim();
        let at = email.find('@').unwrap_or(0);
        if email.len() > 320
            || at == 0
            || at + 1 >= email.len()
            || email.contains(char::is_whitespace)
        {
            return Err(GatehouseError::invalid("email", "not an e-mail address"));
        }
        let id = format!("usr_{}", self.random_hex(12));
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            let lower = email.to_lowercase();
            if sq::find_link_candidate(conn, &t.id, &lower, Some(&lower))?.is_some() {
                return Err(GatehouseError::Conflict {
                    what: format!("a user with e-mail {email} waiting for its first login"),
                });
            }
            let now = call.now.timestamp();
            let row = models::User {
                id: id.clone(),
                tenant_id: t.id.clone(),
                connection_id: None,
                // Placeholder until the first login links the user (ignored while
                // `connection_id` is NULL, like a SCIM user's).
                external_subject: format!("admin:{id}"),
                email: Some(email.to_owned()),
                first_name: input.first_name.clone(),
                last_name: input.last_name.clone(),
                groups: "[]".into(),
                active: true,
                created_at: now,
                updated_at: now,
                directory_id: None,
                user_name: None,
                user_name_lower: None,
                external_id: None,
                scim_resource: None,
                version: 1,
                attributes: "{}".into(),
            };
            queries::insert_user(conn, &row)?;
            self.audit(
                conn,
                call,
                &t.id,
                Some(&row.id),
                AuditEvent::UserCreated {
                    user_id: row.id.clone(),
                    source: ChangeSource::Admin,
                },
            )?;
            let data = json!({ "user_id": row.id, "source": "admin" });
            self.emit(conn, call, &t.id, "user.created", data)?;
            Ok(UserView {
                id: row.id,
                user_name: None,
                email: row.email,
                active: true,
                directory_id: None,
                connection_id: None,
                created_at: crate::admin::rfc3339(now),
            })
        })
    }

    /// Delete a user for good (the audited admin action behind "hard delete"): only a
    /// deactivated user can be deleted, so a live account never vanishes by mistake. Sessions,
    /// tokens and memberships go with it; the audit trail keeps its history.
    pub fn hard_delete_user(&self, call: &Call, tenant: &str, user_id: &str) -> Result<()> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            let user = queries::find_user(conn, user_id)?
                .filter(|u| u.tenant_id == t.id)
                .ok_or(GatehouseError::NotFound { what: "user" })?;
            if user.active {
                return Err(GatehouseError::invalid(
                    "user",
                    "deactivate the user before deleting it",
                ));
            }
            // The groups it leaves lose a member: their representations change.
            sq::remove_user_memberships(conn, &user.id, call.now.timestamp())?;
            sq::hard_delete_user(conn, &t.id, &user.id)?;
            self.audit(
                conn,
                call,
                &t.id,
                Some(&user.id),
                AuditEvent::UserDeleted {
                    user_id: user.id.clone(),
                    source: ChangeSource::Admin,
                },
            )?;
            let data = json!({ "user_id": user.id, "source": "admin", "hard_delete": true });
            self.emit(conn, call, &t.id, "user.deleted", data)?;
            Ok(())
        })
    }

    /// A user's provisioning and sign-in history: the tenant's audit records targeting it.
    pub fn user_history(&self, tenant: &str, user_id: &str) -> Result<Vec<audit::AuditRecord>> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            let rows = queries::list_audit_rows(
                conn,
                &queries::AuditFilter {
                    tenant_id: t.id,
                    target: Some(user_id.to_owned()),
                    limit: 1000,
                    ..Default::default()
                },
            )?;
            rows.iter()
                .map(|r| audit::AuditRecord::from_json(&r.record).map_err(GatehouseError::from))
                .collect()
        })
    }
}

/// The RFC 7644 §3.12 error body for a SCIM error (the server and bulk responses use it).
pub fn scim_error_body(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut body = json!({
        "schemas": [scim_model::error::ERROR_SCHEMA],
        "status": status.to_string(),
        "detail": detail,
    });
    if let (Some(t), Some(o)) = (scim_type, body.as_object_mut()) {
        o.insert("scimType".into(), Value::String(t.to_owned()));
    }
    body
}

/// Status and SCIM body of a facade error inside a bulk response (storage and internal
/// failures are reported without their detail).
fn bulk_failure(op: &BulkOperation, e: &GatehouseError) -> BulkOperationResult {
    let (status, scim_type, detail) = match e {
        GatehouseError::Scim {
            status,
            scim_type,
            detail,
        } => (*status, *scim_type, detail.clone()),
        GatehouseError::Storage(_) => (503, None, "temporarily unavailable".to_owned()),
        other => (500, None, error_kind(other).to_string()),
    };
    BulkOperationResult {
        method: op.method,
        bulk_id: op.bulk_id.clone(),
        version: None,
        location: None,
        status,
        response: Some(scim_error_body(status, scim_type, &detail)),
    }
}

fn error_kind(e: &GatehouseError) -> &'static str {
    match e {
        GatehouseError::NotFound { .. } => "not found",
        GatehouseError::InvalidInput { .. } => "invalid input",
        _ => "internal error",
    }
}

impl Gatehouse {
    /// `POST /Bulk`: the operations run in dependency order (`bulkId:` references resolved to
    /// the ids created earlier in the request), each in its own transaction, stopping after
    /// `failOnErrors` failures.
    pub fn scim_bulk(&self, call: &Call, client: &ScimClient, body: &[u8]) -> Result<Value> {
        let req = BulkRequest::parse(body, SCIM_BULK_LIMITS)?;
        let order = req.execution_order()?;
        let mut resolved: BTreeMap<String, String> = BTreeMap::new();
        let mut out = Vec::with_capacity(order.len());
        let mut errors: u64 = 0;
        for i in order {
            if req.fail_on_errors.is_some_and(|max| errors >= max) {
                break;
            }
            let Some(op) = req.operations.get(i) else {
                continue;
            };
            match self.bulk_one(call, client, op, &resolved) {
                Ok((result, id)) => {
                    if let (Some(b), Some(id)) = (&op.bulk_id, id) {
                        resolved.insert(b.clone(), id);
                    }
                    out.push(result);
                }
                Err(e) => {
                    errors += 1;
                    out.push(bulk_failure(op, &e));
                }
            }
        }
        Ok(BulkResponse { operations: out }.to_json())
    }

    fn bulk_one(
        &self,
        call: &Call,
        client: &ScimClient,
        op: &BulkOperation,
        resolved: &BTreeMap<String, String>,
    ) -> Result<(BulkOperationResult, Option<String>)> {
        let path = scim_model::bulk::resolve_bulk_path(&op.path, resolved)?;
        let resolved_op = BulkOperation { path, ..op.clone() };
        let (schema, id) = resolved_op.target()?;
        let kind = if schema.name == schema::GROUP.name {
            ScimKind::Group
        } else {
            ScimKind::User
        };
        let mut data = op.data.clone().unwrap_or(Value::Null);
        scim_model::bulk::resolve_bulk_ids(&mut data, resolved)?;
        let version = op.version.as_deref();
        let id = id.unwrap_or_default();
        let r = match op.method {
            BulkMethod::Post => self.scim_create(call, client, kind, &data)?,
            BulkMethod::Put => self.scim_replace(call, client, kind, id, &data, version)?,
            BulkMethod::Patch => self.scim_patch(call, client, kind, id, &data, version)?,
            BulkMethod::Delete => self.scim_delete(call, client, kind, id, version)?,
        };
        let created_id = r
            .body
            .as_ref()
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let location = r
            .body
            .as_ref()
            .and_then(|b| b.pointer("/meta/location"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                Some(format!(
                    "{}{}",
                    self.scim_base_url(&client.directory_id),
                    resolved_op.path
                ))
            });
        Ok((
            BulkOperationResult {
                method: op.method,
                bulk_id: op.bulk_id.clone(),
                version: r.etag.clone(),
                location,
                status: r.status,
                // Successful operations are summarised by status and location (RFC 7644 §3.7.3).
                response: None,
            },
            created_id,
        ))
    }
}

fn strip_meta(v: &Value) -> Value {
    let mut o = v.as_object().cloned().unwrap_or_default();
    o.remove("meta");
    Value::Object(o)
}

fn not_modified(etag: String) -> ScimResponse {
    ScimResponse {
        status: 304,
        body: None,
        etag: Some(etag),
        location: None,
    }
}

/// The linking rule of a first SAML login (called by the login flow when no user is known by
/// the connection's subject): the tenant's SCIM-provisioned user, not yet linked to any
/// connection, whose `userName` equals the asserted subject or e-mail, or whose e-mail equals
/// the asserted e-mail — all compared case-insensitively — becomes this connection's user for
/// that subject. Returns the user with its link fields set (the caller writes the row).
pub(crate) fn link_scim_user(
    conn: &mut storage::Conn,
    tenant_id: &str,
    connection_id: &str,
    subject: &str,
    email: Option<&str>,
) -> std::result::Result<Option<models::User>, StorageError> {
    let subject_lower = subject.to_lowercase();
    let email_lower = email.map(str::to_lowercase);
    let found = sq::find_link_candidate(conn, tenant_id, &subject_lower, email_lower.as_deref())?;
    Ok(found.map(|mut u| {
        u.connection_id = Some(connection_id.to_owned());
        u.external_subject = subject.to_owned();
        u
    }))
}
