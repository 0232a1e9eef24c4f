//! Authorization: a tenant's role rules (role-mapper's format) turn the groups and attributes the
//! IdP asserted into grants — a role plus scope dimensions — at every login. Rules are
//! configuration: set, versioned and audited through the admin API / CLI, dry-run with
//! [`Gatehouse::explain_roles`].

use crate::error::{GatehouseError, Result};
use crate::{Call, Gatehouse};
use audit::{AuditEvent, AuditGrant};
pub use role_mapper::Grant;
use role_mapper::{Decision, RuleSet, Subject};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use storage::{models, queries};

/// A tenant's rule set as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRulesView {
    /// Tenant id.
    pub tenant_id: String,
    /// Stored version (incremented on every change).
    pub version: i64,
    /// The rules.
    pub rules: RuleSet,
}

/// Input of [`Gatehouse::explain_roles`]: "what would this person get".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExplainInput {
    /// Connection the login would come through (rules may be per connection).
    #[serde(default)]
    pub connection: String,
    /// Groups the IdP would assert.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Attributes the IdP would assert.
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// The dry-run answer.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainView {
    /// `granted` or `denied`.
    pub decision: &'static str,
    /// Grants the person would hold.
    pub grants: Vec<Grant>,
    /// Groups no rule used.
    pub unmatched_groups: Vec<String>,
    /// Rule-by-rule explanation, for people.
    pub explanation: String,
}

/// Body of a hand edit of a user's roles: the complete new set of grants.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserRolesInput {
    /// The grants the user should hold (replaces the current set; empty removes every role).
    pub grants: Vec<Grant>,
}

/// A user's roles and who manages them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRolesView {
    /// The user.
    pub user_id: String,
    /// The grants the user holds now (what the next token carries).
    pub grants: Vec<Grant>,
    /// `identity_provider` (role mapping decides; hand edits are refused) or `admin` (granted
    /// by hand through the admin API / CLI).
    pub managed_by: String,
}

/// Roles are managed by the identity provider when the tenant maps roles from IdP groups
/// ("SSO authorization": it has role rules) and the user came from its IdP (signed in through a
/// SAML connection or provisioned by a SCIM directory); every other user's roles are granted by
/// hand. docs/roles.md states the rule.
fn idp_managed(has_rules: bool, user: &models::User) -> bool {
    has_rules && (user.connection_id.is_some() || user.directory_id.is_some())
}

pub(crate) fn audit_grants(grants: &[Grant]) -> Vec<AuditGrant> {
    grants
        .iter()
        .map(|g| AuditGrant {
            role: g.role.clone(),
            scopes: g.scopes.clone(),
        })
        .collect()
}

/// The grants a user holds now (empty when no rule set applied yet).
pub(crate) fn user_grants(conn: &mut storage::Conn, user_id: &str) -> Result<Vec<Grant>> {
    match queries::find_user_grants(conn, user_id)? {
        Some(row) => serde_json::from_str(&row.grants).map_err(GatehouseError::internal),
        None => Ok(Vec::new()),
    }
}

/// Attribute name → values, as role rules see them.
type Attributes = BTreeMap<String, Vec<String>>;

/// SCIM enterprise-extension attributes role rules can use, by their plain names.
const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const SCIM_RULE_ATTRIBUTES: &[&str] = &["title", "userType"];

/// The groups and attributes role mapping sees for a user (docs/roles.md, "Effective groups"):
/// what the IdP asserted at the last login, united with what its SCIM directory says now — the
/// displayName of every SCIM group the user is a member of, and the SCIM profile attributes
/// `title`, `userType` and every string attribute of the enterprise extension (`department`,
/// `division`, `costCenter`, `organization`, `employeeNumber`).
pub(crate) fn mapping_subject(
    conn: &mut storage::Conn,
    user: &models::User,
) -> Result<(Vec<String>, Attributes)> {
    let mut groups: Vec<String> = serde_json::from_str(&user.groups).unwrap_or_default();
    groups.extend(
        storage::scim::groups_of_user(conn, &user.id)?
            .into_iter()
            .map(|(_, name)| name),
    );
    groups.sort();
    groups.dedup();
    let mut attributes: Attributes = serde_json::from_str(&user.attributes).unwrap_or_default();
    if let Some(resource) = user
        .scim_resource
        .as_deref()
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
    {
        let mut add = |name: &str, value: &serde_json::Value| {
            if let Some(v) = value.as_str().filter(|v| !v.is_empty()) {
                let values = attributes.entry(name.to_owned()).or_default();
                if !values.iter().any(|x| x == v) {
                    values.push(v.to_owned());
                }
            }
        };
        for name in SCIM_RULE_ATTRIBUTES {
            if let Some(v) = resource.get(*name) {
                add(name, v);
            }
        }
        if let Some(ext) = resource.get(ENTERPRISE_SCHEMA).and_then(|e| e.as_object()) {
            for (name, v) in ext {
                add(name, v);
            }
        }
    }
    Ok((groups, attributes))
}

