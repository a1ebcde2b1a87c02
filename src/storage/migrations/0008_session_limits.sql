-- Sessions people can end (issue #16, point 8). A session now ends when it has gone unused for the
-- idle timeout as well as at its absolute end (OWASP Session Management); each use moves
-- idle_expires_at forward, never past expires_at. Sessions from before keep their old end.
ALTER TABLE sessions ADD COLUMN idle_expires_at timestamptz;
UPDATE sessions SET idle_expires_at = expires_at;
ALTER TABLE sessions ALTER COLUMN idle_expires_at SET NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_idle_within_lifetime CHECK (idle_expires_at <= expires_at);
-- The per-account cap ends an account's oldest sessions first.
DROP INDEX sessions_account_id;
CREATE INDEX sessions_account_created ON sessions (account_id, created_at);
-- The janitor's purge of idle sessions.
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);
