-- A campaign may require two-step verification after its forced reset (issue #14): the incident
-- showed passwords alone were not enough, so the owner chooses a new one and then enrols.
-- The campaign carries the choice, each marked account carries it in its forced_resets row (so a
-- later campaign re-marking the account cannot drop it), and the reset that satisfies the forced
-- reset moves it onto the account, where it stays until a factor is confirmed. All three columns
-- default to false: adding them rewrites no rows (PostgreSQL 11+ stores the default in the
-- catalogue).
ALTER TABLE campaigns ADD COLUMN require_two_step boolean NOT NULL DEFAULT false;
ALTER TABLE forced_resets ADD COLUMN require_two_step boolean NOT NULL DEFAULT false;
-- Set only for an account without a confirmed factor; cleared in the transaction that confirms
-- one. While set, the account's sessions may enrol but GET /v1/session answers
-- 403 two_step_setup_required, so the applications that trust it hold the owner at enrolment.
ALTER TABLE accounts ADD COLUMN two_step_required boolean NOT NULL DEFAULT false;
