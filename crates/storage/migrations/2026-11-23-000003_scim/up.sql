-- SCIM 2.0 provisioning: directories (one IdP each), their bearer tokens (hashes only), groups
-- and memberships, and the SCIM view of a user kept on the users row itself so that a SCIM user
-- and a SAML user are one row.
CREATE TABLE scim_directories (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX scim_directories_tenant ON scim_directories (tenant_id);

CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    directory_id TEXT NOT NULL REFERENCES scim_directories (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX scim_tokens_directory ON scim_tokens (directory_id);

CREATE TABLE "groups" (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    directory_id TEXT NOT NULL REFERENCES scim_directories (id),
    display_name TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    external_id TEXT,
    resource TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX groups_directory_name ON "groups" (directory_id, display_name_lower);
CREATE INDEX groups_directory_external ON "groups" (directory_id, external_id);
CREATE INDEX groups_directory_created ON "groups" (directory_id, created_at);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES "groups" (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

ALTER TABLE users ADD COLUMN directory_id TEXT;
ALTER TABLE users ADD COLUMN user_name TEXT;
ALTER TABLE users ADD COLUMN user_name_lower TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN scim_resource TEXT;
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_lower);
CREATE INDEX users_directory_created ON users (directory_id, created_at);
CREATE INDEX users_directory_external ON users (directory_id, external_id);
CREATE INDEX users_email_lower ON users (tenant_id, lower(email));
CREATE INDEX users_tenant_active ON users (tenant_id, active);
