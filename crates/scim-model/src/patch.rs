//! PATCH (RFC 7644 §3.5.2): parsing a PatchOp request and applying it to a canonical resource,
//! including the dialects Microsoft Entra ID and Okta actually send.
//!
//! Dialects accepted on purpose (each seen in the wild, see `fixtures/scim/README.md`):
//! * `op` is case-insensitive (`Add`, `Replace`, `Remove` from Entra);
//! * booleans as `"True"`/`"False"` strings (Entra), also inside value filters
//!   (`roles[primary eq "True"].value`, Entra's app-role mapping target);
//! * path-less `add`/`replace` whose value object has dotted (`name.givenName`) or URN-qualified
//!   (`urn:…:enterprise:2.0:User:department`) keys (Entra), or is a plain partial resource (Okta,
//!   which also repeats the unchanged `id` when renaming a group);
//! * `remove` on `members` with a `value` list removes only the listed members (Entra);
//! * `manager` as a bare string (Entra);
//! * `add`/`replace` on `emails[type eq "work"].value` when no work email exists creates one
//!   (Entra relies on this; RFC 7644 would say `noTarget`). Only filters made of `eq`
//!   comparisons joined by `and` can create a value, because only they determine it.
//! * `remove` with a value filter that matches nothing succeeds without change, so that an IdP
//!   retrying a membership removal is idempotent.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::{Result, ScimError};
use crate::filter::{get_ci, parse_patch_path, AttrPath, CompValue, CompareOp, Filter};
use crate::resource::{
    check_required, check_values, invalid, normalize_simple, normalize_single, normalize_value,
    sync_schemas,
};
use crate::schema::{AttributeDef, AttributeType, Container, Mutability, ResourceSchema};

/// The PatchOp message schema URN.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    /// Add values (merge into complex, append to multi-valued).
    Add,
    /// Remove the target (or the listed values).
    Remove,
    /// Replace the target.
    Replace,
}

/// A parsed PATCH path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPath {
    /// The attribute (with a sub-attribute when written `name.givenName`).
    pub attribute: AttrPath,
    /// The value filter of `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`.value` in `emails[…].value`).
    pub sub_attribute: Option<String>,
}

impl PatchPath {
    /// Parses a path (bounded like filters).
    pub fn parse(text: &str) -> Result<Self> {
        let (attribute, filter, sub_attribute) = parse_patch_path(text)?;
        Ok(PatchPath {
            attribute,
            filter,
            sub_attribute,
        })
    }
}

/// One operation of a PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOpKind,
    /// Where; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// The value, as sent.
    pub value: Option<Value>,
}

/// A parsed PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, applied in order.
    pub operations: Vec<PatchOperation>,
}

/// What a PATCH (or PUT) changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSummary {
    /// Canonical names of changed top-level attributes; extension attributes as `urn:…:name`.
    pub changed_attributes: Vec<String>,
    /// Member ids present after but not before (Group resources).
    pub members_added: Vec<String>,
    /// Member ids present before but not after (Group resources).
    pub members_removed: Vec<String>,
}

