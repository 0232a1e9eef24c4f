ALTER TABLE users DROP COLUMN attributes;
