-- The second factor (issue #14). See src/storage/factors.rs for what each table guards.

-- One TOTP factor per account. The secret is sealed (AEAD, bound to the account id, carrying its
-- key identifier); confirmed_at is NULL while enrolment waits for its first code.
CREATE TABLE totp_factors (
    account_id    bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    sealed_secret bytea NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint,                      -- step of the last accepted code: replay guard
    created_at    timestamptz NOT NULL
);

-- Recovery codes: HMAC digests only, each usable once.
CREATE TABLE recovery_codes (
    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    digest      bytea NOT NULL CHECK (length(digest) = 32),
    used_at     timestamptz,
    PRIMARY KEY (account_id, digest)
);

-- Wrong codes per account within the current window, and the lock they earned.
CREATE TABLE factor_failures (
    account_id    bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    failures      integer NOT NULL,
    locked_until  timestamptz
);

-- Login challenges: a right password for an enrolled account, waiting for its code.
CREATE TABLE login_challenges (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX login_challenges_expires_at ON login_challenges (expires_at);

-- What happened to an account's factors, and who did it (the owner, or an admin identity).
CREATE TABLE account_audit (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    event       text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX account_audit_account ON account_audit (account_id, id);

-- How each session was authenticated (GET /v1/session shows it): the amr list, space-separated
-- (`pwd`, `pwd otp`, `pwd recovery`), and its assurance level. Sessions from before this are
-- password-only.
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN aal smallint NOT NULL DEFAULT 1;
