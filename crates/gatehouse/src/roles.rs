//! Authorization: a tenant's role rules (role-mapper's format) turn the groups and attributes the
//! IdP asserted into grants — a role plus scope dimensions — at every login. Rules are
//! configuration: set, versioned and audited through the admin API / CLI, dry-run with
//! [`Gatehouse::explain_roles`].

use crate::error::{GatehouseError, Result};
use crate::{Call, Gatehouse};
use audit::{AuditEvent, AuditGrant};
use role_mapper::{Decision, Grant, RuleSet, Subject};
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
        self.store.transaction(|conn| {
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
        self.store.transaction(|conn| {
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

    /// Map an identity to grants at login and record any change. `Err(code)` inside `Ok` is a
    /// policy refusal (the tenant denies people no rule matches).
    pub(crate) fn apply_role_mapping(
        &self,
        conn: &mut storage::Conn,
        call: &Call,
        tenant_id: &str,
        connection_id: &str,
        user_id: &str,
        identity: &gatehouse_types::ExternalIdentity,
    ) -> Result<std::result::Result<Vec<Grant>, &'static str>> {
        // Without rules there is nothing to grant and nobody to refuse (least privilege).
        let Some((rules, version)) = load_rules(conn, tenant_id)? else {
            return Ok(Ok(Vec::new()));
        };
        let subject = Subject {
            connection: connection_id,
            groups: &identity.groups,
            attributes: &identity.attributes,
        };
        let grants = match role_mapper::map(&rules, &subject) {
            Decision::Granted(g) => g,
            Decision::Denied { .. } => return Ok(Err("no_role_mapping")),
        };
        let before = user_grants(conn, user_id)?;
        if before != grants {
            queries::put_user_grants(
                conn,
                &models::UserGrants {
                    user_id: user_id.to_owned(),
                    grants: serde_json::to_string(&grants).map_err(GatehouseError::internal)?,
                    ruleset_version: Some(version),
                    updated_at: call.now.timestamp(),
                },
            )?;
            self.audit(
                conn,
                call,
                tenant_id,
                Some(user_id),
                AuditEvent::UserRolesChanged {
                    user_id: user_id.to_owned(),
                    before: audit_grants(&before),
                    after: audit_grants(&grants),
                    ruleset_version: u64::try_from(version).ok(),
                },
            )?;
            let data = serde_json::json!({ "user_id": user_id, "grants": grants });
            self.emit(conn, call, tenant_id, "user.roles_changed", data)?;
        }
        Ok(Ok(grants))
    }
}
