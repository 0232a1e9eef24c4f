ALTER TABLE saml_connections DROP COLUMN jit_enabled;
DROP TABLE user_grants;
DROP TABLE role_rulesets;
