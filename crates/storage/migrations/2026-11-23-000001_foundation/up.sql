-- One schema for SQLite and PostgreSQL: only TEXT, BIGINT, INTEGER and BOOLEAN columns, times as
-- unix seconds (BIGINT), ids as text, binary secrets as base64 text. This keeps a single diesel code
-- path valid on both engines.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL,
    display_name TEXT NOT NULL,
    external_id TEXT,
    parent_id TEXT,
    session_lifetime_secs BIGINT NOT NULL DEFAULT 900,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tenants_slug ON tenants (slug);
CREATE UNIQUE INDEX tenants_external_id ON tenants (external_id);

CREATE TABLE tenant_domains (
    domain TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX tenant_domains_tenant ON tenant_domains (tenant_id);

CREATE TABLE saml_connections (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    vendor TEXT NOT NULL,
    idp_entity_id TEXT NOT NULL,
    sso_url TEXT NOT NULL,
    slo_url TEXT,
    idp_certificates TEXT NOT NULL,
    metadata_url TEXT,
    sp_entity_id TEXT NOT NULL,
    sp_signing_key TEXT NOT NULL,
    sp_signing_cert TEXT NOT NULL,
    sp_encryption_key TEXT NOT NULL,
    sp_encryption_cert TEXT NOT NULL,
    sign_requests BOOLEAN NOT NULL DEFAULT TRUE,
    allow_idp_initiated BOOLEAN NOT NULL DEFAULT FALSE,
    default_client_id TEXT,
    default_redirect_uri TEXT,
    attribute_mapping TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX saml_connections_tenant ON saml_connections (tenant_id);

CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT,
    previous_secret_hash TEXT,
    previous_secret_expires_at BIGINT,
    redirect_uris TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    connection_id TEXT,
    external_subject TEXT NOT NULL,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    groups TEXT NOT NULL DEFAULT '[]',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_subject ON users (tenant_id, connection_id, external_subject);
CREATE INDEX users_email ON users (tenant_id, email);

CREATE TABLE login_flows (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    scope TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    saml_request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX login_flows_request ON login_flows (saml_request_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    idp_session_index TEXT,
    acr TEXT,
    amr TEXT NOT NULL DEFAULT '[]',
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    scope TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_session ON access_tokens (session_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    publish_until BIGINT
);

-- Assertion replay cache: one row per (connection, assertion id) until the assertion expires.
-- The primary key makes a second insert fail on every replica sharing the database.
CREATE TABLE replay_cache (
    key TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX replay_cache_expiry ON replay_cache (expires_at);

CREATE TABLE operator_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX operator_tokens_hash ON operator_tokens (token_hash);

CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    actor TEXT NOT NULL,
    target TEXT,
    correlation_id TEXT NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_time ON audit_log (tenant_id, at);
