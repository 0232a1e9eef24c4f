//! Mapping verified assertion attributes to an [`ExternalIdentity`], with per-vendor presets.
//!
//! A connection stores an [`AttributeMapping`] (as JSON); administrators start from the preset of
//! their IdP vendor ([`IdpVendor::preset`]) and adjust it. [`map_identity`] is applied to the
//! attributes of an assertion that has already been verified.
//!
//! ```
//! use gatehouse_types::AuthnContext;
//! use saml_core::attribute_mapping::{map_identity, IdpVendor};
//!
//! let mapping = "okta".parse::<IdpVendor>().unwrap().preset();
//! let attrs = vec![("email".to_string(), vec![" Alice@Example.COM ".to_string()])];
//! let id = map_identity(&attrs, "00u1abcd", AuthnContext::default(), &mapping).unwrap();
//! assert_eq!(id.subject, "00u1abcd");
//! assert_eq!(id.email.as_deref(), Some("alice@example.com"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use gatehouse_types::{AuthnContext, ExternalIdentity};
use serde::{Deserialize, Serialize};

use crate::SamlError;

/// Where the stable subject identifier comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectSource {
    /// The assertion's `<NameID>`.
    NameId,
    /// The (single) value of the named attribute.
    Attribute(String),
}

/// Which assertion attributes feed which [`ExternalIdentity`] fields.
///
/// Attribute names match exactly first, then ASCII case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMapping {
    /// The subject source.
    pub subject: SubjectSource,
    /// Attribute holding the e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Attribute holding the given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Attribute holding the family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Attributes whose values are group names (all are collected, in this order).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Identity provider products with a documented default attribute set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdpVendor {
    /// Okta (attribute statements as in Okta's SAML app setup).
    Okta,
    /// Microsoft Entra ID (formerly Azure AD): default claim URIs.
    EntraId,
    /// Google Workspace (custom SAML app; attribute names configured by the admin).
    GoogleWorkspace,
    /// OneLogin (SAML Custom Connector parameters).
    OneLogin,
    /// JumpCloud (SAML connector user attributes and group attribute).
    JumpCloud,
    /// Active Directory Federation Services: claim URIs.
    Adfs,
    /// PingFederate / PingOne.
    Ping,
    /// Auth0 SAML2 add-on default mappings.
    Auth0,
    /// Keycloak built-in SAML protocol mappers (X.500 attributes, group list).
    Keycloak,
    /// Anything else: plain names.
    Generic,
}

/// Every vendor, for UIs and data-driven tests.
pub const ALL_VENDORS: [IdpVendor; 10] = [
    IdpVendor::Okta,
    IdpVendor::EntraId,
    IdpVendor::GoogleWorkspace,
    IdpVendor::OneLogin,
    IdpVendor::JumpCloud,
    IdpVendor::Adfs,
    IdpVendor::Ping,
    IdpVendor::Auth0,
    IdpVendor::Keycloak,
    IdpVendor::Generic,
];

const CLAIM_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
const CLAIM_GIVEN_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname";
const CLAIM_SURNAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname";
const CLAIM_ENTRA_OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const CLAIM_ENTRA_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
/// The group claim of ADFS ("Token-Groups" rules) and of Auth0's SAML2 add-on.
const CLAIM_GROUP: &str = "http://schemas.xmlsoap.org/claims/Group";
/// Entra ID lists the authentication methods used in this attribute (values are method URIs).
pub const CLAIM_ENTRA_AUTHN_METHODS: &str =
    "http://schemas.microsoft.com/claims/authnmethodsreferences";
const OID_MAIL: &str = "urn:oid:1.2.840.113549.1.9.1";
const OID_GIVEN_NAME: &str = "urn:oid:2.5.4.42";
const OID_SURNAME: &str = "urn:oid:2.5.4.4";

