DROP INDEX sessions_expiry_unrecorded;
ALTER TABLE sessions DROP COLUMN expiry_recorded_at;
