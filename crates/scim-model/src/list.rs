//! Query side: pagination parameters, `SearchRequest` (POST `/.search`), attribute projection and
//! the `ListResponse` document (RFC 7644 §3.4).

use serde_json::{json, Map, Value};

use crate::error::{Result, ScimError};
use crate::filter::{get_ci, AttrPath, Filter};
use crate::schema::{Container, ResourceSchema, Returned};

/// The ListResponse message schema URN.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The SearchRequest message schema URN.
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Maximum number of entries in an `attributes` or `excludedAttributes` list.
pub const MAX_PROJECTION_PATHS: usize = 128;

/// Server limits for list requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaginationLimits {
    /// `count` when the client sends none.
    pub default_count: u64,
    /// The largest page served (`filter.maxResults` in `/ServiceProviderConfig`).
    pub max_count: u64,
}

/// A validated page request: 1-based `start_index`, `count` within limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Page size.
    pub count: u64,
}

impl Pagination {
    /// Interprets `startIndex`/`count` query parameters per RFC 7644 §3.4.2.4: a start below 1 is
    /// 1, a negative count is 0, a count above the limit is capped. Non-integers are
    /// `invalidValue`.
    pub fn from_params(
        start_index: Option<&str>,
        count: Option<&str>,
        limits: PaginationLimits,
    ) -> Result<Self> {
        let parse = |name: &str, v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::InvalidValue {
                    attribute: name.to_string(),
                    reason: "expected an integer",
                })
        };
        let start = start_index.map(|v| parse("startIndex", v)).transpose()?;
        let count = count.map(|v| parse("count", v)).transpose()?;
        Ok(Self::from_numbers(start, count, limits))
    }

    fn from_numbers(start: Option<i64>, count: Option<i64>, limits: PaginationLimits) -> Self {
        let start_index = start.map_or(1, |s| u64::try_from(s.max(1)).unwrap_or(1));
        let count = count
            .map_or(limits.default_count, |c| {
                u64::try_from(c.max(0)).unwrap_or(0)
            })
            .min(limits.max_count);
        Pagination { start_index, count }
    }

    /// The 0-based offset (`start_index - 1`).
    pub fn offset(&self) -> u64 {
        self.start_index.saturating_sub(1)
    }
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    /// If non-empty, return only these (plus `returned: always` ones).
    pub attributes: Vec<AttrPath>,
    /// Otherwise, return the defaults minus these.
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// Parses the comma-separated query parameters.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self> {
        let split = |s: Option<&str>| -> Result<Vec<AttrPath>> {
            let items: Vec<&str> = s
                .into_iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            parse_paths(items)
        };
        Ok(Projection {
            attributes: split(attributes)?,
            excluded: split(excluded)?,
        })
    }

    /// Projects a canonical resource. `id` and `schemas` are always kept; `returned: never`
    /// attributes are always dropped.
    pub fn apply(&self, schema: &ResourceSchema, resource: &Value) -> Value {
        let Some(obj) = resource.as_object() else {
            return resource.clone();
        };
        let mut out = if self.attributes.is_empty() {
            let mut out = obj.clone();
            for path in &self.excluded {
                remove_path(schema, &mut out, path);
            }
            out
        } else {
            let mut out = Map::new();
            for path in &self.attributes {
                copy_path(schema, obj, &mut out, path);
            }
            out
        };
        for key in ["id", "schemas"] {
            if let Some(v) = obj.get(key) {
                out.insert(key.to_string(), v.clone());
            }
        }
        for def in schema
            .core
            .attributes
            .iter()
            .filter(|d| d.returned == Returned::Never)
        {
            out.remove(def.name);
        }
        Value::Object(out)
    }
}

fn parse_paths<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<AttrPath>> {
    let mut out = Vec::new();
    for item in items {
        if out.len() >= MAX_PROJECTION_PATHS {
            return Err(ScimError::TooMany {
                what: "attribute paths",
                limit: MAX_PROJECTION_PATHS,
            });
        }
        out.push(AttrPath::parse(item).map_err(|_| ScimError::InvalidPath {
            path: item.chars().take(256).collect(),
            reason: "invalid attribute path",
        })?);
    }
    Ok(out)
}

