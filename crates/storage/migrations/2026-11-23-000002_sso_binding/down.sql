ALTER TABLE saml_connections DROP COLUMN sso_binding;
