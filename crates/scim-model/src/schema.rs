//! Schema definitions (RFC 7643 §2, §7, §8.7): the attribute characteristics that drive
//! validation, filtering, PATCH and projection.

/// Schema URN of the core User resource.
pub const USER_SCHEMA_ID: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Schema URN of the enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA_ID: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Schema URN of the core Group resource.
pub const GROUP_SCHEMA_ID: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    /// A sequence of characters.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An RFC 3339 timestamp.
    DateTime,
    /// Base64 encoded bytes.
    Binary,
    /// A URI pointing at a resource.
    Reference,
    /// A structure of sub-attributes.
    Complex,
}

impl AttributeType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Boolean => "boolean",
            AttributeType::Decimal => "decimal",
            AttributeType::Integer => "integer",
            AttributeType::DateTime => "dateTime",
            AttributeType::Binary => "binary",
            AttributeType::Reference => "reference",
            AttributeType::Complex => "complex",
        }
    }
}

/// Whether and how a client may change an attribute (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Only the server sets it.
    ReadOnly,
    /// The client may set and change it.
    ReadWrite,
    /// The client may set it once.
    Immutable,
    /// The client may set it but it is never returned.
    WriteOnly,
}

impl Mutability {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// In every response, even when not requested.
    Always,
    /// Never.
    Never,
    /// Unless excluded.
    Default,
    /// Only when requested by `attributes`.
    Request,
}

impl Returned {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// The uniqueness scope of an attribute (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No constraint.
    None,
    /// Unique within this service provider (for Gatehouse: within the tenant).
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition. Built with `const` helpers so the whole schema set is static data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    /// Canonical (schema) spelling of the name.
    pub name: &'static str,
    /// Data type.
    pub kind: AttributeType,
    /// Whether the attribute holds a list.
    pub multi_valued: bool,
    /// Human description (rendered in `/Schemas`).
    pub description: &'static str,
    /// Whether a resource without it is invalid.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Uniqueness scope.
    pub uniqueness: Uniqueness,
    /// Suggested values (for `type`).
    pub canonical_values: &'static [&'static str],
    /// For references: what they may point at.
    pub reference_types: &'static [&'static str],
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttributeDef],
}

