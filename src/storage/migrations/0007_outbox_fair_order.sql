-- Fair order for reset mail (issue #16, point 1). Someone holding a leaked address list can ask
-- for resets of thousands of real accounts; each such mail is legitimate for its recipient, but
-- first-come-first-served would put every genuine request of that hour behind the flood, past its
-- link's lifetime. Each reset mail now records which client network asked (a keyed digest, never
-- the address) and its rank: how many reset mails from that network were already waiting. The
-- dispatcher sends lower ranks first, so every network's first request goes ahead of anyone's
-- hundredth, and a network at its cap queues nothing more.
ALTER TABLE outbox ADD COLUMN requester bytea;
ALTER TABLE outbox ADD COLUMN fair_rank integer NOT NULL DEFAULT 0;
-- Counting a network's waiting mails at issue time.
CREATE INDEX outbox_pending_requester ON outbox (requester) WHERE status = 'pending' AND requester IS NOT NULL;
-- The claim's order. Campaign notices and other mail keep rank 0, so their order is unchanged.
DROP INDEX outbox_pending_due;
CREATE INDEX outbox_pending_due ON outbox (priority, fair_rank, available_at, id) WHERE status = 'pending';
