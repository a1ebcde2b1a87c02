-- A campaign turns every outbox row over three times (insert, claim, sent): left to the default
-- (vacuum at 20 % dead), a million-row campaign piles up dead index entries that every claim has
-- to step over, and sending slows as it goes. Vacuum and analyze these tables early and without
-- throttling: their rows are small.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE forced_resets SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE sessions SET (autovacuum_vacuum_scale_factor = 0.05);
