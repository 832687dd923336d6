-- Every audited write updates the chain's one head row, and a batch of
-- verifications updates it once per verification inside one transaction.
-- Leaving most of its page free keeps those versions on the page (HOT
-- updates, pruned in place) rather than spilling to new pages and index
-- entries: BenchmarkRecordVerification/postgres measured 0.88 of the
-- backend CPU per verification with it (docs/performance.md).
ALTER TABLE audit_head SET (fillfactor = 10);
