//! Resources as schema-validated JSON, the server-owned `meta`, and typed read views.
//!
//! A resource is a `serde_json::Value` object in *canonical form*: attribute names in schema
//! spelling, values of the schema's types, `schemas` listing the core schema plus every extension
//! that carries data, extension data under its URN key. Unknown extension objects are kept
//! verbatim so that they round-trip; unknown core attributes are ignored (RFC 7644 §3.3 lets a
//! service provider ignore attributes it does not support, and storing arbitrary client keys would
//! make every resource a free-form document).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Result, ScimError};
use crate::filter::{get_ci, is_present};
use crate::schema::{AttributeDef, AttributeType, Container, Mutability, ResourceSchema};

/// Validates a client-supplied resource (POST/PUT body) and returns it in canonical form.
///
/// `id`, `meta` and every `readOnly` attribute or sub-attribute are dropped (RFC 7643 §2.2: the
/// server ignores client values for them); booleans sent as `"True"`/`"False"` are coerced; a
/// complex attribute with a `value` sub-attribute also accepts a bare string (Entra sends
/// `manager` that way).
pub fn validate_resource(schema: &ResourceSchema, input: &Value) -> Result<Value> {
    let out = validate_unchecked(schema, input)?;
    check_values(schema, &out, None)?;
    Ok(Value::Object(out))
}

/// [`validate_resource`] without the value checks of [`check_values`], which the caller runs
/// against what the resource held before.
fn validate_unchecked(schema: &ResourceSchema, input: &Value) -> Result<Map<String, Value>> {
    let obj = input
        .as_object()
        .ok_or_else(|| syntax("resource must be a JSON object"))?;
    let declared = get_ci(obj, "schemas")
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| syntax("missing schemas array"))?;
    let declares_core = declared
        .iter()
        .filter_map(Value::as_str)
        .any(|s| s.eq_ignore_ascii_case(schema.core.id));
    if !declares_core {
        return Err(syntax("schemas does not list the resource's core schema"));
    }
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        set_client_attribute(schema, &mut out, key, value)?;
    }
    check_required(schema, &out)?;
    sync_schemas(schema, &mut out);
    Ok(out)
}

/// Validates a PUT body against the stored resource: the result is the canonical body plus the
/// server-owned parts of `existing` (`id`, `meta`, read-only attributes such as `groups`).
/// Changing an `immutable` attribute that already has a value is a `mutability` error.
pub fn replace_resource(schema: &ResourceSchema, existing: &Value, input: &Value) -> Result<Value> {
    let old = existing
        .as_object()
        .ok_or_else(|| syntax("resource must be a JSON object"))?;
    let mut new = validate_unchecked(schema, input)?;
    check_values(schema, &new, Some(old))?;
    for def in schema
        .core
        .attributes
        .iter()
        .chain(crate::schema::COMMON_ATTRIBUTES.iter())
    {
        let old_value = get_ci(old, def.name).map(|(_, v)| v);
        match def.mutability {
            Mutability::ReadOnly => {
                if let Some(v) = old_value {
                    new.insert(def.name.to_string(), v.clone());
                }
            }
            Mutability::Immutable => {
                if let (Some(o), Some(n)) = (old_value, new.get(def.name)) {
                    if o != n {
                        return Err(ScimError::Mutability {
                            attribute: def.name.to_string(),
                            reason: "immutable",
                        });
                    }
                }
            }
            Mutability::ReadWrite | Mutability::WriteOnly => {}
        }
    }
    Ok(Value::Object(new))
}

