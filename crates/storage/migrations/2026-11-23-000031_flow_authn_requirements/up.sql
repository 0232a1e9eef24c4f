-- What the app asked of the authentication (OIDC prompt=none, max_age, acr_values), kept with the
-- flow so that the IdP's answer is checked against it on the way back.
ALTER TABLE login_flows ADD COLUMN prompt_none BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE login_flows ADD COLUMN max_age BIGINT;
ALTER TABLE login_flows ADD COLUMN acr_values TEXT NOT NULL DEFAULT '[]';
