-- The language of each account's mail. NULL means the configured default
-- (RESETGATE_DEFAULT_LOCALE), so a change of default reaches every account that never chose.
-- The reset request records the browser's language here; the changed notice and campaign notices
-- follow it. A tag we no longer ship reads as NULL (the default), never as an error.
ALTER TABLE accounts ADD COLUMN locale text;
-- The language a queued message renders in, fixed when it is queued (like its recipient): the
-- campaign enqueue copies it from the account in the same INSERT ... SELECT, so the claim needs
-- no join. Both columns are nullable without a default: adding them rewrites no rows.
ALTER TABLE outbox ADD COLUMN locale text;