/// Puts one client-supplied top-level member into `out`, resolving URN-qualified keys.
pub(crate) fn set_client_attribute(
    schema: &ResourceSchema,
    out: &mut Map<String, Value>,
    key: &str,
    value: &Value,
) -> Result<()> {
    match schema.split_urn(key) {
        None => {
            if let Some(def) = schema.core_attribute(key) {
                if def.mutability != Mutability::ReadOnly {
                    if let Some(v) = normalize_value(def, value, def.name)? {
                        out.insert(def.name.to_string(), v);
                    }
                }
            }
            Ok(())
        }
        Some((Container::Core, "")) => {
            // `"urn:…:core:2.0:User": {…}` — the core attributes wrapped in their schema URN.
            let inner = value
                .as_object()
                .ok_or_else(|| syntax("schema object must be an object"))?;
            for (k, v) in inner {
                set_client_attribute(schema, out, k, v)?;
            }
            Ok(())
        }
        Some((Container::Core, attr)) => set_client_attribute(schema, out, attr, value),
        Some((Container::Extension(ext), attr)) => {
            let mut pairs: Vec<(&str, &Value)> = Vec::new();
            if attr.is_empty() {
                let inner = value
                    .as_object()
                    .ok_or_else(|| syntax("extension value must be an object"))?;
                pairs.extend(inner.iter().map(|(k, v)| (k.as_str(), v)));
            } else {
                pairs.push((attr, value));
            }
            for (k, v) in pairs {
                let Some(def) = ext.attribute(k) else {
                    continue;
                };
                if def.mutability == Mutability::ReadOnly {
                    continue;
                }
                let path = format!("{}:{}", ext.id, def.name);
                if let Some(v) = normalize_value(def, v, &path)? {
                    let slot = out
                        .entry(ext.id.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(slot) = slot.as_object_mut() {
                        slot.insert(def.name.to_string(), v);
                    }
                }
            }
            Ok(())
        }
        Some((Container::Unknown(_), _)) if value.is_object() => {
            // An extension we have no definition for: kept verbatim under the key as sent.
            out.insert(key.to_string(), value.clone());
            Ok(())
        }
        Some((Container::Unknown(urn), attr)) => {
            let slot = out.entry(urn).or_insert_with(|| Value::Object(Map::new()));
            if let Some(slot) = slot.as_object_mut() {
                slot.insert(attr.to_string(), value.clone());
            }
            Ok(())
        }
    }
}

/// Normalises a client value for `def`. `None` means "unassigned" (null, empty list, empty object).
pub(crate) fn normalize_value(
    def: &AttributeDef,
    value: &Value,
    path: &str,
) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        return normalize_single(def, value, path);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        // Some clients send a lone value for a multi-valued attribute; treat it as a list of one.
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = normalize_single(def, item, path)? {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    let primaries = out
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(invalid(path, "more than one value is marked primary"));
    }
    Ok(Some(Value::Array(out)))
}

/// Normalises one (non-list) value for `def`.
pub(crate) fn normalize_single(
    def: &AttributeDef,
    value: &Value,
    path: &str,
) -> Result<Option<Value>> {
    if def.kind != AttributeType::Complex {
        return normalize_simple(def, value, path);
    }
    let wrapped;
    let obj = match value {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        Value::String(_) if def.sub_attribute("value").is_some() => {
            let mut m = Map::new();
            m.insert("value".into(), value.clone());
            wrapped = m;
            &wrapped
        }
        _ => return Err(invalid(path, "expected a complex value")),
    };
    let mut out = Map::new();
    for (k, v) in obj {
        // Unknown sub-attributes are ignored like unknown attributes; read-only ones are the
        // server's to set.
        let Some(sub) = def.sub_attribute(k) else {
            continue;
        };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        if let Some(v) = normalize_simple(sub, v, &sub_path)? {
            out.insert(sub.name.to_string(), v);
        }
    }
    if obj.is_empty() {
        return Ok(None);
    }
    // Something was sent, so it must be whole: `{"display": "x"}` as a member is a mistake to
    // report, not an empty value to drop silently.
    if let Some(sub) = missing_required_sub(def, &out) {
        return Err(invalid_sub(path, sub));
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Object(out)))
}

