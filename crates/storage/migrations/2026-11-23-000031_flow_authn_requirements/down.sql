ALTER TABLE login_flows DROP COLUMN acr_values;
ALTER TABLE login_flows DROP COLUMN max_age;
ALTER TABLE login_flows DROP COLUMN prompt_none;
