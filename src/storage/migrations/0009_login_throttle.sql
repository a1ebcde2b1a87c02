-- The per-address login throttle (issue #16, point 3). Keyed by a keyed digest of the address,
-- account or not, so an unknown address is throttled exactly like a known one and the table never
-- holds an address. One row per address with failures in the last day; a right password or a
-- reset deletes it, the janitor deletes rows a day after their last failure.
CREATE TABLE login_throttle (
    subject          bytea PRIMARY KEY CHECK (length(subject) = 32),
    failures         integer NOT NULL CHECK (failures > 0),
    last_failure_at  timestamptz NOT NULL,
    not_before       timestamptz NOT NULL
);
CREATE INDEX login_throttle_last_failure_at ON login_throttle (last_failure_at);
-- A guessing run updates its row on every try.
ALTER TABLE login_throttle SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);