/// Normalises a value of a simple type.
pub(crate) fn normalize_simple(
    def: &AttributeDef,
    value: &Value,
    path: &str,
) -> Result<Option<Value>> {
    let ok = |v: &Value| Ok(Some(v.clone()));
    match (def.kind, value) {
        (_, Value::Null) => Ok(None),
        (AttributeType::Boolean, Value::Bool(_)) => ok(value),
        // Entra sends booleans as "True"/"False".
        (AttributeType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (AttributeType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (
            AttributeType::String | AttributeType::Reference | AttributeType::Binary,
            Value::String(_),
        ) => ok(value),
        (AttributeType::DateTime, Value::String(s)) => {
            if DateTime::parse_from_rfc3339(s).is_ok() {
                ok(value)
            } else {
                Err(invalid(path, "expected an RFC 3339 date-time"))
            }
        }
        (AttributeType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => ok(value),
        (AttributeType::Decimal, Value::Number(_)) => ok(value),
        (AttributeType::Boolean, _) => Err(invalid(path, "expected a boolean")),
        (AttributeType::Integer, _) => Err(invalid(path, "expected an integer")),
        (AttributeType::Decimal, _) => Err(invalid(path, "expected a number")),
        (AttributeType::Complex, _) => Err(invalid(path, "unexpected nested complex value")),
        _ => Err(invalid(path, "expected a string")),
    }
}

/// The longest value, in UTF-8 bytes, of an attribute a server indexes to look resources up
/// (`userName`, `externalId`, `displayName`, `emails[].value`). Real ones are far shorter (an
/// e-mail address is at most 254 bytes); the bound keeps every such value inside an index
/// entry (PostgreSQL's B-tree refuses entries over about 2.7 kB, which would otherwise surface
/// as a server error).
pub const MAX_INDEXED_VALUE_BYTES: usize = 1024;

/// The checks on values a request brings: a required string must not be blank (only
/// whitespace: RFC 7643 §4.1.1's `userName` must identify someone), an indexed value must fit
/// [`MAX_INDEXED_VALUE_BYTES`], and a complex value must have its required sub-attributes (a
/// member without `value` names no one). An attribute equal to what `before` holds is not
/// checked again: a record stored before a rule existed must stay writable, above all
/// deactivatable, by a PATCH that does not touch the old value.
pub(crate) fn check_values(
    schema: &ResourceSchema,
    obj: &Map<String, Value>,
    before: Option<&Map<String, Value>>,
) -> Result<()> {
    let changed = |name: &str| before.is_none_or(|b| b.get(name) != obj.get(name));
    for def in schema.core.attributes.iter().filter(|d| changed(d.name)) {
        let items: Vec<&Value> = match obj.get(def.name) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
            None => vec![],
        };
        if def.required
            && items
                .iter()
                .any(|v| v.as_str().is_some_and(|s| s.trim().is_empty()))
        {
            return Err(invalid(def.name, "must not be blank"));
        }
        if def.kind == AttributeType::Complex {
            for item in items.iter().filter_map(|v| v.as_object()) {
                if let Some(sub) = missing_required_sub(def, item) {
                    return Err(invalid_sub(def.name, sub));
                }
            }
        }
        let indexed = match def.name {
            "userName" | "displayName" => items.iter().filter_map(|v| v.as_str()).collect(),
            "emails" => items
                .iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .collect(),
            _ => vec![],
        };
        if indexed.iter().any(|v| v.len() > MAX_INDEXED_VALUE_BYTES) {
            let path = if def.name == "emails" {
                "emails.value"
            } else {
                def.name
            };
            return Err(invalid(path, "longer than 1024 bytes"));
        }
    }
    if changed("externalId")
        && obj
            .get("externalId")
            .and_then(Value::as_str)
            .is_some_and(|s| s.len() > MAX_INDEXED_VALUE_BYTES)
    {
        return Err(invalid("externalId", "longer than 1024 bytes"));
    }
    Ok(())
}

/// Fails if a required attribute of the core schema or a present extension is missing.
pub(crate) fn check_required(schema: &ResourceSchema, obj: &Map<String, Value>) -> Result<()> {
    for def in schema.core.attributes.iter().filter(|d| d.required) {
        if !obj.get(def.name).is_some_and(is_present) {
            return Err(invalid(def.name, "required attribute is missing"));
        }
    }
    for (ext, required) in schema.extensions {
        let data = obj.get(ext.id).and_then(Value::as_object);
        if *required && data.is_none() {
            return Err(invalid(ext.id, "required extension is missing"));
        }
        if let Some(data) = data {
            for def in ext.attributes.iter().filter(|d| d.required) {
                if !data.get(def.name).is_some_and(is_present) {
                    return Err(invalid(def.name, "required attribute is missing"));
                }
            }
        }
    }
    Ok(())
}

/// Rebuilds `schemas` from the data present and drops empty extension objects.
pub(crate) fn sync_schemas(schema: &ResourceSchema, obj: &mut Map<String, Value>) {
    obj.retain(|k, v| {
        !(k.starts_with("urn:") && v.as_object().is_some_and(|o| !o.values().any(is_present)))
    });
    let mut schemas = vec![Value::String(schema.core.id.to_string())];
    for (ext, _) in schema.extensions {
        if obj.contains_key(ext.id) {
            schemas.push(Value::String(ext.id.to_string()));
        }
    }
    for key in obj.keys() {
        if key.starts_with("urn:") && schema.extension(key).is_none() {
            schemas.push(Value::String(key.clone()));
        }
    }
    obj.insert("schemas".into(), Value::Array(schemas));
}

fn syntax(reason: &str) -> ScimError {
    ScimError::InvalidSyntax {
        reason: reason.to_string(),
    }
}

/// The first required sub-attribute of `def` that `item` lacks.
fn missing_required_sub<'a>(def: &'a AttributeDef, item: &Map<String, Value>) -> Option<&'a str> {
    def.sub_attributes
        .iter()
        .filter(|sub| sub.required)
        .find(|sub| !item.get(sub.name).is_some_and(is_present))
        .map(|sub| sub.name)
}

