use expect_test::expect_file;
use scim_model::discovery::{
    resource_type_by_name, resource_types, schema_by_id, schemas, service_provider_config,
    ServiceProviderLimits,
};
use scim_model::BulkLimits;

use crate::pretty;

const BASE: &str = "https://gatehouse.example/scim/v2/";

#[test]
fn service_provider_config_document() {
    let limits = ServiceProviderLimits {
        bulk: BulkLimits {
            max_operations: 1000,
            max_payload_size: 1_048_576,
        },
        filter_max_results: 200,
        documentation_uri: None,
    };
    expect_file!["../../../../fixtures/scim/discovery/service_provider_config.json"]
        .assert_eq(&pretty(&service_provider_config(BASE, &limits)));
}

#[test]
fn resource_types_document() {
    expect_file!["../../../../fixtures/scim/discovery/resource_types.json"]
        .assert_eq(&pretty(&resource_types(BASE)));
    assert_eq!(
        resource_type_by_name(BASE, "group").unwrap()["endpoint"],
        "/Groups"
    );
    assert!(resource_type_by_name(BASE, "Widget").is_none());
}

#[test]
fn schemas_document() {
    expect_file!["../../../../fixtures/scim/discovery/schemas.json"]
        .assert_eq(&pretty(&schemas(BASE)));
    let enterprise = schema_by_id(
        BASE,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
    )
    .unwrap();
    assert_eq!(enterprise["name"], "EnterpriseUser");
}

/// RFC 7644 §4: the discovery endpoints refuse a filter (403) rather than ignore it.
#[test]
fn discovery_refuses_a_filter() {
    use scim_model::discovery::check_discovery_query;
    assert_eq!(check_discovery_query(["attributes", "count"]), Ok(()));
    for name in ["filter", "FILTER"] {
        let err = check_discovery_query([name]).unwrap_err();
        assert_eq!(err.status(), 403, "{name}");
        assert_eq!(err.scim_type(), None);
    }
}