impl AttributeDef {
    const fn new(name: &'static str, kind: AttributeType, description: &'static str) -> Self {
        AttributeDef {
            name,
            kind,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    const fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    const fn sub(mut self, subs: &'static [AttributeDef]) -> Self {
        self.sub_attributes = subs;
        self
    }

    /// Looks up a sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema: an id and its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: &'static str,
    /// Short name.
    pub name: &'static str,
    /// Human description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Looks up a top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

use AttributeType as T;

const fn s(name: &'static str, description: &'static str) -> AttributeDef {
    AttributeDef::new(name, T::String, description)
}

const fn multi_valued_subs(
    value_kind: AttributeType,
    types: &'static [&'static str],
) -> [AttributeDef; 4] {
    [
        AttributeDef::new("value", value_kind, "The attribute's value."),
        s("display", "A human-readable name, primarily for display."),
        s("type", "A label indicating the attribute's function.").canonical(types),
        AttributeDef::new(
            "primary",
            T::Boolean,
            "Whether this is the primary value; true appears at most once.",
        ),
    ]
}

const EMAIL_SUBS: [AttributeDef; 4] = multi_valued_subs(T::String, &["work", "home", "other"]);
const PHONE_SUBS: [AttributeDef; 4] = multi_valued_subs(
    T::String,
    &["work", "home", "mobile", "fax", "pager", "other"],
);
const IMS_SUBS: [AttributeDef; 4] = multi_valued_subs(
    T::String,
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
);
const PHOTO_SUBS: [AttributeDef; 4] = multi_valued_subs(T::Reference, &["photo", "thumbnail"]);
const PLAIN_SUBS: [AttributeDef; 4] = multi_valued_subs(T::String, &[]);
const CERT_SUBS: [AttributeDef; 4] = multi_valued_subs(T::Binary, &[]);

const NAME_SUBS: [AttributeDef; 6] = [
    s("formatted", "The full name, formatted for display."),
    s("familyName", "The family name, or last name."),
    s("givenName", "The given name, or first name."),
    s("middleName", "The middle name(s)."),
    s("honorificPrefix", "The honorific prefix(es), or title."),
    s("honorificSuffix", "The honorific suffix(es)."),
];

const ADDRESS_SUBS: [AttributeDef; 8] = [
    s(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    s("streetAddress", "The full street address component."),
    s("locality", "The city or locality component."),
    s("region", "The state or region component."),
    s("postalCode", "The zip code or postal code component."),
    s(
        "country",
        "The country name component (ISO 3166-1 alpha-2).",
    ),
    s("type", "A label indicating the address's function.").canonical(&["work", "home", "other"]),
    AttributeDef::new(
        "primary",
        T::Boolean,
        "Whether this is the primary address; true appears at most once.",
    ),
];

const USER_GROUP_SUBS: [AttributeDef; 4] = [
    s("value", "The identifier of the user's group.").mutability(Mutability::ReadOnly),
    AttributeDef::new("$ref", T::Reference, "The URI of the group.")
        .refs(&["Group"])
        .mutability(Mutability::ReadOnly),
    s("display", "The group's display name.").mutability(Mutability::ReadOnly),
    s("type", "How the membership was derived.")
        .canonical(&["direct", "indirect"])
        .mutability(Mutability::ReadOnly),
];

const USER_ATTRIBUTES: [AttributeDef; 20] = [
    s(
        "userName",
        "Unique identifier for the user, typically used to sign in.",
    )
    .required()
    .unique(Uniqueness::Server),
    AttributeDef::new("name", T::Complex, "The components of the user's name.").sub(&NAME_SUBS),
    s("displayName", "The name of the user, suitable for display."),
    s("nickName", "The casual way to address the user."),
    AttributeDef::new(
        "profileUrl",
        T::Reference,
        "A URI pointing to the user's profile.",
    )
    .refs(&["external"]),
    s("title", "The user's title, such as \"Vice President\"."),
    s(
        "userType",
        "The relationship between the organization and the user.",
    ),
    s(
        "preferredLanguage",
        "The user's preferred written or spoken language.",
    ),
    s("locale", "The user's default location for localisation."),
    s("timezone", "The user's time zone in IANA database format."),
    AttributeDef::new("active", T::Boolean, "The user's administrative status."),
    AttributeDef::new("emails", T::Complex, "Email addresses for the user.")
        .multi()
        .sub(&EMAIL_SUBS),
    AttributeDef::new("phoneNumbers", T::Complex, "Phone numbers for the user.")
        .multi()
        .sub(&PHONE_SUBS),
    AttributeDef::new(
        "ims",
        T::Complex,
        "Instant messaging addresses for the user.",
    )
    .multi()
    .sub(&IMS_SUBS),
    AttributeDef::new("photos", T::Complex, "URLs of photos of the user.")
        .multi()
        .sub(&PHOTO_SUBS),
    AttributeDef::new(
        "addresses",
        T::Complex,
        "Physical mailing addresses for the user.",
    )
    .multi()
    .sub(&ADDRESS_SUBS),
    AttributeDef::new(
        "groups",
        T::Complex,
        "Groups the user belongs to; managed through Group resources.",
    )
    .multi()
    .mutability(Mutability::ReadOnly)
    .sub(&USER_GROUP_SUBS),
    AttributeDef::new("entitlements", T::Complex, "Entitlements of the user.")
        .multi()
        .sub(&PLAIN_SUBS),
    AttributeDef::new("roles", T::Complex, "Roles of the user.")
        .multi()
        .sub(&PLAIN_SUBS),
    AttributeDef::new(
        "x509Certificates",
        T::Complex,
        "X.509 certificates of the user.",
    )
    .multi()
    .sub(&CERT_SUBS),
];

const MANAGER_SUBS: [AttributeDef; 3] = [
    s(
        "value",
        "The id of the SCIM resource representing the user's manager.",
    ),
    AttributeDef::new("$ref", T::Reference, "The URI of the manager's resource.").refs(&["User"]),
    s("displayName", "The display name of the manager.").mutability(Mutability::ReadOnly),
];

const ENTERPRISE_ATTRIBUTES: [AttributeDef; 6] = [
    s(
        "employeeNumber",
        "A string identifier assigned by the organization.",
    ),
    s("costCenter", "The name of a cost center."),
    s("organization", "The name of an organization."),
    s("division", "The name of a division."),
    s("department", "The name of a department."),
    AttributeDef::new("manager", T::Complex, "The user's manager.").sub(&MANAGER_SUBS),
];

const MEMBER_SUBS: [AttributeDef; 4] = [
    // Required here (RFC 7643 §8.7.1 leaves it optional): a member without an id names no one,
    // and accepting one would answer success for a change that did nothing.
    s("value", "The identifier of the member.")
        .mutability(Mutability::Immutable)
        .required(),
    AttributeDef::new("$ref", T::Reference, "The URI of the member resource.")
        .refs(&["User", "Group"])
        .mutability(Mutability::Immutable),
    // Okta and Entra send `display`; it is accepted but not stored: the server shows the
    // member's own current name, so the attribute is readOnly (RFC 7643 §8.7.1 defines no
    // writable `display` for members).
    s("display", "A human-readable name of the member.").mutability(Mutability::ReadOnly),
    s("type", "The type of the member.")
        .canonical(&["User", "Group"])
        .mutability(Mutability::Immutable),
];

const GROUP_ATTRIBUTES: [AttributeDef; 2] = [
    s("displayName", "A human-readable name for the group.").required(),
    AttributeDef::new("members", T::Complex, "The members of the group.")
        .multi()
        .sub(&MEMBER_SUBS),
];

const META_SUBS: [AttributeDef; 5] = [
    s("resourceType", "The name of the resource type.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
    AttributeDef::new("created", T::DateTime, "When the resource was added.")
        .mutability(Mutability::ReadOnly),
    AttributeDef::new(
        "lastModified",
        T::DateTime,
        "When the resource was last changed.",
    )
    .mutability(Mutability::ReadOnly),
    AttributeDef::new("location", T::Reference, "The URI of the resource.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
    s("version", "The version (entity tag) of the resource.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
];

/// The common attributes every resource carries (RFC 7643 §3.1). They belong to no schema and are
/// therefore not rendered under `/Schemas`, but they drive filtering and PATCH like any other.
pub static COMMON_ATTRIBUTES: [AttributeDef; 3] = [
    s(
        "id",
        "The server's unique, stable identifier for the resource.",
    )
    .case_exact()
    .mutability(Mutability::ReadOnly)
    .returned(Returned::Always)
    .unique(Uniqueness::Server),
    s("externalId", "The client's identifier for the resource.").case_exact(),
    AttributeDef::new("meta", T::Complex, "Resource metadata.")
        .mutability(Mutability::ReadOnly)
        .sub(&META_SUBS),
];

/// The core User schema.
pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: USER_SCHEMA_ID,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

/// The enterprise User extension.
pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA_ID,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRIBUTES,
};

/// The core Group schema.
pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA_ID,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRIBUTES,
};

/// A resource type: endpoint, core schema and the extensions it may carry (RFC 7643 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceSchema {
    /// Resource type name (`User`, `Group`), also `meta.resourceType`.
    pub name: &'static str,
    /// Endpoint relative to the SCIM base URL.
    pub endpoint: &'static str,
    /// Human description.
    pub description: &'static str,
    /// The core schema.
    pub core: &'static SchemaDef,
    /// Extensions: (schema, required).
    pub extensions: &'static [(&'static SchemaDef, bool)],
}

/// The User resource type with the enterprise extension.
pub static USER: ResourceSchema = ResourceSchema {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    core: &USER_SCHEMA,
    extensions: &[(&ENTERPRISE_USER_SCHEMA, false)],
};

/// The Group resource type.
pub static GROUP: ResourceSchema = ResourceSchema {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    core: &GROUP_SCHEMA,
    extensions: &[],
};

/// Every resource type this crate knows, in discovery order.
pub static RESOURCE_TYPES: [&ResourceSchema; 2] = [&USER, &GROUP];

/// Every schema this crate knows, in discovery order.
pub static SCHEMAS: [&SchemaDef; 3] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];

