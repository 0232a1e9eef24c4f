ALTER TABLE saml_connections ADD COLUMN sso_binding TEXT NOT NULL DEFAULT 'redirect';