impl ChangeSummary {
    /// Compares two canonical resources. `meta` and `schemas` are not reported.
    pub fn between(schema: &ResourceSchema, old: &Value, new: &Value) -> Self {
        let empty = Map::new();
        let old = old.as_object().unwrap_or(&empty);
        let new = new.as_object().unwrap_or(&empty);
        let mut changed = Vec::new();
        let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            if key == "meta" || key == "schemas" {
                continue;
            }
            let (a, b) = (old.get(key.as_str()), new.get(key.as_str()));
            if a == b {
                continue;
            }
            match (
                key.starts_with("urn:"),
                a.and_then(Value::as_object),
                b.and_then(Value::as_object),
            ) {
                (true, oa, ob) => {
                    let (oa, ob) = (oa.unwrap_or(&empty), ob.unwrap_or(&empty));
                    let mut subs: Vec<&String> = oa.keys().chain(ob.keys()).collect();
                    subs.sort();
                    subs.dedup();
                    for sub in subs {
                        if oa.get(sub.as_str()) != ob.get(sub.as_str()) {
                            changed.push(format!("{key}:{sub}"));
                        }
                    }
                }
                _ => changed.push(key.clone()),
            }
        }
        let mut summary = ChangeSummary {
            changed_attributes: changed,
            ..ChangeSummary::default()
        };
        if schema.core.attribute("members").is_some() {
            // Sets, not list scans: groups pushed by IdPs can have tens of thousands of members.
            let before = member_ids(old);
            let after = member_ids(new);
            let before_set: HashSet<&str> = before.iter().map(String::as_str).collect();
            let after_set: HashSet<&str> = after.iter().map(String::as_str).collect();
            summary.members_added = after
                .iter()
                .filter(|id| !before_set.contains(id.as_str()))
                .cloned()
                .collect();
            summary.members_removed = before
                .iter()
                .filter(|id| !after_set.contains(id.as_str()))
                .cloned()
                .collect();
        }
        summary
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changed_attributes.is_empty()
            && self.members_added.is_empty()
            && self.members_removed.is_empty()
    }
}

fn member_ids(obj: &Map<String, Value>) -> Vec<String> {
    let mut seen = HashSet::new();
    obj.get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str))
        .filter(|id| seen.insert(*id))
        .map(str::to_string)
        .collect()
}

/// The result of applying a PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The new canonical resource (the server still stamps `meta.lastModified`/`version`).
    pub resource: Value,
    /// What changed.
    pub changes: ChangeSummary,
}

impl PatchRequest {
    /// Parses a PatchOp body, allowing at most `max_operations` operations.
    pub fn parse(body: &Value, max_operations: usize) -> Result<Self> {
        let obj = body
            .as_object()
            .ok_or_else(|| syntax("PatchOp body must be an object"))?;
        let schemas_ok = get_ci(obj, "schemas")
            .and_then(|(_, v)| v.as_array())
            .is_some_and(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .any(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            });
        if !schemas_ok {
            return Err(syntax("schemas must list the PatchOp schema"));
        }
        let ops = get_ci(obj, "Operations")
            .and_then(|(_, v)| v.as_array())
            .ok_or_else(|| syntax("missing Operations array"))?;
        if ops.is_empty() {
            return Err(syntax("Operations is empty"));
        }
        if ops.len() > max_operations {
            return Err(ScimError::TooManyOperations {
                limit: max_operations,
            });
        }
        let mut operations = Vec::with_capacity(ops.len());
        for op in ops {
            let op = op
                .as_object()
                .ok_or_else(|| syntax("operation must be an object"))?;
            let kind = match get_ci(op, "op").and_then(|(_, v)| v.as_str()) {
                Some(s) if s.eq_ignore_ascii_case("add") => PatchOpKind::Add,
                Some(s) if s.eq_ignore_ascii_case("replace") => PatchOpKind::Replace,
                Some(s) if s.eq_ignore_ascii_case("remove") => PatchOpKind::Remove,
                _ => return Err(syntax("op must be add, replace or remove")),
            };
            let path = match get_ci(op, "path").map(|(_, v)| v) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(PatchPath::parse(s)?),
                Some(_) => return Err(syntax("path must be a string")),
            };
            let value = get_ci(op, "value").map(|(_, v)| v.clone());
            match (kind, &path, &value) {
                (PatchOpKind::Remove, None, _) => {
                    return Err(ScimError::NoTarget {
                        path: String::new(),
                    })
                }
                (PatchOpKind::Add | PatchOpKind::Replace, _, None) => {
                    return Err(syntax("add and replace need a value"))
                }
                _ => {}
            }
            operations.push(PatchOperation {
                op: kind,
                path,
                value,
            });
        }
        Ok(PatchRequest { operations })
    }

    /// Applies the operations, in order and atomically, to a canonical resource.
    pub fn apply(&self, schema: &ResourceSchema, resource: &Value) -> Result<PatchOutcome> {
        let mut doc = resource
            .as_object()
            .cloned()
            .ok_or_else(|| syntax("resource must be an object"))?;
        for op in &self.operations {
            apply_operation(schema, &mut doc, op)?;
        }
        check_required(schema, &doc)?;
        check_values(schema, &doc, resource.as_object())?;
        check_primaries(schema, &doc)?;
        sync_schemas(schema, &mut doc);
        let new = Value::Object(doc);
        let changes = ChangeSummary::between(schema, resource, &new);
        Ok(PatchOutcome {
            resource: new,
            changes,
        })
    }
}

