-- When a session's expiry was recorded in the audit trail (`session.terminated`, reason
-- `expired`) by the expiry sweep. A marker of its own rather than revoked_at: an expired session
-- is not a revoked one, and introspection, refresh, logout and revocation keep reading
-- revoked_at exactly as before. Set once, by a conditional update, which is what keeps several
-- replicas sweeping at once from recording a session twice.
ALTER TABLE sessions ADD COLUMN expiry_recorded_at BIGINT;
-- The sweep asks for unrevoked sessions not yet recorded, by expiry; revoked and recorded ones
-- (the bulk of an old sessions table) are not in this index at all.
CREATE INDEX sessions_expiry_unrecorded ON sessions (expires_at)
    WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL;
