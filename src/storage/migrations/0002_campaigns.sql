-- Breach-day campaigns: force a set of accounts to reset, revoke their sessions, notify them
-- through a paced outbox shared by every replica.

CREATE TABLE campaigns (
    id               bigserial PRIMARY KEY,
    reason           text NOT NULL,
    scope_kind       text NOT NULL CHECK (scope_kind IN ('all', 'account_ids', 'emails', 'created_before')),
    created_before   timestamptz,                   -- for scope_kind = 'created_before'
    revoke_sessions  boolean NOT NULL,
    notify           boolean NOT NULL,
    state            text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'cancelled')),
    -- Accounts created after the campaign started are not in it: marking stops at this id.
    upper_id         bigint NOT NULL,
    accounts_total   bigint NOT NULL,
    -- Progress cursors (account ids). Each batch advances its cursor in the same transaction as its
    -- work, so a crash resumes exactly where the last committed batch stopped.
    mark_cursor      bigint NOT NULL DEFAULT 0,
    marked           bigint NOT NULL DEFAULT 0,
    notify_cursor    bigint NOT NULL DEFAULT 0,
    notified         bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    marked_at        timestamptz,                   -- every account in scope marked
    enqueued_at      timestamptz                    -- every notification enqueued
);

-- List scopes (ids, emails resolved to ids) are materialised so marking walks them in id order.
CREATE TABLE campaign_targets (
    campaign_id  bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    account_id   bigint NOT NULL,
    PRIMARY KEY (campaign_id, account_id)
);

-- Accounts that must reset before they can log in again. A narrow table rather than a column on
-- accounts: marking a million accounts is then a million small inserts into one index instead of a
-- million rewritten account rows and their email index entries (measured: ~3 s against ~9 s).
-- No foreign key to accounts for the same reason (a per-row check trigger); accounts are never
-- deleted by the service, and an orphan row here is harmless.
CREATE TABLE forced_resets (
    account_id       bigint PRIMARY KEY,
    campaign_id      bigint NOT NULL,
    -- Sessions of the account are dead while this row exists (the campaign deleted them; this
    -- also kills one a login in flight created just after).
    revoke_sessions  boolean NOT NULL,
    marked_at        timestamptz NOT NULL
);

ALTER TABLE outbox
    ADD COLUMN priority     smallint NOT NULL DEFAULT 0,  -- 0 transactional, 1 campaign
    ADD COLUMN campaign_id  bigint REFERENCES campaigns(id),
    ADD COLUMN account_id   bigint,
    ADD COLUMN domain       text NOT NULL DEFAULT '';     -- recipient domain: per-domain pacing
UPDATE outbox SET domain = split_part(recipient, '@', 2);
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
-- held: belongs to a paused campaign; cancelled: its campaign was cancelled before it was sent.
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'sent', 'dead', 'held', 'cancelled'));
DROP INDEX outbox_pending_due;
-- Transactional mail (priority 0) is always claimed before campaign mail.
CREATE INDEX outbox_pending_due ON outbox (priority, available_at, id) WHERE status = 'pending';
-- The idempotency key of a campaign notification: one per account per campaign, ever.
CREATE UNIQUE INDEX outbox_campaign_account ON outbox (campaign_id, account_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX outbox_campaign_status ON outbox (campaign_id, status) WHERE campaign_id IS NOT NULL;
CREATE INDEX outbox_dead ON outbox (id) WHERE status = 'dead';

-- Token buckets shared by every replica: '' is the global send budget, 'domain:<d>' a domain's.
-- A dispatcher takes tokens and claims that many rows in one transaction.
CREATE TABLE send_buckets (
    key         text PRIMARY KEY,
    tokens      double precision NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX outbox_held ON outbox (campaign_id) WHERE status = 'held';
-- A campaign's send rate over the last minute (its progress and ETA).
CREATE INDEX outbox_campaign_sent ON outbox (campaign_id, sent_at) WHERE status = 'sent';