fn invalid_sub(path: &str, sub: &str) -> ScimError {
    ScimError::InvalidValue {
        attribute: format!("{path}.{sub}"),
        reason: "required sub-attribute is missing",
    }
}

pub(crate) fn invalid(path: &str, reason: &'static str) -> ScimError {
    ScimError::InvalidValue {
        attribute: path.to_string(),
        reason,
    }
}

/// Server-owned resource metadata (RFC 7643 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// `User` or `Group`.
    pub resource_type: &'static str,
    /// When the resource was created.
    pub created: DateTime<Utc>,
    /// When it last changed.
    pub last_modified: DateTime<Utc>,
    /// Its URI.
    pub location: String,
    /// Its entity tag, e.g. `W/"3"`; also sent as the `ETag` header.
    pub version: Option<String>,
}

impl Meta {
    /// Builds the metadata for resource `id` under `base_url` (no trailing slash needed).
    pub fn new(
        schema: &ResourceSchema,
        base_url: &str,
        id: &str,
        created: DateTime<Utc>,
        last_modified: DateTime<Utc>,
        version: Option<String>,
    ) -> Self {
        Meta {
            resource_type: schema.name,
            created,
            last_modified,
            location: format!(
                "{}{}/{}",
                base_url.trim_end_matches('/'),
                schema.endpoint,
                id
            ),
            version,
        }
    }

    /// The `meta` JSON object.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("resourceType".into(), self.resource_type.into());
        m.insert(
            "created".into(),
            self.created
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        );
        m.insert(
            "lastModified".into(),
            self.last_modified
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        );
        m.insert("location".into(), self.location.clone().into());
        if let Some(v) = &self.version {
            m.insert("version".into(), v.clone().into());
        }
        Value::Object(m)
    }
}

/// Stamps the server-owned `id` and `meta` onto a canonical resource.
pub fn set_server_attributes(resource: &mut Value, id: &str, meta: &Meta) {
    if let Some(obj) = resource.as_object_mut() {
        obj.insert("id".into(), id.into());
        obj.insert("meta".into(), meta.to_json());
    }
}

/// One value of a multi-valued attribute such as `emails` or `phoneNumbers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MultiValue {
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// Label such as `work`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether this is the primary value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// The components of a user's name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Middle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Honorific prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    /// Honorific suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
}

/// The enterprise extension's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnterpriseUser {
    /// Employee number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// Cost center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    /// Organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The manager's resource id (`manager.value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
}

/// The enterprise `manager` reference.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Manager {
    /// The manager's SCIM id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The manager's URI.
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The manager's display name (server-set).
    #[serde(
        default,
        rename = "displayName",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
}

/// A typed read view of a canonical User resource, for the attributes the server indexes.
/// Everything else stays in the JSON; this view is for convenience, not the source of truth.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Server id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Sign-in name (required).
    pub user_name: String,
    /// Name components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// User type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// Locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Preferred language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    /// Administrative status; absent means active (RFC 7643 leaves it to the provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Email addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<MultiValue>,
    /// Phone numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<MultiValue>,
    /// Enterprise extension data.
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub enterprise: Option<EnterpriseUser>,
}

impl User {
    /// Reads the view from a canonical resource.
    pub fn from_resource(resource: &Value) -> Result<Self> {
        User::deserialize(resource).map_err(|_| syntax("not a canonical User resource"))
    }

    /// The primary email, else the first one.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .and_then(|e| e.value.as_deref())
    }
}

/// A group member.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Member {
    /// The member's SCIM id.
    pub value: String,
    /// The member's URI.
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// `User` or `Group`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A typed read view of a canonical Group resource.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Server id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Display name (required).
    pub display_name: String,
    /// Members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
}

impl Group {
    /// Reads the view from a canonical resource.
    pub fn from_resource(resource: &Value) -> Result<Self> {
        Group::deserialize(resource).map_err(|_| syntax("not a canonical Group resource"))
    }
}
