-- An administrator disables a terminal for a while (a handheld sent for
-- repair) and enables it again; revoking stays final. A disabled
-- terminal's key is refused like a revoked one's.
ALTER TABLE terminals ADD COLUMN disabled_at INTEGER;

-- The audit log is read newest first and filtered by actor, action and
-- time without indexes of its own: every verification writes an entry,
-- and an index is one more tree each of them updates. Entries are
-- numbered in the order they are written, so a time range is found as a
-- range of ids (store.AuditPage).
