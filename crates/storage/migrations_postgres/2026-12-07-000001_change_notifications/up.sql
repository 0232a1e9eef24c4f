-- Change notifications for the rows replicas cache (storage::ChangeListener): every statement
-- that writes one of these tables announces the table's name on the channel
-- `gatehouse_config_changes`. NOTIFY is transactional: listeners hear it when the writing
-- transaction commits, never for one that rolls back, and duplicates within one transaction
-- are folded into one. A trigger rather than a call in each write path, so no writer can
-- forget it: not a future query function, not the CLI, not an operator's psql session.
CREATE OR REPLACE FUNCTION gatehouse_announce_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('gatehouse_config_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- One trigger `<table>_announce` per table of storage::ANNOUNCED_TABLES (a storage test checks
-- that the two lists agree).
DO $$
DECLARE
    announced TEXT;
BEGIN
    FOREACH announced IN ARRAY ARRAY['scim_tokens', 'scim_directories', 'saml_connections',
        'oidc_clients', 'tenants', 'tenant_domains', 'role_rulesets', 'signing_keys']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_announce_change()',
            announced || '_announce', announced);
        -- ALWAYS: also under session_replication_role = replica (logical replication's apply,
        -- pg_restore --disable-triggers), which skips ordinary triggers.
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', announced,
            announced || '_announce');
    END LOOP;
END
$$;
