//! Bulk (RFC 7644 §3.7): request parsing with `maxOperations`/`maxPayloadSize`, `bulkId`
//! reference resolution and ordering, and the response document.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Result, ScimError};
use crate::filter::get_ci;
use crate::schema::{ResourceSchema, RESOURCE_TYPES};

/// The BulkRequest message schema URN.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The BulkResponse message schema URN.
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const BULK_ID_PREFIX: &str = "bulkId:";

/// Server limits, advertised in `/ServiceProviderConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    /// Maximum operations per request.
    pub max_operations: usize,
    /// Maximum request body size in bytes.
    pub max_payload_size: usize,
}

/// An HTTP method allowed in a bulk operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    /// Create.
    Post,
    /// Replace.
    Put,
    /// Modify.
    Patch,
    /// Delete.
    Delete,
}

impl BulkMethod {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }
}

/// One operation of a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    /// Method.
    pub method: BulkMethod,
    /// Client-chosen id for referencing the created resource (required for POST).
    pub bulk_id: Option<String>,
    /// `If-Match` version.
    pub version: Option<String>,
    /// Resource path relative to the base URL (`/Users`, `/Groups/{id}`).
    pub path: String,
    /// Body (POST, PUT, PATCH).
    pub data: Option<Value>,
}

impl BulkOperation {
    /// The resource type and (except for POST) the id this operation addresses. The id may
    /// still be a `bulkId:` reference; resolve it with [`resolve_bulk_path`] first.
    pub fn target(&self) -> Result<(&'static ResourceSchema, Option<&str>)> {
        let bad = || ScimError::InvalidPath {
            path: self.path.chars().take(256).collect(),
            reason: "expected /Users, /Groups or /<type>/<id>",
        };
        let trimmed = self.path.trim_end_matches('/');
        let (endpoint, id) = match trimmed.get(1..).and_then(|p| p.split_once('/')) {
            Some((e, id)) => (format!("/{e}"), Some(id).filter(|i| !i.is_empty())),
            None => (trimmed.to_string(), None),
        };
        let schema = RESOURCE_TYPES
            .iter()
            .copied()
            .find(|rt| rt.endpoint.eq_ignore_ascii_case(&endpoint))
            .ok_or_else(bad)?;
        match (self.method, id) {
            (BulkMethod::Post, None) => Ok((schema, None)),
            (BulkMethod::Post, Some(_)) | (_, None) => Err(bad()),
            (_, Some(id)) if id.contains('/') => Err(bad()),
            (_, Some(id)) => Ok((schema, Some(id))),
        }
    }
}

/// A parsed bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many errors (`None`: process everything).
    pub fail_on_errors: Option<u64>,
    /// Operations in request order.
    pub operations: Vec<BulkOperation>,
}

impl BulkRequest {
    /// Parses a raw body, enforcing the payload limit before parsing JSON.
    pub fn parse(body: &[u8], limits: BulkLimits) -> Result<Self> {
        if body.len() > limits.max_payload_size {
            return Err(ScimError::PayloadTooLarge {
                size: Some(body.len()),
                limit: limits.max_payload_size,
            });
        }
        let value = crate::body::parse_body(body)?;
        Self::from_json(&value, limits.max_operations)
    }

    /// Parses an already-decoded body.
    pub fn from_json(body: &Value, max_operations: usize) -> Result<Self> {
        let syntax = |reason: &str| ScimError::InvalidSyntax {
            reason: reason.to_string(),
        };
        let obj = body
            .as_object()
            .ok_or_else(|| syntax("bulk request must be an object"))?;
        let schemas_ok = get_ci(obj, "schemas")
            .and_then(|(_, v)| v.as_array())
            .is_some_and(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .any(|s| s.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
            });
        if !schemas_ok {
            return Err(syntax("schemas must list the BulkRequest schema"));
        }
        let fail_on_errors = match get_ci(obj, "failOnErrors").map(|(_, v)| v) {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| syntax("failOnErrors must be a positive integer"))?,
            ),
        };
        let ops = get_ci(obj, "Operations")
            .and_then(|(_, v)| v.as_array())
            .ok_or_else(|| syntax("missing Operations array"))?;
        if ops.len() > max_operations {
            return Err(ScimError::TooManyOperations {
                limit: max_operations,
            });
        }
        let mut operations = Vec::with_capacity(ops.len());
        let mut seen_ids: Vec<&str> = Vec::new();
        for op in ops {
            let op = op
                .as_object()
                .ok_or_else(|| syntax("operation must be an object"))?;
            let text = |name: &str| -> Result<Option<String>> {
                match get_ci(op, name).map(|(_, v)| v) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(syntax("operation members must be strings")),
                }
            };
            let method = match text("method")?
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("POST") => BulkMethod::Post,
                Some("PUT") => BulkMethod::Put,
                Some("PATCH") => BulkMethod::Patch,
                Some("DELETE") => BulkMethod::Delete,
                _ => return Err(syntax("method must be POST, PUT, PATCH or DELETE")),
            };
            let bulk_id = text("bulkId")?;
            if method == BulkMethod::Post && bulk_id.is_none() {
                return Err(syntax("POST operations need a bulkId"));
            }
            if let Some(id) = get_ci(op, "bulkId").and_then(|(_, v)| v.as_str()) {
                if seen_ids.contains(&id) {
                    return Err(syntax("bulkId values must be unique"));
                }
                seen_ids.push(id);
            }
            let path = text("path")?.ok_or_else(|| syntax("operation needs a path"))?;
            let data = get_ci(op, "data")
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_null());
            if method != BulkMethod::Delete && data.is_none() {
                return Err(syntax("operation needs data"));
            }
            let operation = BulkOperation {
                method,
                bulk_id,
                version: text("version")?,
                path,
                data,
            };
            operation.target()?;
            operations.push(operation);
        }
        Ok(BulkRequest {
            fail_on_errors,
            operations,
        })
    }

    /// An order in which to run the operations so that every `bulkId:` reference (in `path` or
    /// `data`) is created before it is used; request order is kept otherwise. A reference to an
    /// unknown bulkId or a cycle is `invalidValue`.
    pub fn execution_order(&self) -> Result<Vec<usize>> {
        let index: BTreeMap<&str, usize> = self
            .operations
            .iter()
            .enumerate()
            .filter_map(|(i, op)| op.bulk_id.as_deref().map(|b| (b, i)))
            .collect();
        let deps: Vec<Vec<usize>> = self
            .operations
            .iter()
            .map(|op| {
                let mut refs = op.data.as_ref().map(bulk_id_references).unwrap_or_default();
                refs.extend(str_reference(&op.path));
                refs.iter()
                    .map(|r| index.get(r.as_str()).copied().ok_or_else(unresolved))
                    .collect::<Result<Vec<usize>>>()
            })
            .collect::<Result<_>>()?;
        let mut done = vec![false; self.operations.len()];
        let mut order = Vec::with_capacity(self.operations.len());
        while order.len() < self.operations.len() {
            let next = (0..self.operations.len())
                .find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]))
                .ok_or_else(|| ScimError::InvalidValue {
                    attribute: "bulkId".into(),
                    reason: "circular bulkId references",
                })?;
            done[next] = true;
            order.push(next);
        }
        Ok(order)
    }
}

