DROP TABLE recovery_links;
DROP TABLE recovery_admins;
