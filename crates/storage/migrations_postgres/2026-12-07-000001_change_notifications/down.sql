DO $$
DECLARE
    announced TEXT;
BEGIN
    FOREACH announced IN ARRAY ARRAY['scim_tokens', 'scim_directories', 'saml_connections',
        'oidc_clients', 'tenants', 'tenant_domains', 'role_rulesets', 'signing_keys']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', announced || '_announce', announced);
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS gatehouse_announce_change();
