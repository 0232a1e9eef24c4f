-- SCIM looks users up by (directory, userName): Okta's and Entra's `userName eq "..."` before every
-- create. The unique index leads with tenant_id, which those queries do not use, so without this
-- one both engines scanned the whole directory (42 ms at 100,000 users on PostgreSQL).
CREATE INDEX users_directory_user_name ON users (directory_id, user_name_lower);