/// The JSON key of the object holding `path`, and whether the path names that whole object.
fn locate(
    schema: &ResourceSchema,
    obj: &Map<String, Value>,
    path: &AttrPath,
) -> Option<(Option<String>, bool)> {
    let whole = path.to_string();
    if path.sub_attribute.is_none() {
        if let Some(ext) = schema.extension(&whole) {
            return Some((Some(ext.id.to_string()), true));
        }
        if let Some((k, v)) = get_ci(obj, &whole) {
            if v.is_object() && whole.starts_with("urn:") {
                return Some((Some(k.clone()), true));
            }
        }
    }
    match path.container(schema) {
        Container::Core => Some((None, false)),
        Container::Extension(ext) => Some((Some(ext.id.to_string()), false)),
        Container::Unknown(urn) => get_ci(obj, &urn).map(|(k, _)| (Some(k.clone()), false)),
    }
}

fn copy_path(
    schema: &ResourceSchema,
    src: &Map<String, Value>,
    dst: &mut Map<String, Value>,
    path: &AttrPath,
) {
    let Some((container_key, whole)) = locate(schema, src, path) else {
        return;
    };
    let src_container = match &container_key {
        None => src,
        Some(k) => match src.get(k).and_then(Value::as_object) {
            Some(o) => o,
            None => return,
        },
    };
    let dst_container = match &container_key {
        None => dst,
        Some(k) => {
            if whole {
                dst.insert(k.clone(), Value::Object(src_container.clone()));
                return;
            }
            match dst
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
            {
                Some(o) => o,
                None => return,
            }
        }
    };
    let Some((key, value)) = get_ci(src_container, &path.name) else {
        return;
    };
    let Some(sub) = &path.sub_attribute else {
        dst_container.insert(key.clone(), value.clone());
        return;
    };
    let pick = |v: &Value| -> Option<Value> {
        let o = v.as_object()?;
        let (k, sv) = get_ci(o, sub)?;
        let mut m = Map::new();
        m.insert(k.clone(), sv.clone());
        Some(Value::Object(m))
    };
    match value {
        Value::Array(items) => {
            // Merge with what an earlier path (e.g. `emails.type` then `emails.value`) copied.
            let picked: Vec<Value> = items
                .iter()
                .map(|i| pick(i).unwrap_or(Value::Object(Map::new())))
                .collect();
            match dst_container.get_mut(key.as_str()) {
                Some(Value::Array(existing)) if existing.len() == picked.len() => {
                    for (e, p) in existing.iter_mut().zip(picked) {
                        if let (Some(e), Value::Object(p)) = (e.as_object_mut(), p) {
                            e.extend(p);
                        }
                    }
                }
                _ => {
                    dst_container.insert(key.clone(), Value::Array(picked));
                }
            }
        }
        other => {
            if let Some(Value::Object(p)) = pick(other) {
                match dst_container
                    .get_mut(key.as_str())
                    .and_then(Value::as_object_mut)
                {
                    Some(e) => e.extend(p),
                    None => {
                        dst_container.insert(key.clone(), Value::Object(p));
                    }
                }
            }
        }
    }
}

fn remove_path(schema: &ResourceSchema, obj: &mut Map<String, Value>, path: &AttrPath) {
    let Some((container_key, whole)) = locate(schema, obj, path) else {
        return;
    };
    if let (Some(k), true) = (&container_key, whole) {
        obj.remove(k);
        return;
    }
    // `returned: always` attributes cannot be excluded.
    if path
        .definition(schema)
        .is_some_and(|d| d.returned == Returned::Always)
    {
        return;
    }
    let container = match &container_key {
        None => obj,
        Some(k) => match obj.get_mut(k).and_then(Value::as_object_mut) {
            Some(o) => o,
            None => return,
        },
    };
    let Some(key) = get_ci(container, &path.name).map(|(k, _)| k.clone()) else {
        return;
    };
    match &path.sub_attribute {
        None => {
            container.remove(&key);
        }
        Some(sub) => match container.get_mut(&key) {
            Some(Value::Array(items)) => {
                for i in items.iter_mut() {
                    if let Some(o) = i.as_object_mut() {
                        if let Some(k) = get_ci(o, sub).map(|(k, _)| k.clone()) {
                            o.remove(&k);
                        }
                    }
                }
            }
            Some(Value::Object(o)) => {
                if let Some(k) = get_ci(o, sub).map(|(k, _)| k.clone()) {
                    o.remove(&k);
                }
            }
            _ => {}
        },
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Ascending (the default).
    #[default]
    Ascending,
    /// Descending.
    Descending,
}

/// A query: from GET query parameters or a POST `/.search` body.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The filter, if any.
    pub filter: Option<Filter>,
    /// Attribute projection.
    pub projection: Projection,
    /// Sort attribute.
    pub sort_by: Option<AttrPath>,
    /// Sort direction.
    pub sort_order: SortOrder,
    /// Page.
    pub pagination: Pagination,
}