fn mapping(
    subject: SubjectSource,
    email: &str,
    first_name: &str,
    last_name: &str,
    groups: &[&str],
) -> AttributeMapping {
    AttributeMapping {
        subject,
        email: Some(email.to_owned()),
        first_name: Some(first_name.to_owned()),
        last_name: Some(last_name.to_owned()),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

impl IdpVendor {
    /// The kebab-case name used in configuration and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Okta => "okta",
            Self::EntraId => "entra-id",
            Self::GoogleWorkspace => "google-workspace",
            Self::OneLogin => "onelogin",
            Self::JumpCloud => "jumpcloud",
            Self::Adfs => "adfs",
            Self::Ping => "ping",
            Self::Auth0 => "auth0",
            Self::Keycloak => "keycloak",
            Self::Generic => "generic",
        }
    }

    /// The vendor's default attribute names.
    ///
    /// Where the vendor sends a stable immutable identifier by default (Entra's object id) it is
    /// the subject, because NameIDs such as the UPN change when a user is renamed. Vendors whose
    /// attribute names are chosen by the administrator use the names our setup guide tells them
    /// to configure (`email`, `firstName`, `lastName`, `groups`).
    pub fn preset(&self) -> AttributeMapping {
        use SubjectSource::{Attribute, NameId};
        match self {
            Self::Okta | Self::GoogleWorkspace | Self::Generic => {
                mapping(NameId, "email", "firstName", "lastName", &["groups"])
            }
            Self::EntraId => mapping(
                Attribute(CLAIM_ENTRA_OBJECT_ID.to_owned()),
                CLAIM_EMAIL,
                CLAIM_GIVEN_NAME,
                CLAIM_SURNAME,
                &[CLAIM_ENTRA_GROUPS],
            ),
            Self::OneLogin => mapping(
                NameId,
                "User.email",
                "User.FirstName",
                "User.LastName",
                &["memberOf"],
            ),
            Self::JumpCloud => mapping(NameId, "email", "firstname", "lastname", &["memberOf"]),
            Self::Adfs => mapping(
                NameId,
                CLAIM_EMAIL,
                CLAIM_GIVEN_NAME,
                CLAIM_SURNAME,
                &[CLAIM_GROUP],
            ),
            Self::Ping => mapping(NameId, "email", "firstName", "lastName", &["memberOf"]),
            Self::Auth0 => mapping(
                NameId,
                CLAIM_EMAIL,
                CLAIM_GIVEN_NAME,
                CLAIM_SURNAME,
                &[CLAIM_GROUP],
            ),
            Self::Keycloak => mapping(NameId, OID_MAIL, OID_GIVEN_NAME, OID_SURNAME, &["member"]),
        }
    }
}

impl fmt::Display for IdpVendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IdpVendor {
    type Err = SamlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_VENDORS
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| SamlError::Config {
                detail: format!("unknown IdP vendor (expected one of: {})", vendor_names()),
            })
    }
}

fn vendor_names() -> String {
    ALL_VENDORS
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `amr` values (RFC 8176 where one fits) implied by a SAML AuthnContextClassRef, or by an
/// authentication-method URI that Entra ID / ADFS send. Unknown classes imply nothing.
pub fn amr_for_context_class(class_ref: &str) -> Vec<String> {
    const AC: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:";
    const MS_METHOD: &str =
        "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/";
    let amr: &[&str] = if let Some(class) = class_ref.strip_prefix(AC) {
        match class {
            "Password" | "PasswordProtectedTransport" | "SecureRemotePassword" => &["pwd"],
            "X509" | "XMLDSig" | "TLSClient" => &["x509"],
            "Smartcard" | "SmartcardPKI" => &["sc"],
            "SoftwarePKI" => &["swk"],
            "TimeSyncToken" => &["otp"],
            "MobileTwoFactorContract" | "MobileTwoFactorUnregistered" => &["mfa"],
            "Kerberos" => &["kerberos"],
            _ => &[],
        }
    } else if let Some(method) = class_ref.strip_prefix(MS_METHOD) {
        match method {
            "password" => &["pwd"],
            "x509" | "tlsclient" => &["x509"],
            "windows" | "kerberos" => &["wia"],
            _ => &[],
        }
    } else {
        match class_ref {
            "http://schemas.microsoft.com/claims/multipleauthn"
            | "https://refeds.org/profile/mfa"
            | "http://schemas.microsoft.com/ws/2012/12/authmethod/phoneappnotification"
            | "http://schemas.microsoft.com/ws/2012/12/authmethod/phoneappotp" => &["mfa"],
            "urn:federation:authentication:windows" => &["wia"],
            _ => &[],
        }
    };
    amr.iter().map(|s| (*s).to_owned()).collect()
}

/// Values of attribute `name`: exact name match first; only if no attribute has exactly that
/// name, ASCII case-insensitive matches. Values of repeated attributes are concatenated.
fn lookup<'a>(attrs: &'a [(String, Vec<String>)], name: &str) -> Vec<&'a str> {
    let collect = |pred: &dyn Fn(&str) -> bool| -> Vec<&'a str> {
        attrs
            .iter()
            .filter(|(n, _)| pred(n))
            .flat_map(|(_, values)| values.iter().map(String::as_str))
            .collect()
    };
    let exact = collect(&|n| n == name);
    if attrs.iter().any(|(n, _)| n == name) {
        return exact;
    }
    collect(&|n| n.eq_ignore_ascii_case(name))
}

