-- Leaner writes (docs/performance.md, storage shape).
--
-- Audit entries are chained as they are written, inside the writing
-- transaction under the lock of the audit_head row (package audit): each
-- entry holds its position in the chain and its link hash. The pending
-- list and the sealer's separate table of links go; a verification now
-- writes one audit row.

-- audit.Hash, computed by the database: the statement that writes an
-- entry advances the head and links the entry in one round trip, and a
-- verification's statement picks its entry's detail only once its claim
-- has decided whether the code was replayed.
CREATE FUNCTION audit_link_hash(prev BYTEA, seq BIGINT, id BIGINT, at BIGINT, actor TEXT, action TEXT, object TEXT, detail TEXT)
RETURNS BYTEA LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT sha256('tempid-audit-v1'::bytea || prev || int8send(seq) || int8send(id) || int8send(at)
    || int8send(octet_length(convert_to(actor, 'UTF8'))::bigint) || convert_to(actor, 'UTF8')
    || int8send(octet_length(convert_to(action, 'UTF8'))::bigint) || convert_to(action, 'UTF8')
    || int8send(octet_length(convert_to(object, 'UTF8'))::bigint) || convert_to(object, 'UTF8')
    || int8send(octet_length(convert_to(detail, 'UTF8'))::bigint) || convert_to(detail, 'UTF8'))
$$;

-- The head also holds the last entry id given out: entries are numbered
-- under the head's lock, so ids follow the chain's order from now on.
ALTER TABLE audit_head ADD COLUMN last_id BIGINT NOT NULL DEFAULT 0;

ALTER TABLE audit_events ADD COLUMN seq BIGINT, ADD COLUMN hash BYTEA;

-- Sealed entries keep their links.
UPDATE audit_events e SET seq = c.seq, hash = c.hash FROM audit_chain c WHERE c.event_id = e.id;

-- Entries not yet sealed are linked after the head, in id order, as the
-- sealer would have linked them; each step finds the next one by the
-- primary key.
WITH RECURSIVE link (id, seq, hash) AS (
    SELECT 0::bigint, seq, hash FROM audit_head WHERE id = 1
    UNION ALL
    SELECT e.id, l.seq + 1, audit_link_hash(l.hash, l.seq + 1, e.id, e.at, e.actor, e.action, e.object, e.detail)
    FROM link l CROSS JOIN LATERAL (
        SELECT * FROM audit_events n WHERE n.seq IS NULL AND n.id > l.id ORDER BY n.id LIMIT 1) e)
UPDATE audit_events e SET seq = l.seq, hash = l.hash FROM link l WHERE e.id = l.id;

ALTER TABLE audit_events ALTER COLUMN seq SET NOT NULL, ALTER COLUMN hash SET NOT NULL;

UPDATE audit_head h SET seq = x.seq, hash = x.hash
FROM (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) x
WHERE h.id = 1 AND x.seq > h.seq;
UPDATE audit_head SET last_id = greatest(
    coalesce((SELECT max(id) FROM audit_events), 0),
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM audit_events_id_seq))
WHERE id = 1;

-- Ids come from the head now.
ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE audit_events_id_seq;
DROP TABLE audit_pending;
DROP TABLE audit_chain;

-- Verifications are found by their time-ordered ids (store.NewIDAt of the
-- verification's time): the statistics read a time range as a range of
-- the primary key, so the index by time goes. Only a slip's uses are
-- looked up by certificate (the used_elsewhere warning), so only
-- verifications of slips — a certificate and no step — are indexed by
-- certificate. An online slip verification recorded step 0 before; it
-- has none.
DROP INDEX verifications_by_time;
DROP INDEX verifications_by_certificate;
UPDATE verifications SET step = NULL WHERE step = 0;
CREATE INDEX verifications_of_slips ON verifications (certificate_id, at) WHERE step IS NULL AND certificate_id IS NOT NULL;