/// Where an attribute lives inside a resource's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// Top level: the core schema and the common attributes.
    Core,
    /// Inside the object keyed by a known extension's URN.
    Extension(&'static SchemaDef),
    /// Inside the object keyed by an extension URN this crate has no definition for; kept verbatim.
    Unknown(String),
}

impl ResourceSchema {
    /// Looks up a top-level attribute of the core schema or a common attribute.
    pub fn core_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.core.attribute(name).or_else(|| {
            COMMON_ATTRIBUTES
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
        })
    }

    /// Finds the extension whose URN equals `urn`, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .map(|(schema, _)| *schema)
            .find(|schema| schema.id.eq_ignore_ascii_case(urn))
    }

    /// Splits a URN-qualified attribute (`urn:…:User:department`) into its container and the
    /// remaining attribute text. Returns `None` for text that is not URN-qualified.
    pub fn split_urn<'a>(&self, text: &'a str) -> Option<(Container, &'a str)> {
        if !starts_with_ci(text, "urn:") {
            return None;
        }
        // Known schemas first, so that dots in "2.0" are never mistaken for sub-attribute syntax.
        for schema in std::iter::once(self.core).chain(self.extensions.iter().map(|(s, _)| *s)) {
            if starts_with_ci(text, schema.id) {
                let rest = &text[schema.id.len()..];
                let container = if std::ptr::eq(schema, self.core) {
                    Container::Core
                } else {
                    Container::Extension(schema)
                };
                if rest.is_empty() {
                    return Some((container, rest));
                }
                if let Some(attr) = rest.strip_prefix(':') {
                    return Some((container, attr));
                }
            }
        }
        // Unknown extension: the attribute is the part after the last colon.
        let idx = text.rfind(':')?;
        Some((
            Container::Unknown(text[..idx].to_string()),
            &text[idx + 1..],
        ))
    }
}

pub(crate) fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}
