DROP TABLE logout_flows;
ALTER TABLE oidc_clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE saml_connections DROP COLUMN slo_binding;
DROP INDEX sessions_connection_name_id;
ALTER TABLE sessions DROP COLUMN idp_name_id_json;
ALTER TABLE sessions DROP COLUMN idp_name_id;
