//! Diesel table definitions; kept by hand in step with `migrations/` (one schema for both engines).
#![allow(missing_docs)]

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        display_name -> Text,
        external_id -> Nullable<Text>,
        parent_id -> Nullable<Text>,
        session_lifetime_secs -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    tenant_domains (domain) {
        domain -> Text,
        tenant_id -> Text,
        verified -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    saml_connections (id) {
        id -> Text,
        tenant_id -> Text,
        name -> Text,
        enabled -> Bool,
        vendor -> Text,
        idp_entity_id -> Text,
        sso_url -> Text,
        slo_url -> Nullable<Text>,
        idp_certificates -> Text,
        metadata_url -> Nullable<Text>,
        sp_entity_id -> Text,
        sp_signing_key -> Text,
        sp_signing_cert -> Text,
        sp_encryption_key -> Text,
        sp_encryption_cert -> Text,
        sign_requests -> Bool,
        allow_idp_initiated -> Bool,
        default_client_id -> Nullable<Text>,
        default_redirect_uri -> Nullable<Text>,
        attribute_mapping -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        sso_binding -> Text,
        jit_enabled -> Bool,
        slo_binding -> Text,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        client_id -> Text,
        scope -> Text,
        issued_at -> BigInt,
        used -> Bool,
    }
}

diesel::table! {
    role_rulesets (tenant_id) {
        tenant_id -> Text,
        ruleset -> Text,
        version -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    user_grants (user_id) {
        user_id -> Text,
        grants -> Text,
        ruleset_version -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    oidc_clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<BigInt>,
        redirect_uris -> Text,
        backchannel_logout_uri -> Nullable<Text>,
        created_at -> BigInt,
        post_logout_redirect_uris -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        tenant_id -> Text,
        connection_id -> Nullable<Text>,
        external_subject -> Text,
        email -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        groups -> Text,
        active -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        directory_id -> Nullable<Text>,
        user_name -> Nullable<Text>,
        user_name_lower -> Nullable<Text>,
        external_id -> Nullable<Text>,
        scim_resource -> Nullable<Text>,
        version -> BigInt,
        attributes -> Text,
    }
}

diesel::table! {
    recovery_admins (tenant_id, user_id) {
        tenant_id -> Text,
        user_id -> Text,
        designated_at -> BigInt,
    }
}

diesel::table! {
    recovery_links (id) {
        id -> Text,
        token_hash -> Text,
        tenant_id -> Text,
        user_id -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        reason -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    logout_flows (id) {
        id -> Text,
        connection_id -> Text,
        saml_request_id -> Text,
        post_logout_redirect_uri -> Nullable<Text>,
        state -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed -> Bool,
    }
}

diesel::table! {
    login_flows (id) {
        id -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        state -> Nullable<Text>,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        scope -> Text,
        tenant_id -> Text,
        connection_id -> Text,
        saml_request_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed -> Bool,
        prompt_none -> Bool,
        max_age -> Nullable<BigInt>,
        acr_values -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        tenant_id -> Text,
        connection_id -> Text,
        client_id -> Text,
        idp_session_index -> Nullable<Text>,
        acr -> Nullable<Text>,
        amr -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        idp_name_id -> Nullable<Text>,
        idp_name_id_json -> Nullable<Text>,
        expiry_recorded_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    auth_codes (code_hash) {
        code_hash -> Text,
        session_id -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        nonce -> Nullable<Text>,
        scope -> Text,
        expires_at -> BigInt,
        used -> Bool,
    }
}

diesel::table! {
    access_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        client_id -> Text,
        scope -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        private_key -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        publish_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    replay_cache (key) {
        key -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    operator_tokens (id) {
        id -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (tenant_id, seq) {
        tenant_id -> Text,
        seq -> BigInt,
        at -> BigInt,
        event_type -> Text,
        actor -> Text,
        target -> Nullable<Text>,
        correlation_id -> Text,
        record -> Text,
        hash -> Text,
    }
}

diesel::table! {
    scim_directories (id) {
        id -> Text,
        tenant_id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    scim_tokens (id) {
        id -> Text,
        directory_id -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        tenant_id -> Text,
        directory_id -> Text,
        display_name -> Text,
        display_name_lower -> Text,
        external_id -> Nullable<Text>,
        resource -> Text,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
    }
}

diesel::joinable!(access_tokens -> sessions (session_id));
diesel::joinable!(scim_tokens -> scim_directories (directory_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(access_tokens, sessions);
diesel::allow_tables_to_appear_in_same_query!(scim_tokens, scim_directories);
diesel::allow_tables_to_appear_in_same_query!(group_members, groups, users);
diesel::allow_tables_to_appear_in_same_query!(sessions, users, tenants);

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        tenant_id -> Nullable<Text>,
        url -> Text,
        secret -> Text,
        enabled -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Text,
        tenant_id -> Text,
        seq -> BigInt,
        event_type -> Text,
        payload -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        event_id -> Text,
        tenant_id -> Text,
        seq -> BigInt,
        target_kind -> Text,
        target_id -> Text,
        url -> Text,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        locked_until -> Nullable<BigInt>,
    }
}

diesel::joinable!(deliveries -> outbox_events (event_id));
diesel::allow_tables_to_appear_in_same_query!(deliveries, outbox_events);
