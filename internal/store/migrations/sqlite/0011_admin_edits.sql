-- An administrator disables a terminal for a while (a handheld sent for
-- repair) and enables it again; revoking stays final. A disabled
-- terminal's key is refused like a revoked one's.
ALTER TABLE terminals ADD COLUMN disabled_at INTEGER;

-- The audit log is read newest first, filtered by actor, action and time.
CREATE INDEX audit_events_by_actor ON audit_events (actor, id);
CREATE INDEX audit_events_by_action ON audit_events (action, id);
CREATE INDEX audit_events_by_at ON audit_events (at);
