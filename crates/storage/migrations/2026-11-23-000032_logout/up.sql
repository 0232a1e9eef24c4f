-- Single Logout and RP-initiated logout.
-- The NameID the IdP asserted (value for lookup, full form as JSON for our LogoutRequest).
ALTER TABLE sessions ADD COLUMN idp_name_id TEXT;
ALTER TABLE sessions ADD COLUMN idp_name_id_json TEXT;
CREATE INDEX sessions_connection_name_id ON sessions (connection_id, idp_name_id);
-- Which binding the IdP's SingleLogoutService uses (`redirect` or `post`).
ALTER TABLE saml_connections ADD COLUMN slo_binding TEXT NOT NULL DEFAULT 'redirect';
-- Where an app may send the browser after logout (JSON array, exact match).
ALTER TABLE oidc_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
-- An SP-initiated logout waiting for the IdP's LogoutResponse.
CREATE TABLE logout_flows (
    id TEXT PRIMARY KEY NOT NULL,
    connection_id TEXT NOT NULL,
    saml_request_id TEXT NOT NULL UNIQUE,
    post_logout_redirect_uri TEXT,
    state TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed BOOLEAN NOT NULL DEFAULT FALSE
);