fn parse_sort_order(s: &str) -> Result<SortOrder> {
    if s.eq_ignore_ascii_case("ascending") {
        Ok(SortOrder::Ascending)
    } else if s.eq_ignore_ascii_case("descending") {
        Ok(SortOrder::Descending)
    } else {
        Err(ScimError::InvalidValue {
            attribute: "sortOrder".into(),
            reason: "expected ascending or descending",
        })
    }
}

fn parse_sort_by(s: &str) -> Result<AttrPath> {
    AttrPath::parse(s).map_err(|_| ScimError::InvalidPath {
        path: s.chars().take(256).collect(),
        reason: "invalid sortBy attribute",
    })
}

impl SearchRequest {
    /// From GET query parameters (names matched case-insensitively; unknown ones ignored).
    pub fn from_query<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        limits: PaginationLimits,
    ) -> Result<Self> {
        let mut filter = None;
        let (mut attributes, mut excluded, mut sort_by, mut sort_order) =
            (None, None, None, SortOrder::Ascending);
        let (mut start, mut count) = (None, None);
        for (k, v) in params {
            match k.to_ascii_lowercase().as_str() {
                "filter" => filter = Some(Filter::parse(v)?),
                "attributes" => attributes = Some(v),
                "excludedattributes" => excluded = Some(v),
                "sortby" => sort_by = Some(parse_sort_by(v)?),
                "sortorder" => sort_order = parse_sort_order(v)?,
                "startindex" => start = Some(v),
                "count" => count = Some(v),
                _ => {}
            }
        }
        Ok(SearchRequest {
            filter,
            projection: Projection::parse(attributes, excluded)?,
            sort_by,
            sort_order,
            pagination: Pagination::from_params(start, count, limits)?,
        })
    }

    /// From a POST `/.search` body (RFC 7644 §3.4.3).
    pub fn from_json(body: &Value, limits: PaginationLimits) -> Result<Self> {
        let obj = body.as_object().ok_or_else(|| ScimError::InvalidSyntax {
            reason: "SearchRequest must be an object".into(),
        })?;
        let schemas_ok = get_ci(obj, "schemas")
            .and_then(|(_, v)| v.as_array())
            .is_some_and(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .any(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA))
            });
        if !schemas_ok {
            return Err(ScimError::InvalidSyntax {
                reason: "schemas must list the SearchRequest schema".into(),
            });
        }
        let field = |name: &str| get_ci(obj, name).map(|(_, v)| v).filter(|v| !v.is_null());
        let wrong = |name: &str, reason: &'static str| ScimError::InvalidValue {
            attribute: name.to_string(),
            reason,
        };
        let strings = |name: &str| -> Result<Vec<AttrPath>> {
            match field(name) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => {
                    let strs: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    parse_paths(strs.ok_or_else(|| wrong(name, "expected a list of strings"))?)
                }
                // Some clients send the query-parameter form (comma-separated) in JSON.
                Some(Value::String(s)) => {
                    parse_paths(s.split(',').map(str::trim).filter(|s| !s.is_empty()))
                }
                Some(_) => Err(wrong(name, "expected a list of strings")),
            }
        };
        let filter = match field("filter") {
            None => None,
            Some(Value::String(s)) => Some(Filter::parse(s)?),
            Some(_) => return Err(wrong("filter", "expected a string")),
        };
        let sort_by = match field("sortBy") {
            None => None,
            Some(Value::String(s)) => Some(parse_sort_by(s)?),
            Some(_) => return Err(wrong("sortBy", "expected a string")),
        };
        let sort_order = match field("sortOrder") {
            None => SortOrder::Ascending,
            Some(Value::String(s)) => parse_sort_order(s)?,
            Some(_) => return Err(wrong("sortOrder", "expected a string")),
        };
        let int = |name: &str| -> Result<Option<i64>> {
            match field(name) {
                None => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| wrong(name, "expected an integer")),
                Some(_) => Err(wrong(name, "expected an integer")),
            }
        };
        Ok(SearchRequest {
            filter,
            projection: Projection {
                attributes: strings("attributes")?,
                excluded: strings("excludedAttributes")?,
            },
            sort_by,
            sort_order,
            pagination: Pagination::from_numbers(int("startIndex")?, int("count")?, limits),
        })
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct ListResponse {
    /// Total number of matches across all pages.
    pub total_results: u64,
    /// 1-based index of the first resource in this page.
    pub start_index: u64,
    /// The resources of this page, already projected.
    pub resources: Vec<Value>,
}