fn managed_by(idp: bool) -> &'static str {
    if idp {
        "identity_provider"
    } else {
        "admin"
    }
}

/// The user (of this tenant) and whether the tenant has rules.
fn tenant_user(
    conn: &mut storage::Conn,
    tenant: &str,
    user_id: &str,
) -> Result<(models::User, bool)> {
    let (t, user) = crate::admin::tenant_user(conn, tenant, user_id)?;
    let has_rules = queries::find_role_ruleset(conn, &t.id)?.is_some();
    Ok((user, has_rules))
}

/// Hand-granted roles obey the same shape rules as mapped ones: bounded names, and scopes only on
/// the tenant's defined dimensions. A tenant without a rule set has defined no dimensions, so any
/// well-formed dimension is accepted there.
fn validate_hand_grants(conn: &mut storage::Conn, tenant_id: &str, grants: &[Grant]) -> Result<()> {
    let rules = match load_rules(conn, tenant_id)? {
        Some((rules, _)) => rules,
        None => RuleSet {
            version: 0,
            dimensions: grants
                .iter()
                .flat_map(|g| g.scopes.keys())
                .fold(role_mapper::DimensionSet::default(), |d, k| {
                    d.with(k.clone())
                }),
            rules: Vec::new(),
            unmatched_policy: role_mapper::UnmatchedPolicy::AllowWithoutRoles,
        },
    };
    rules
        .validate_grants(grants)
        .map_err(|e| GatehouseError::invalid("grants", e.to_string()))
}

fn load_rules(conn: &mut storage::Conn, tenant_id: &str) -> Result<Option<(RuleSet, i64)>> {
    match queries::find_role_ruleset(conn, tenant_id)? {
        Some(row) => Ok(Some((
            RuleSet::from_json(&row.ruleset).map_err(GatehouseError::internal)?,
            row.version,
        ))),
        None => Ok(None),
    }
}

