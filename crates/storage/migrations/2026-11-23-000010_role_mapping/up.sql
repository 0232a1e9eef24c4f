-- Role mapping: one versioned rule set per tenant, the grants each user currently holds, and
-- the per-connection just-in-time provisioning switch.
CREATE TABLE role_rulesets (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    ruleset TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE user_grants (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    grants TEXT NOT NULL,
    ruleset_version BIGINT,
    updated_at BIGINT NOT NULL
);

ALTER TABLE saml_connections ADD COLUMN jit_enabled BOOLEAN NOT NULL DEFAULT TRUE;
