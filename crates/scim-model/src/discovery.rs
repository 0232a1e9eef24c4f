//! Discovery documents (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.
//! Every function takes the SCIM base URL; nothing here invents a default URL.

use serde_json::{json, Map, Value};

use crate::bulk::BulkLimits;
use crate::list::ListResponse;
use crate::schema::{
    AttributeDef, AttributeType, ResourceSchema, SchemaDef, RESOURCE_TYPES, SCHEMAS,
};

/// What the server advertises in `/ServiceProviderConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderLimits {
    /// Bulk limits.
    pub bulk: BulkLimits,
    /// The largest page served for a filtered query.
    pub filter_max_results: u64,
    /// Human documentation for the SCIM API, if any.
    pub documentation_uri: Option<String>,
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// The query of a discovery request (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`):
/// these documents are not filtered, and a `filter` parameter is refused with `403`
/// ([`ScimError::DiscoveryFilter`], RFC 7644 §4). Parameter names are matched
/// case-insensitively.
pub fn check_discovery_query<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), crate::ScimError> {
    if names.into_iter().any(|n| n.eq_ignore_ascii_case("filter")) {
        return Err(crate::ScimError::DiscoveryFilter);
    }
    Ok(())
}

/// The `/ServiceProviderConfig` document. Every capability listed is implemented by this crate:
/// PATCH, bulk, filter, sort and ETags; password change is not offered.
pub fn service_provider_config(base_url: &str, limits: &ServiceProviderLimits) -> Value {
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": limits.bulk.max_operations,
            "maxPayloadSize": limits.bulk.max_payload_size,
        },
        "filter": {"supported": true, "maxResults": limits.filter_max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token issued for this SCIM connection.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base(base_url)),
        },
    });
    if let (Some(uri), Some(obj)) = (&limits.documentation_uri, doc.as_object_mut()) {
        obj.insert("documentationUri".into(), uri.clone().into());
    }
    doc
}

/// One `ResourceType` document.
pub fn resource_type_document(base_url: &str, rt: &ResourceSchema) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.core.id,
        "schemaExtensions": rt.extensions.iter().map(|(s, required)| json!({
            "schema": s.id,
            "required": required,
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", base(base_url), rt.name),
        },
    })
}

/// The `/ResourceTypes` list.
pub fn resource_types(base_url: &str) -> Value {
    let resources: Vec<Value> = RESOURCE_TYPES
        .iter()
        .map(|rt| resource_type_document(base_url, rt))
        .collect();
    ListResponse {
        total_results: resources.len() as u64,
        start_index: 1,
        resources,
    }
    .to_json()
}

/// `/ResourceTypes/{name}`, if known (case-insensitive).
pub fn resource_type_by_name(base_url: &str, name: &str) -> Option<Value> {
    RESOURCE_TYPES
        .iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .map(|rt| resource_type_document(base_url, rt))
}

fn attribute_json(def: &AttributeDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), def.name.into());
    m.insert("type".into(), def.kind.as_str().into());
    m.insert("multiValued".into(), def.multi_valued.into());
    m.insert("description".into(), def.description.into());
    m.insert("required".into(), def.required.into());
    if !def.canonical_values.is_empty() {
        m.insert(
            "canonicalValues".into(),
            def.canonical_values.to_vec().into(),
        );
    }
    if def.kind != AttributeType::Complex {
        m.insert("caseExact".into(), def.case_exact.into());
    }
    m.insert("mutability".into(), def.mutability.as_str().into());
    m.insert("returned".into(), def.returned.as_str().into());
    if def.kind != AttributeType::Complex {
        m.insert("uniqueness".into(), def.uniqueness.as_str().into());
    }
    if def.kind == AttributeType::Reference {
        m.insert("referenceTypes".into(), def.reference_types.to_vec().into());
    }
    if def.kind == AttributeType::Complex {
        m.insert(
            "subAttributes".into(),
            def.sub_attributes
                .iter()
                .map(attribute_json)
                .collect::<Vec<_>>()
                .into(),
        );
    }
    Value::Object(m)
}

/// One `Schema` document.
pub fn schema_document(base_url: &str, schema: &SchemaDef) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": schema.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base(base_url), schema.id),
        },
    })
}

/// The `/Schemas` list.
pub fn schemas(base_url: &str) -> Value {
    let resources: Vec<Value> = SCHEMAS
        .iter()
        .map(|s| schema_document(base_url, s))
        .collect();
    ListResponse {
        total_results: resources.len() as u64,
        start_index: 1,
        resources,
    }
    .to_json()
}

/// `/Schemas/{id}`, if known (case-insensitive).
pub fn schema_by_id(base_url: &str, id: &str) -> Option<Value> {
    SCHEMAS
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .map(|s| schema_document(base_url, s))
}