fn unresolved() -> ScimError {
    ScimError::InvalidValue {
        attribute: "bulkId".into(),
        reason: "reference to an unknown bulkId",
    }
}

fn str_reference(s: &str) -> Option<String> {
    // In a path only the last segment may be a reference (`/Groups/bulkId:qwerty`).
    let last = s.rsplit('/').next().unwrap_or(s);
    last.strip_prefix(BULK_ID_PREFIX).map(str::to_string)
}

/// Every `bulkId:x` string value in `value` (as `x`), in document order, deduplicated.
pub fn bulk_id_references(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(value, &mut |s| {
        if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
            if !out.iter().any(|x: &String| x == id) {
                out.push(id.to_string());
            }
        }
    });
    out
}

fn walk(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|v| walk(v, f)),
        Value::Object(o) => o.values().for_each(|v| walk(v, f)),
        _ => {}
    }
}

/// Replaces every `bulkId:x` string value in `value` with the id created for `x`.
pub fn resolve_bulk_ids(value: &mut Value, resolved: &BTreeMap<String, String>) -> Result<()> {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                *s = resolved.get(id).cloned().ok_or_else(unresolved)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter_mut().try_for_each(|v| resolve_bulk_ids(v, resolved)),
        Value::Object(o) => o
            .values_mut()
            .try_for_each(|v| resolve_bulk_ids(v, resolved)),
        _ => Ok(()),
    }
}

/// Resolves a `bulkId:x` last segment of an operation path.
pub fn resolve_bulk_path(path: &str, resolved: &BTreeMap<String, String>) -> Result<String> {
    match str_reference(path) {
        None => Ok(path.to_string()),
        Some(id) => {
            let real = resolved.get(&id).ok_or_else(unresolved)?;
            let prefix = &path[..path.len() - BULK_ID_PREFIX.len() - id.len()];
            Ok(format!("{prefix}{real}"))
        }
    }
}

/// The outcome of one bulk operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperationResult {
    /// Method of the operation.
    pub method: BulkMethod,
    /// Its bulkId, echoed.
    pub bulk_id: Option<String>,
    /// New resource version.
    pub version: Option<String>,
    /// Resource URI (absent when a POST failed).
    pub location: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// Body: an error response on failure.
    pub response: Option<Value>,
}

impl BulkOperationResult {
    /// A failed operation carrying the SCIM error body.
    pub fn failed(op: &BulkOperation, error: &ScimError) -> Self {
        BulkOperationResult {
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            version: None,
            location: None,
            status: error.status(),
            response: Some(error.to_response()),
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("method".into(), self.method.as_str().into());
        if let Some(b) = &self.bulk_id {
            m.insert("bulkId".into(), b.clone().into());
        }
        if let Some(v) = &self.version {
            m.insert("version".into(), v.clone().into());
        }
        if let Some(l) = &self.location {
            m.insert("location".into(), l.clone().into());
        }
        m.insert("status".into(), self.status.to_string().into());
        if let Some(r) = &self.response {
            m.insert("response".into(), r.clone());
        }
        Value::Object(m)
    }
}

/// The bulk response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkResponse {
    /// Results, in execution order.
    pub operations: Vec<BulkOperationResult>,
}

impl BulkResponse {
    /// The RFC 7644 §3.7.3 document.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "schemas": [BULK_RESPONSE_SCHEMA],
            "Operations": self.operations.iter().map(BulkOperationResult::to_json).collect::<Vec<_>>(),
        })
    }
}
