-- The attributes the IdP asserted at the user's last login (JSON object of name -> values), kept so
-- that role mapping can re-run without a login when SCIM changes the user's groups (docs/roles.md).
ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
