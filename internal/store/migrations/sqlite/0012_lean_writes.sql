-- Leaner writes (docs/performance.md, storage shape).
--
-- Audit entries are chained as they are written, inside the writing
-- transaction (package audit): each entry holds its position in the chain
-- and its link hash. The pending list, its trigger and the sealer's
-- separate table of links go; a verification now writes one audit row.

-- The head also holds the last entry id given out: the writer numbers an
-- entry before inserting it, since the id is part of the entry's hash.
ALTER TABLE audit_head ADD COLUMN last_id INTEGER NOT NULL DEFAULT 0;

-- Ids are given by the writer, not by AUTOINCREMENT (which updated
-- sqlite_sequence on every insert).
CREATE TABLE audit_entries (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    detail  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    hash    BLOB NOT NULL
);

-- Sealed entries keep their links.
INSERT INTO audit_entries (id, at, actor, action, object, detail, seq, hash)
SELECT e.id, e.at, e.actor, e.action, e.object, e.detail, c.seq, c.hash
FROM audit_events e JOIN audit_chain c ON c.event_id = e.id;

-- Entries not yet sealed are linked after the head, in id order, as the
-- sealer would have linked them.
WITH RECURSIVE todo AS (
    SELECT e.id, e.at, e.actor, e.action, e.object, e.detail, row_number() OVER (ORDER BY e.id) AS n
    FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)),
link (n, seq, hash) AS (
    SELECT 0, seq, hash FROM audit_head WHERE id = 1
    UNION ALL
    SELECT t.n, l.seq + 1, audit_link_hash(l.hash, l.seq + 1, t.id, t.at, t.actor, t.action, t.object, t.detail)
    FROM link l JOIN todo t ON t.n = l.n + 1)
INSERT INTO audit_entries (id, at, actor, action, object, detail, seq, hash)
SELECT t.id, t.at, t.actor, t.action, t.object, t.detail, l.seq, l.hash FROM link l JOIN todo t ON t.n = l.n;

UPDATE audit_head SET
    seq = (SELECT seq FROM audit_entries ORDER BY seq DESC LIMIT 1),
    hash = (SELECT hash FROM audit_entries ORDER BY seq DESC LIMIT 1)
WHERE id = 1 AND (SELECT max(seq) FROM audit_entries) > seq;
UPDATE audit_head SET last_id = max(
    coalesce((SELECT max(id) FROM audit_entries), 0),
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0))
WHERE id = 1;

-- Dropping audit_events drops its trigger (audit_events_pending) too.
DROP TABLE audit_events;
DROP TABLE audit_pending;
DROP TABLE audit_chain;
ALTER TABLE audit_entries RENAME TO audit_events;

-- Verifications are stored in the order of their time-ordered ids
-- (store.NewIDAt of the verification's time), the only key: the
-- statistics read a time range as a range of ids, so the index by time
-- goes, and the rowid with it. Only a slip's uses are looked up by
-- certificate (the used_elsewhere warning), so only verifications of
-- slips — a certificate and no step — are indexed by certificate. An
-- online slip verification recorded step 0 before; it has none.
CREATE TABLE verifications_by_id (
    id              TEXT PRIMARY KEY,
    certificate_id  TEXT,
    step            INTEGER,
    operation       TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    station_code    TEXT,
    verdict         TEXT NOT NULL,
    reason          TEXT,
    replay          BOOLEAN NOT NULL,
    at              INTEGER NOT NULL,
    offline         BOOLEAN NOT NULL DEFAULT 0,
    server_verdict  TEXT,
    server_reason   TEXT,
    recorded_at     INTEGER
) WITHOUT ROWID;
INSERT INTO verifications_by_id (id, certificate_id, step, operation, verifier, station_code, verdict, reason, replay, at,
    offline, server_verdict, server_reason, recorded_at)
SELECT id, certificate_id, CASE WHEN step = 0 THEN NULL ELSE step END, operation, verifier, station_code, verdict, reason, replay, at,
    offline, server_verdict, server_reason, recorded_at
FROM verifications;
DROP TABLE verifications;
ALTER TABLE verifications_by_id RENAME TO verifications;
CREATE INDEX verifications_of_slips ON verifications (certificate_id, at) WHERE step IS NULL AND certificate_id IS NOT NULL;
-- After-the-fact replays, listed for administrators newest first.
CREATE INDEX verifications_after_the_fact ON verifications (at) WHERE offline AND replay;
