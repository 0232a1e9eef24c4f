-- Break-glass: a tenant's designated SSO account admins may be sent a one-time recovery sign-in
-- link when their IdP is broken (seed 002).
CREATE TABLE recovery_admins (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    designated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE recovery_links (
    id TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the secret in the link; the secret itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