/// A resolved target of an operation.
struct Target {
    container: Container,
    /// `None` for attributes of unknown extensions, which are handled as raw JSON.
    def: Option<&'static AttributeDef>,
    name: String,
    filter: Option<Filter>,
    sub: Option<(String, Option<&'static AttributeDef>)>,
    display: String,
}

fn apply_operation(
    schema: &ResourceSchema,
    doc: &mut Map<String, Value>,
    op: &PatchOperation,
) -> Result<()> {
    match &op.path {
        Some(path) => {
            // A path naming a whole extension: treat its value like a path-less object.
            if path.filter.is_none() && path.attribute.sub_attribute.is_none() {
                let full = path.attribute.to_string();
                if let Some(ext) = schema.extension(&full) {
                    if op.op == PatchOpKind::Remove {
                        // `remove` of a whole extension unassigns all its attributes (RFC 7644
                        // §3.5.2.2); it carries no value to treat as a path-less object.
                        doc.retain(|key, _| !key.eq_ignore_ascii_case(ext.id));
                        return Ok(());
                    }
                    return apply_pathless(schema, doc, op.op, op.value.as_ref(), Some(ext.id));
                }
            }
            let target = resolve(schema, path, false)?.ok_or_else(|| ScimError::InvalidPath {
                path: path.attribute.to_string(),
                reason: "unknown attribute",
            })?;
            apply_target(doc, op.op, &target, op.value.as_ref(), false)
        }
        None => apply_pathless(schema, doc, op.op, op.value.as_ref(), None),
    }
}

fn apply_pathless(
    schema: &ResourceSchema,
    doc: &mut Map<String, Value>,
    op: PatchOpKind,
    value: Option<&Value>,
    prefix: Option<&str>,
) -> Result<()> {
    let obj = value
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("value", "a path-less operation needs an object value"))?;
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let key = match prefix {
            Some(p) => format!("{p}:{key}"),
            None => key.clone(),
        };
        // A whole extension object (`"urn:…:enterprise:2.0:User": {…}`).
        if let Some(ext) = schema.extension(&key) {
            apply_pathless(schema, doc, op, Some(v), Some(ext.id))?;
            continue;
        }
        if schema.core.id.eq_ignore_ascii_case(&key) {
            apply_pathless(schema, doc, op, Some(v), None)?;
            continue;
        }
        let path = PatchPath::parse(&key)?;
        if path.filter.is_some() {
            return Err(ScimError::InvalidPath {
                path: key,
                reason: "value filters are not allowed in value keys",
            });
        }
        // Unknown core attributes are ignored, as on POST (see `resource` module docs).
        let Some(target) = resolve(schema, &path, true)? else {
            continue;
        };
        apply_target(doc, op, &target, Some(v), true)?;
    }
    Ok(())
}