fn first_value(attrs: &[(String, Vec<String>)], name: Option<&str>) -> Option<String> {
    let name = name?;
    lookup(attrs, name)
        .into_iter()
        .map(str::trim)
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Build the [`ExternalIdentity`] of a verified assertion.
///
/// - subject: the NameID or the mapped attribute; missing, empty or (for an attribute)
///   multi-valued with different values is an error, never a guess;
/// - email: trimmed and lowercased; first/last name: trimmed; empty values count as absent;
/// - groups: values of every group attribute, trimmed, de-duplicated keeping first occurrence;
/// - attributes: every attribute as received (repeated names merged);
/// - `authn.amr`: extended with [`amr_for_context_class`] of `authn.acr` and of Entra ID's
///   authentication-method attribute, without duplicates.
pub fn map_identity(
    attrs: &[(String, Vec<String>)],
    name_id: &str,
    authn: AuthnContext,
    m: &AttributeMapping,
) -> Result<ExternalIdentity, SamlError> {
    let subject = match &m.subject {
        SubjectSource::NameId => {
            let s = name_id.trim();
            if s.is_empty() {
                return Err(SamlError::Structure {
                    detail: "assertion has no NameID to use as subject".into(),
                });
            }
            s.to_owned()
        }
        SubjectSource::Attribute(name) => {
            let mut values: Vec<&str> = lookup(attrs, name)
                .into_iter()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            values.dedup();
            match values.as_slice() {
                [one] => (*one).to_owned(),
                [] => {
                    return Err(SamlError::Structure {
                        detail: format!("subject attribute {name} missing from assertion"),
                    })
                }
                _ => {
                    return Err(SamlError::Structure {
                        detail: format!("subject attribute {name} has several values"),
                    })
                }
            }
        }
    };
    let email = first_value(attrs, m.email.as_deref()).map(|e| e.to_lowercase());
    let first_name = first_value(attrs, m.first_name.as_deref());
    let last_name = first_value(attrs, m.last_name.as_deref());

    let mut groups: Vec<String> = Vec::new();
    for group_attr in &m.groups {
        for value in lookup(attrs, group_attr) {
            let value = value.trim();
            if !value.is_empty() && !groups.iter().any(|g| g == value) {
                groups.push(value.to_owned());
            }
        }
    }

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, values) in attrs {
        attributes
            .entry(name.clone())
            .or_default()
            .extend(values.iter().cloned());
    }

    let mut authn = authn;
    let derived = authn
        .acr
        .iter()
        .map(String::as_str)
        .chain(lookup(attrs, CLAIM_ENTRA_AUTHN_METHODS))
        .flat_map(amr_for_context_class)
        .collect::<Vec<_>>();
    for value in derived {
        if !authn.amr.contains(&value) {
            authn.amr.push(value);
        }
    }

    Ok(ExternalIdentity {
        subject,
        email,
        first_name,
        last_name,
        groups,
        attributes,
        authn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(n, vs)| {
                (
                    (*n).to_owned(),
                    vs.iter().map(|v| (*v).to_owned()).collect(),
                )
            })
            .collect()
    }

    /// Per vendor: (attribute names it sends for email, first, last, groups; subject attribute).
    /// Written out independently of `preset()` so a changed preset fails here.
    #[allow(clippy::type_complexity)]
    const VENDOR_NAMES: &[(&str, &str, &str, &str, &str, Option<&str>)] = &[
        ("okta", "email", "firstName", "lastName", "groups", None),
        (
            "entra-id",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            Some("http://schemas.microsoft.com/identity/claims/objectidentifier"),
        ),
        (
            "google-workspace",
            "email",
            "firstName",
            "lastName",
            "groups",
            None,
        ),
        (
            "onelogin",
            "User.email",
            "User.FirstName",
            "User.LastName",
            "memberOf",
            None,
        ),
        (
            "jumpcloud",
            "email",
            "firstname",
            "lastname",
            "memberOf",
            None,
        ),
        (
            "adfs",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "http://schemas.xmlsoap.org/claims/Group",
            None,
        ),
        ("ping", "email", "firstName", "lastName", "memberOf", None),
        (
            "auth0",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "http://schemas.xmlsoap.org/claims/Group",
            None,
        ),
        (
            "keycloak",
            "urn:oid:1.2.840.113549.1.9.1",
            "urn:oid:2.5.4.42",
            "urn:oid:2.5.4.4",
            "member",
            None,
        ),
        ("generic", "email", "firstName", "lastName", "groups", None),
    ];

    #[test]
    fn every_vendor_preset_maps_an_assertion_in_its_dialect() {
        assert_eq!(VENDOR_NAMES.len(), ALL_VENDORS.len());
        for (name, email, first, last, groups, subject_attr) in VENDOR_NAMES {
            let vendor: IdpVendor = name.parse().unwrap();
            assert_eq!(vendor.to_string(), *name);
            let mut list = vec![
                (*email, &[" Alice.Smith@Example.COM "][..]),
                (*first, &["Alice"][..]),
                (*last, &["Smith"][..]),
                (*groups, &["eng", "admins", "eng"][..]),
                ("unrelated", &["kept"][..]),
            ];
            if let Some(s) = subject_attr {
                list.push((*s, &["6f1c-immutable-id"][..]));
            }
            let a = attrs(&list);
            let id = map_identity(
                &a,
                "alice@example.com",
                AuthnContext::default(),
                &vendor.preset(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let expected_subject = if subject_attr.is_some() {
                "6f1c-immutable-id"
            } else {
                "alice@example.com"
            };
            assert_eq!(id.subject, expected_subject, "{name}");
            assert_eq!(
                id.email.as_deref(),
                Some("alice.smith@example.com"),
                "{name}"
            );
            assert_eq!(id.first_name.as_deref(), Some("Alice"), "{name}");
            assert_eq!(id.last_name.as_deref(), Some("Smith"), "{name}");
            assert_eq!(id.groups, ["eng", "admins"], "{name}");
            assert_eq!(id.attributes.len(), list.len(), "{name}");
            assert_eq!(id.attributes["unrelated"], ["kept"], "{name}");

            // The stored form round-trips.
            let json = serde_json::to_string(&vendor.preset()).unwrap();
            let back: AttributeMapping = serde_json::from_str(&json).unwrap();
            assert_eq!(back, vendor.preset(), "{name}");
        }
    }

    #[test]
    fn vendor_names_are_kebab_case_and_unknown_names_fail() {
        let names: Vec<String> = ALL_VENDORS.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "okta",
                "entra-id",
                "google-workspace",
                "onelogin",
                "jumpcloud",
                "adfs",
                "ping",
                "auth0",
                "keycloak",
                "generic"
            ]
        );
        let err = "azure".parse::<IdpVendor>().unwrap_err();
        assert_eq!(err.reason_code(), "config");
        assert!("Okta".parse::<IdpVendor>().is_err());
    }

    #[test]
    fn stored_json_shape_is_stable() {
        let json = serde_json::to_string(&IdpVendor::EntraId.preset()).unwrap();
        assert_eq!(
            json,
            r#"{"subject":{"attribute":"http://schemas.microsoft.com/identity/claims/objectidentifier"},"email":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress","first_name":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname","last_name":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname","groups":["http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"]}"#
        );
        let minimal: AttributeMapping = serde_json::from_str(r#"{"subject":"name_id"}"#).unwrap();
        assert_eq!(minimal.subject, SubjectSource::NameId);
        assert!(minimal.groups.is_empty());
        assert!(
            serde_json::from_str::<AttributeMapping>(r#"{"subject":"name_id","emial":"x"}"#)
                .is_err()
        );
    }

    #[test]
    fn exact_name_wins_over_case_insensitive_match() {
        let m = IdpVendor::Generic.preset();
        let a = attrs(&[
            ("EMAIL", &["upper@example.com"]),
            ("email", &["exact@example.com"]),
        ]);
        let id = map_identity(&a, "s", AuthnContext::default(), &m).unwrap();
        assert_eq!(id.email.as_deref(), Some("exact@example.com"));
        let a = attrs(&[("Email", &["Case@Example.com"]), ("FIRSTNAME", &["Bo"])]);
        let id = map_identity(&a, "s", AuthnContext::default(), &m).unwrap();
        assert_eq!(id.email.as_deref(), Some("case@example.com"));
        assert_eq!(id.first_name.as_deref(), Some("Bo"));
    }

    #[test]
    fn subject_must_be_present_and_unambiguous() {
        let by_attr = AttributeMapping {
            subject: SubjectSource::Attribute("uid".into()),
            email: None,
            first_name: None,
            last_name: None,
            groups: vec![],
        };
        let code = |a: &[(String, Vec<String>)], name_id: &str, m: &AttributeMapping| {
            map_identity(a, name_id, AuthnContext::default(), m)
                .unwrap_err()
                .reason_code()
        };
        assert_eq!(code(&attrs(&[]), "nameid", &by_attr), "bad_structure");
        assert_eq!(
            code(&attrs(&[("uid", &[" "])]), "nameid", &by_attr),
            "bad_structure"
        );
        assert_eq!(
            code(&attrs(&[("uid", &["a", "b"])]), "nameid", &by_attr),
            "bad_structure"
        );
        let id = map_identity(
            &attrs(&[("uid", &["a", "a"])]),
            "",
            AuthnContext::default(),
            &by_attr,
        )
        .unwrap();
        assert_eq!(id.subject, "a");
        assert_eq!(id.email, None);
        assert_eq!(
            code(&attrs(&[]), "  ", &IdpVendor::Okta.preset()),
            "bad_structure"
        );
    }

    #[test]
    fn groups_from_several_attributes_are_merged_in_order() {
        let m = AttributeMapping {
            subject: SubjectSource::NameId,
            email: Some("email".into()),
            first_name: None,
            last_name: None,
            groups: vec!["groups".into(), "roles".into()],
        };
        let a = attrs(&[
            ("groups", &["b", " a ", ""]),
            ("roles", &["a", "c"]),
            ("groups", &["d", "b"]),
            ("email", &["  "]),
        ]);
        let id = map_identity(&a, "n", AuthnContext::default(), &m).unwrap();
        assert_eq!(id.groups, ["b", "a", "d", "c"]);
        assert_eq!(id.email, None);
        assert_eq!(id.attributes["groups"], ["b", " a ", "", "d", "b"]);
    }

    #[test]
    fn amr_for_context_class_table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                &["pwd"],
            ),
            ("urn:oasis:names:tc:SAML:2.0:ac:classes:Password", &["pwd"]),
            ("urn:oasis:names:tc:SAML:2.0:ac:classes:X509", &["x509"]),
            ("urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard", &["sc"]),
            (
                "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
                &["otp"],
            ),
            (
                "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
                &["mfa"],
            ),
            (
                "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos",
                &["kerberos"],
            ),
            ("urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified", &[]),
            (
                "http://schemas.microsoft.com/claims/multipleauthn",
                &["mfa"],
            ),
            ("https://refeds.org/profile/mfa", &["mfa"]),
            (
                "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
                &["pwd"],
            ),
            (
                "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows",
                &["wia"],
            ),
            ("urn:federation:authentication:windows", &["wia"]),
            (
                "urn:oasis:names:tc:SAML:2.0:ac:classes:passwordprotectedtransport",
                &[],
            ),
            ("", &[]),
        ];
        for (class, amr) in cases {
            assert_eq!(amr_for_context_class(class), *amr, "{class}");
        }
    }

    #[test]
    fn amr_is_derived_from_context_class_and_entra_methods() {
        let authn = AuthnContext {
            acr: Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into()),
            amr: vec!["pwd".into()],
            auth_time: None,
            session_index: Some("_s1".into()),
        };
        let a = attrs(&[(
            CLAIM_ENTRA_AUTHN_METHODS,
            &[
                "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
                "http://schemas.microsoft.com/claims/multipleauthn",
            ],
        )]);
        let id = map_identity(&a, "n", authn, &IdpVendor::Okta.preset()).unwrap();
        assert_eq!(id.authn.amr, ["pwd", "mfa"]);
        assert_eq!(id.authn.session_index.as_deref(), Some("_s1"));
    }
}