impl Gatehouse {
    /// Replace a tenant's role rules (validated; the stored version increases by one).
    pub fn set_role_rules(
        &self,
        call: &Call,
        tenant: &str,
        rules_json: &str,
    ) -> Result<RoleRulesView> {
        let rules = RuleSet::from_json(rules_json)
            .map_err(|e| GatehouseError::invalid("rules", e.to_string()))?;
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            let version = queries::find_role_ruleset(conn, &t.id)?.map_or(1, |r| r.version + 1);
            let rules = RuleSet {
                version: u64::try_from(version).unwrap_or(0),
                ..rules.clone()
            };
            let json = serde_json::to_string(&rules).map_err(GatehouseError::internal)?;
            queries::put_role_ruleset(
                conn,
                &models::RoleRuleset {
                    tenant_id: t.id.clone(),
                    ruleset: json,
                    version,
                    updated_at: call.now.timestamp(),
                },
            )?;
            self.audit_config(
                conn,
                call,
                &t.id,
                "role_rules",
                &t.id,
                "updated",
                &format!("version {version}, {} rules", rules.rules.len()),
            )?;
            Ok(RoleRulesView {
                tenant_id: t.id,
                version,
                rules,
            })
        })
    }

    /// A tenant's role rules, if any were set.
    pub fn role_rules(&self, tenant: &str) -> Result<Option<RoleRulesView>> {
        self.transaction(|conn| {
            let t = queries::find_tenant(conn, tenant)?
                .ok_or(GatehouseError::NotFound { what: "tenant" })?;
            Ok(
                load_rules(conn, &t.id)?.map(|(rules, version)| RoleRulesView {
                    tenant_id: t.id,
                    version,
                    rules,
                }),
            )
        })
    }

    /// A user's roles and who manages them.
    pub fn user_roles(&self, tenant: &str, user_id: &str) -> Result<UserRolesView> {
        self.transaction(|conn| {
            let (user, has_rules) = tenant_user(conn, tenant, user_id)?;
            Ok(UserRolesView {
                grants: user_grants(conn, &user.id)?,
                managed_by: managed_by(idp_managed(has_rules, &user)).into(),
                user_id: user.id,
            })
        })
    }

    /// Grant roles by hand (replacing the user's grants). Refused, with the reason, when the
    /// user's roles are managed by the identity provider: a hand edit would be silently undone by
    /// the next login or SCIM change, so the rules are the place to change them.
    pub fn set_user_roles(
        &self,
        call: &Call,
        tenant: &str,
        user_id: &str,
        grants: Vec<Grant>,
    ) -> Result<UserRolesView> {
        self.transaction(|conn| {
            let (user, has_rules) = tenant_user(conn, tenant, user_id)?;
            if idp_managed(has_rules, &user) {
                return Err(GatehouseError::ManagedElsewhere {
                    reason: format!(
                        "the roles of this user are managed by the identity provider through the \
                         role mapping rules of tenant {tenant}; change the rules or the user's \
                         groups in the IdP instead"
                    ),
                });
            }
            let mut grants = grants.clone();
            validate_hand_grants(conn, &user.tenant_id, &grants)?;
            grants.sort();
            grants.dedup();
            let before = user_grants(conn, &user.id)?;
            if before != grants {
                self.record_grants(conn, call, &user, &before, &grants, None)?;
            }
            Ok(UserRolesView {
                user_id: user.id,
                grants,
                managed_by: managed_by(false).into(),
            })
        })
    }

    /// Dry run: what grants would a person with these groups and attributes get, and why.
    pub fn explain_roles(&self, tenant: &str, input: &ExplainInput) -> Result<ExplainView> {
        let rules = self
            .role_rules(tenant)?
            .ok_or(GatehouseError::NotFound { what: "role rules" })?
            .rules;
        let subject = Subject {
            connection: &input.connection,
            groups: &input.groups,
            attributes: &input.attributes,
        };
        let explanation = role_mapper::explain(&rules, &subject);
        let (decision, grants) = match role_mapper::map(&rules, &subject) {
            Decision::Granted(g) => ("granted", g),
            Decision::Denied { .. } => ("denied", Vec::new()),
        };
        Ok(ExplainView {
            decision,
            grants,
            unmatched_groups: explanation.unmatched_groups.clone(),
            explanation: explanation.to_string(),
        })
    }

    /// Map a user to grants (at login, and whenever SCIM changes their groups or attributes) and
    /// record any change. `Err(code)` inside `Ok` is a policy refusal: the tenant denies people no
    /// rule matches. Without rules nothing is touched, so roles granted by hand stay.
    pub(crate) fn apply_role_mapping(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        user: &models::User,
    ) -> Result<std::result::Result<Vec<Grant>, &'static str>> {
        // Without rules there is nothing to grant and nobody to refuse (least privilege).
        let Some((rules, version)) = load_rules(conn, &user.tenant_id)? else {
            return Ok(Ok(Vec::new()));
        };
        let (groups, attributes) = mapping_subject(conn, user)?;
        let subject = Subject {
            connection: user.connection_id.as_deref().unwrap_or(""),
            groups: &groups,
            attributes: &attributes,
        };
        let (grants, refusal) = match role_mapper::map(&rules, &subject) {
            Decision::Granted(g) => (g, None),
            // A refused person holds nothing: the login is refused, and a SCIM change that
            // leaves someone unmatched takes their roles away at once.
            Decision::Denied { .. } => (Vec::new(), Some("no_role_mapping")),
        };
        let before = user_grants(conn, &user.id)?;
        if before != grants {
            self.record_grants(conn, call, user, &before, &grants, Some(version))?;
        }
        Ok(match refusal {
            None => Ok(grants),
            Some(code) => Err(code),
        })
    }

    /// Store a user's new grants with their audit record and app event (one mechanism for rule
    /// mapping and hand edits).
    pub(crate) fn record_grants(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        user: &models::User,
        before: &[Grant],
        after: &[Grant],
        ruleset_version: Option<i64>,
    ) -> Result<()> {
        queries::put_user_grants(
            conn,
            &models::UserGrants {
                user_id: user.id.clone(),
                grants: serde_json::to_string(after).map_err(GatehouseError::internal)?,
                ruleset_version,
                updated_at: call.now.timestamp(),
            },
        )?;
        self.audit(
            conn,
            call,
            &user.tenant_id,
            Some(&user.id),
            AuditEvent::UserRolesChanged {
                user_id: user.id.clone(),
                before: audit_grants(before),
                after: audit_grants(after),
                ruleset_version: ruleset_version.and_then(|v| u64::try_from(v).ok()),
            },
        )?;
        let data = serde_json::json!({ "user_id": user.id, "grants": after, "before": before });
        self.emit(conn, call, &user.tenant_id, "user.roles_changed", data)?;
        Ok(())
    }

    /// Re-run role mapping for users whose SCIM groups or attributes just changed, in the same
    /// transaction as the change, so their next token carries the new roles without a login.
    pub(crate) fn remap_users<'a>(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        user_ids: impl IntoIterator<Item = &'a String>,
    ) -> Result<()> {
        if queries::find_role_ruleset(conn, tenant_id)?.is_none() {
            return Ok(());
        }
        let mut ids: Vec<&String> = user_ids.into_iter().collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Some(user) = queries::find_user(conn, id)?.filter(|u| u.tenant_id == tenant_id) {
                // A refusal only matters at login; here it has already emptied the grants.
                let _ = self.apply_role_mapping(conn, call, &user)?;
            }
        }
        Ok(())
    }
}
