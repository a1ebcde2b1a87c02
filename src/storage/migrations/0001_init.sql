-- Accounts, reset tokens, sessions and the mail outbox. Timestamps are timestamptz; expiry is
-- always compared against a `now` the application passes in.

CREATE TABLE accounts (
    id             bigserial PRIMARY KEY,
    email          text NOT NULL UNIQUE,          -- lowercase, normalised by the application
    password_hash  text,                          -- argon2 PHC string; NULL = no password set
    -- false for hashes imported from another system (computed without our pepper); upgraded to a
    -- peppered hash at the configured parameters on the next successful login.
    password_peppered boolean NOT NULL DEFAULT true,
    mfa_enabled    boolean NOT NULL DEFAULT false,
    session_epoch  bigint NOT NULL DEFAULT 0,     -- bumped to sign out every session
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- At most one token per account: the primary key makes "a new request replaces the old one" a
-- single upsert. Only the SHA-256 of the token is stored.
CREATE TABLE reset_tokens (
    account_id  bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    epoch       bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_account_id ON sessions (account_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);          -- the janitor's purge

CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL,
    recipient      text NOT NULL,
    sealed_secret  bytea,                          -- encrypted token, cleared once sent
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    created_at     timestamptz NOT NULL,
    available_at   timestamptz NOT NULL,           -- not before: backoff and leases move it
    sent_at        timestamptz
);
-- The dispatcher's claim query scans only pending rows in due order.
CREATE INDEX outbox_pending_due ON outbox (available_at, id) WHERE status = 'pending';
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE status = 'sent';  -- the janitor's purge
-- A new token replaces the old one, so its unsent mail is deleted: this finds it.
CREATE INDEX outbox_pending_recipient ON outbox (recipient, kind) WHERE status = 'pending';

-- Reset requests per address per fixed one-hour window, shared by every replica. Keyed by a
-- pepper-keyed digest of the address: the table never holds addresses, including addresses that
-- have no account.
CREATE TABLE reset_request_counts (
    email_digest  bytea PRIMARY KEY CHECK (length(email_digest) = 32),
    window_start  timestamptz NOT NULL,
    count         integer NOT NULL
);
CREATE INDEX reset_request_counts_window ON reset_request_counts (window_start);