impl ListResponse {
    /// The RFC 7644 §3.4.2 document.
    pub fn to_json(&self) -> Value {
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": self.total_results,
            "startIndex": self.start_index,
            "itemsPerPage": self.resources.len(),
            "Resources": self.resources,
        })
    }
}

/// The reference ordering for `sortBy`/`sortOrder` (RFC 7644 §3.4.2.3), for the server to match
/// in SQL or to sort in memory.
///
/// A multi-valued attribute sorts by its primary value, else its first; a complex one by its
/// `value`. Strings compare per `caseExact`, date-times as instants. Resources without a value
/// sort last in both directions (our choice; the RFC leaves it open), and ties keep input order
/// when used with a stable sort.
pub fn compare_resources(
    schema: &ResourceSchema,
    sort_by: &AttrPath,
    order: SortOrder,
    a: &Value,
    b: &Value,
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (sort_key(schema, sort_by, a), sort_key(schema, sort_by, b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let ord = x.cmp_key(&y);
            match order {
                SortOrder::Ascending => ord,
                SortOrder::Descending => ord.reverse(),
            }
        }
    }
}

#[derive(Debug, PartialEq)]
enum SortKey {
    Bool(bool),
    Num(f64),
    Time(chrono::DateTime<chrono::FixedOffset>),
    Str(String),
}

impl SortKey {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Num(_) => 1,
            SortKey::Time(_) => 2,
            SortKey::Str(_) => 3,
        }
    }

    fn cmp_key(&self, other: &SortKey) -> std::cmp::Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Time(a), SortKey::Time(b)) => a.cmp(b),
            (SortKey::Str(a), SortKey::Str(b)) => a.cmp(b),
            // Mixed types only arise from inconsistent data; order them by kind so the sort is
            // still total.
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

fn sort_key(schema: &ResourceSchema, path: &AttrPath, resource: &Value) -> Option<SortKey> {
    let obj = resource.as_object()?;
    let container = match path.container(schema) {
        Container::Core => obj,
        Container::Extension(ext) => get_ci(obj, ext.id)?.1.as_object()?,
        Container::Unknown(urn) => get_ci(obj, &urn)?.1.as_object()?,
    };
    let def = path.definition(schema);
    let mut value = get_ci(container, &path.name)?.1;
    if let Value::Array(items) = value {
        value = items
            .iter()
            .find(|v| v.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?;
    }
    let (value, leaf) = match (&path.sub_attribute, value) {
        (Some(sub), Value::Object(o)) => {
            (get_ci(o, sub)?.1, def.and_then(|d| d.sub_attribute(sub)))
        }
        (None, Value::Object(o)) => (
            get_ci(o, "value")?.1,
            def.and_then(|d| d.sub_attribute("value")),
        ),
        (Some(_), _) => return None,
        (None, v) => (v, def),
    };
    match value {
        Value::Bool(b) => Some(SortKey::Bool(*b)),
        Value::Number(n) => n.as_f64().map(SortKey::Num),
        Value::String(s) => {
            if leaf.is_some_and(|d| d.kind == crate::schema::AttributeType::DateTime) {
                if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                    return Some(SortKey::Time(t));
                }
            }
            if leaf.is_some_and(|d| d.case_exact) {
                Some(SortKey::Str(s.clone()))
            } else {
                Some(SortKey::Str(s.to_lowercase()))
            }
        }
        _ => None,
    }
}