fn resolve(schema: &ResourceSchema, path: &PatchPath, pathless: bool) -> Result<Option<Target>> {
    let attr = &path.attribute;
    let container = attr.container(schema);
    let def = attr.definition(schema);
    if def.is_none() && !matches!(container, Container::Unknown(_)) {
        return Ok(None);
    }
    let sub_name = match (&attr.sub_attribute, &path.sub_attribute) {
        (Some(_), Some(_)) => {
            return Err(ScimError::InvalidPath {
                path: attr.to_string(),
                reason: "too many sub-attribute levels",
            })
        }
        (Some(s), None) | (None, Some(s)) => Some(s.clone()),
        (None, None) => None,
    };
    let sub = match (sub_name, def) {
        (None, _) => None,
        (Some(s), None) => Some((s, None)),
        (Some(s), Some(d)) => match d.sub_attribute(&s) {
            Some(sd) => Some((sd.name.to_string(), Some(sd))),
            None if pathless => return Ok(None),
            None => {
                return Err(ScimError::InvalidPath {
                    path: attr.to_string(),
                    reason: "unknown sub-attribute",
                })
            }
        },
    };
    if path.filter.is_some() && def.is_some_and(|d| !d.multi_valued) {
        return Err(ScimError::InvalidPath {
            path: attr.to_string(),
            reason: "value filters apply only to multi-valued attributes",
        });
    }
    let name = def.map_or(attr.name.clone(), |d| d.name.to_string());
    let mut display = attr.canonical(schema);
    if let Some((s, _)) = &sub {
        if path.sub_attribute.is_some() {
            display = format!("{display}.{s}");
        }
    }
    Ok(Some(Target {
        container,
        def,
        name,
        filter: path.filter.clone(),
        sub,
        display,
    }))
}

/// The object holding the target attribute, created on demand for add/replace.
fn container_mut<'a>(
    doc: &'a mut Map<String, Value>,
    container: &Container,
) -> Result<&'a mut Map<String, Value>> {
    let key = match container {
        Container::Core => return Ok(doc),
        Container::Extension(ext) => ext.id.to_string(),
        Container::Unknown(urn) => get_ci(doc, urn).map_or_else(|| urn.clone(), |(k, _)| k.clone()),
    };
    let slot = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| syntax("extension data must be an object"))
}

fn apply_target(
    doc: &mut Map<String, Value>,
    op: PatchOpKind,
    target: &Target,
    value: Option<&Value>,
    pathless: bool,
) -> Result<()> {
    check_mutability(doc, op, target, value, pathless)?;
    if pathless
        && target
            .def
            .is_some_and(|d| d.mutability == Mutability::ReadOnly)
    {
        // Equal to the current value (checked above): nothing to do.
        return Ok(());
    }
    let container = container_mut(doc, &target.container)?;
    let Some(def) = target.def else {
        return apply_raw(container, op, target, value);
    };
    if target.filter.is_some() {
        return apply_filtered(container, op, def, target, value);
    }
    match (&target.sub, op) {
        (None, PatchOpKind::Remove) => remove_whole(container, def, target, value),
        (None, PatchOpKind::Add) if def.multi_valued => {
            let Some(Value::Array(new)) =
                normalize_value(def, value.unwrap_or(&Value::Null), &target.display)?
            else {
                return Ok(());
            };
            let existing = container
                .entry(def.name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !existing.is_array() {
                *existing = Value::Array(Vec::new());
            }
            if let Value::Array(items) = existing {
                merge_values(def, items, new);
            }
            Ok(())
        }
        (None, PatchOpKind::Add | PatchOpKind::Replace) => {
            let normalized = if def.multi_valued {
                normalize_value(def, value.unwrap_or(&Value::Null), &target.display)?
            } else {
                normalize_single(def, value.unwrap_or(&Value::Null), &target.display)?
            };
            match normalized {
                None => {
                    // Replacing with null/empty means "unassign" (RFC 7644 §3.5.2.3 + §3.5.2.2).
                    if op == PatchOpKind::Replace {
                        container.remove(def.name);
                    }
                }
                Some(Value::Object(new)) if !def.multi_valued => {
                    // Complex single-valued: listed sub-attributes replace, others stay.
                    let slot = container
                        .entry(def.name.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !slot.is_object() {
                        *slot = Value::Object(Map::new());
                    }
                    if let Some(slot) = slot.as_object_mut() {
                        slot.extend(new);
                    }
                }
                Some(v) => {
                    container.insert(def.name.to_string(), v);
                }
            }
            Ok(())
        }
        (Some((sub_name, sub_def)), op) => {
            if def.multi_valued && op != PatchOpKind::Remove {
                return Err(ScimError::InvalidPath {
                    path: target.display.clone(),
                    reason: "a sub-attribute of a multi-valued attribute needs a value filter",
                });
            }
            let sub_def =
                sub_def.ok_or_else(|| invalid(&target.display, "unknown sub-attribute"))?;
            if op == PatchOpKind::Remove && sub_def.required {
                return Err(required_sub(target));
            }
            match container.get_mut(def.name) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Some(o) = item.as_object_mut() {
                            o.remove(sub_name.as_str());
                        }
                    }
                    items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
                    if items.is_empty() {
                        container.remove(def.name);
                    }
                    return Ok(());
                }
                Some(Value::Object(o)) if op == PatchOpKind::Remove => {
                    o.remove(sub_name.as_str());
                    if o.is_empty() {
                        container.remove(def.name);
                    }
                    return Ok(());
                }
                _ if op == PatchOpKind::Remove => return Ok(()),
                _ => {}
            }
            let v = normalize_simple(sub_def, value.unwrap_or(&Value::Null), &target.display)?;
            let slot = container
                .entry(def.name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Some(o) = slot.as_object_mut() {
                match v {
                    Some(v) => {
                        o.insert(sub_name.clone(), v);
                    }
                    None => {
                        o.remove(sub_name.as_str());
                    }
                }
                if o.is_empty() {
                    container.remove(def.name);
                }
            }
            Ok(())
        }
    }
}

