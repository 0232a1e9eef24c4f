-- Refresh tokens: bound to a session, rotated on every use; a second use of a rotated token is
-- treated as theft and ends the session.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
