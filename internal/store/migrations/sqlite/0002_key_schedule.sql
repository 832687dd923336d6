-- The key schedule's lock row. Every transaction that creates or schedules
-- issuer and seal keys updates it first, so that two nodes (or a node and
-- `tempid keys rotate`) never schedule two successors of the same key.
CREATE TABLE key_schedule (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO key_schedule (id, version) VALUES (1, 0);

-- Verifications are listed by certificate for support and statistics.
CREATE INDEX verifications_by_certificate ON verifications (certificate_id, at);