fn check_mutability(
    doc: &Map<String, Value>,
    op: PatchOpKind,
    target: &Target,
    value: Option<&Value>,
    pathless: bool,
) -> Result<()> {
    let Some(def) = target.def else { return Ok(()) };
    let err = |reason| ScimError::Mutability {
        attribute: target.display.clone(),
        reason,
    };
    let current = match &target.container {
        Container::Core => doc.get(def.name),
        Container::Extension(ext) => doc.get(ext.id).and_then(|e| e.get(def.name)),
        Container::Unknown(_) => None,
    };
    match def.mutability {
        Mutability::ReadOnly => {
            // Okta repeats the unchanged `id` in path-less group replaces; that is not a change.
            if pathless && target.sub.is_none() && current.is_some() && current == value {
                return Ok(());
            }
            return Err(err("readOnly"));
        }
        Mutability::Immutable => {
            let allowed = match op {
                PatchOpKind::Add => current.is_none(),
                PatchOpKind::Replace => current.is_none() || current == value,
                PatchOpKind::Remove => false,
            };
            if !allowed {
                return Err(err("immutable"));
            }
        }
        Mutability::ReadWrite | Mutability::WriteOnly => {}
    }
    if let Some((_, Some(sub))) = &target.sub {
        match sub.mutability {
            Mutability::ReadOnly => return Err(err("readOnly")),
            // Sub-attributes like `members.value` identify the value; they can be set when a
            // value is created but not rewritten in place.
            Mutability::Immutable if op != PatchOpKind::Remove && target.filter.is_some() => {
                return Err(err("immutable"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Appends values, merging a new value into an existing one with the same `value`.
fn merge_values(def: &AttributeDef, items: &mut Vec<Value>, new: Vec<Value>) {
    if new.iter().any(is_primary) {
        clear_primary(items);
    }
    for item in new {
        let key = item.get("value").cloned();
        let existing = key.as_ref().and_then(|k| {
            items
                .iter_mut()
                .find(|e| e.get("value").is_some_and(|ev| same_value(def, ev, k)))
        });
        match (existing, item) {
            (Some(Value::Object(e)), Value::Object(n)) => e.extend(n),
            (Some(_), _) => {}
            (None, item) => {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
        }
    }
}

fn same_value(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    let case_exact = def.sub_attribute("value").is_some_and(|d| d.case_exact)
        // Member and group ids are server ids: compare exactly.
        || def.sub_attribute("value").is_some_and(|d| d.mutability != Mutability::ReadWrite);
    match (a, b) {
        (Value::String(a), Value::String(b)) if !case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

fn clear_primary(items: &mut [Value]) {
    for item in items.iter_mut() {
        if let Some(o) = item.as_object_mut() {
            if o.get("primary") == Some(&Value::Bool(true)) {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// `remove` aimed at a required sub-attribute (`members.value`): the values would be left
/// naming nothing.
fn required_sub(target: &Target) -> ScimError {
    invalid(
        &target.display,
        "a required sub-attribute cannot be removed; remove the values instead",
    )
}

fn remove_whole(
    container: &mut Map<String, Value>,
    def: &AttributeDef,
    target: &Target,
    value: Option<&Value>,
) -> Result<()> {
    let listed: Vec<&Value> = match value {
        Some(Value::Array(items)) if def.multi_valued => items.iter().collect(),
        Some(v @ Value::Object(_)) if def.multi_valued => vec![v],
        Some(Value::Null) | None => {
            container.remove(def.name);
            return Ok(());
        }
        Some(_) if !def.multi_valued => {
            container.remove(def.name);
            return Ok(());
        }
        Some(_) => {
            return Err(invalid(
                &target.display,
                "remove value must be a list of values",
            ))
        }
    };
    // Entra: `{"op":"remove","path":"members","value":[{"value":"id"}]}` removes only those.
    let mut keys = Vec::with_capacity(listed.len());
    for item in listed {
        let key = match item {
            Value::Object(o) => get_ci(o, "value").map(|(_, v)| v.clone()),
            Value::String(_) => Some(item.clone()),
            _ => None,
        }
        .ok_or_else(|| invalid(&target.display, "each listed value needs a value"))?;
        keys.push(key);
    }
    if let Some(Value::Array(items)) = container.get_mut(def.name) {
        items.retain(|e| {
            !e.get("value")
                .is_some_and(|ev| keys.iter().any(|k| same_value(def, ev, k)))
        });
        if items.is_empty() {
            container.remove(def.name);
        }
    }
    Ok(())
}

fn apply_filtered(
    container: &mut Map<String, Value>,
    op: PatchOpKind,
    def: &'static AttributeDef,
    target: &Target,
    value: Option<&Value>,
) -> Result<()> {
    let Some(filter) = &target.filter else {
        return Ok(());
    };
    // Taken out rather than cloned (large groups); it is always put back or dropped below, and on
    // error the whole working copy is discarded by `PatchRequest::apply`.
    let items: Vec<Value> = match container.remove(def.name) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| filter.matches_element(item, Some(def)))
        .map(|(i, _)| i)
        .collect();
    let mut items = items;
    match op {
        PatchOpKind::Remove => match &target.sub {
            None => {
                let mut i = 0;
                items.retain(|_| {
                    let keep = !matched.contains(&i);
                    i += 1;
                    keep
                });
            }
            Some((sub, sub_def)) => {
                if sub_def.is_some_and(|d| d.required) {
                    return Err(required_sub(target));
                }
                for &i in &matched {
                    if let Some(o) = items.get_mut(i).and_then(Value::as_object_mut) {
                        o.remove(sub.as_str());
                    }
                }
                items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
            }
        },
        PatchOpKind::Add | PatchOpKind::Replace => {
            let raw = value.unwrap_or(&Value::Null);
            // What to merge into each matched value.
            let patch: Map<String, Value> = match &target.sub {
                Some((sub, sub_def)) => {
                    let sub_def =
                        sub_def.ok_or_else(|| invalid(&target.display, "unknown sub-attribute"))?;
                    let mut m = Map::new();
                    match normalize_simple(sub_def, raw, &target.display)? {
                        Some(v) => {
                            m.insert(sub.clone(), v);
                        }
                        None => return Err(invalid(&target.display, "a value is required")),
                    }
                    m
                }
                None => match normalize_single(def, raw, &target.display)? {
                    Some(Value::Object(m)) => m,
                    _ => return Err(invalid(&target.display, "expected a complex value")),
                },
            };
            if is_primary(&Value::Object(patch.clone())) {
                clear_primary(&mut items);
            }
            if matched.is_empty() {
                let mut created =
                    template_from_filter(def, filter).ok_or_else(|| ScimError::NoTarget {
                        path: target.display.clone(),
                    })?;
                created.extend(patch);
                items.push(Value::Object(created));
            } else {
                for &i in &matched {
                    if let Some(o) = items.get_mut(i).and_then(Value::as_object_mut) {
                        check_immutable_subs(def, o, &patch, &target.display)?;
                        o.extend(patch.clone());
                    }
                }
            }
        }
    }
    if items.is_empty() {
        container.remove(def.name);
    } else {
        container.insert(def.name.to_string(), Value::Array(items));
    }
    Ok(())
}

/// Rewriting an `immutable` sub-attribute (such as `members.value`, the member's identity) of an
/// existing value is a mutability error; repeating the same value is not.
fn check_immutable_subs(
    def: &AttributeDef,
    existing: &Map<String, Value>,
    patch: &Map<String, Value>,
    display: &str,
) -> Result<()> {
    for (k, v) in patch {
        let immutable = def
            .sub_attribute(k)
            .is_some_and(|d| d.mutability == Mutability::Immutable);
        if immutable && existing.get(k).is_some_and(|old| old != v) {
            return Err(ScimError::Mutability {
                attribute: format!("{display}.{k}"),
                reason: "immutable",
            });
        }
    }
    Ok(())
}

/// For a filter made only of `sub eq literal` joined by `and`, the value it describes.
fn template_from_filter(def: &AttributeDef, filter: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    fn walk(def: &AttributeDef, f: &Filter, out: &mut Map<String, Value>) -> Option<()> {
        match f {
            Filter::And(a, b) => {
                walk(def, a, out)?;
                walk(def, b, out)
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } => {
                let sub = def.sub_attribute(&path.name)?;
                if sub.mutability == Mutability::ReadOnly {
                    return None;
                }
                let raw = match value {
                    CompValue::Str(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Num(n) => Value::Number(n.clone()),
                    CompValue::Null => return None,
                };
                let v = normalize_simple(sub, &raw, sub.name).ok()??;
                out.insert(sub.name.to_string(), v);
                Some(())
            }
            _ => None,
        }
    }
    walk(def, filter, &mut out)?;
    Some(out)
}

/// Attributes of unknown extensions: plain JSON semantics.
fn apply_raw(
    container: &mut Map<String, Value>,
    op: PatchOpKind,
    target: &Target,
    value: Option<&Value>,
) -> Result<()> {
    if target.filter.is_some() {
        return Err(ScimError::InvalidPath {
            path: target.display.clone(),
            reason: "value filters need a known attribute",
        });
    }
    let key =
        get_ci(container, &target.name).map_or_else(|| target.name.clone(), |(k, _)| k.clone());
    match (&target.sub, op) {
        (None, PatchOpKind::Remove) => {
            container.remove(&key);
        }
        (None, PatchOpKind::Add) => {
            let v = value.cloned().unwrap_or(Value::Null);
            match (container.get_mut(&key), v) {
                (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
                (Some(Value::Object(a)), Value::Object(b)) => a.extend(b),
                (_, v) => {
                    container.insert(key, v);
                }
            }
        }
        (None, PatchOpKind::Replace) => {
            container.insert(key, value.cloned().unwrap_or(Value::Null));
        }
        (Some((sub, _)), op) => {
            let slot = container
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Some(o) = slot.as_object_mut() {
                if op == PatchOpKind::Remove {
                    o.remove(sub.as_str());
                } else {
                    o.insert(sub.clone(), value.cloned().unwrap_or(Value::Null));
                }
            }
        }
    }
    Ok(())
}

fn check_primaries(schema: &ResourceSchema, doc: &Map<String, Value>) -> Result<()> {
    for def in schema
        .core
        .attributes
        .iter()
        .filter(|d| d.multi_valued && d.kind == AttributeType::Complex)
    {
        if let Some(Value::Array(items)) = doc.get(def.name) {
            if items.iter().filter(|v| is_primary(v)).count() > 1 {
                return Err(invalid(def.name, "more than one value is marked primary"));
            }
        }
    }
    Ok(())
}

fn syntax(reason: &str) -> ScimError {
    ScimError::InvalidSyntax {
        reason: reason.to_string(),
    }
}
