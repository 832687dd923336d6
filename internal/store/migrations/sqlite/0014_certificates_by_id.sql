-- Certificates stored by their id.
--
-- An online verification reads one certificate by its id
-- (store.CertificateAndDevice). As a rowid table, certificates answered
-- that through two B-trees: the id's index, then the table. Stored
-- WITHOUT ROWID, in id order, the read descends one. The columns, their
-- defaults, CHECKs and REFERENCES, the unique face check and the indexes
-- stay as 0001 and 0008 made them; the rows are copied as they are. The
-- key is now NOT NULL, as a WITHOUT ROWID table's key must be; no
-- certificate was ever stored without an id.
--
-- Passes name their certificate (passes.certificate_id REFERENCES
-- certificates). Migrations run in one transaction with foreign keys on,
-- where foreign_keys = OFF does nothing; deferring the keys, as 0008 does,
-- fails at the commit here: dropping certificates counts every pass as an
-- orphan, and rows that were copied before the drop do not count them off
-- again. So the passes are set aside and dropped first, and created again,
-- as 0001 made them, once certificates is back under its name.
CREATE TABLE certificates_by_id (
    id                TEXT PRIMARY KEY,
    holder_index      BLOB NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    face_check_id     TEXT NOT NULL UNIQUE,
    name_ct           BLOB,
    id_number_ct      BLOB,
    name_masked       TEXT NOT NULL,
    id_masked         TEXT NOT NULL,
    city_code         TEXT NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    status_at         INTEGER NOT NULL,
    superseded_by     TEXT,
    revoke_reason     TEXT,
    purged_at         INTEGER,
    channel           TEXT NOT NULL DEFAULT 'app' CHECK (channel IN ('app', 'window', 'kiosk')),
    station_code      TEXT,
    issued_by         TEXT,
    method            TEXT,
    document_type     TEXT,
    supersede_reason  TEXT,
    slip              TEXT
) WITHOUT ROWID;
INSERT INTO certificates_by_id (id, holder_index, account_id, face_check_id, name_ct, id_number_ct, name_masked, id_masked,
    city_code, issued_at, expires_at, status, status_at, superseded_by, revoke_reason, purged_at,
    channel, station_code, issued_by, method, document_type, supersede_reason, slip)
SELECT id, holder_index, account_id, face_check_id, name_ct, id_number_ct, name_masked, id_masked,
    city_code, issued_at, expires_at, status, status_at, superseded_by, revoke_reason, purged_at,
    channel, station_code, issued_by, method, document_type, supersede_reason, slip
FROM certificates;

CREATE TEMPORARY TABLE passes_before_0014 AS SELECT * FROM passes;
DROP TABLE passes;
DROP TABLE certificates;
ALTER TABLE certificates_by_id RENAME TO certificates;

CREATE TABLE passes (
    id               TEXT PRIMARY KEY,
    certificate_id   TEXT NOT NULL REFERENCES certificates (id),
    face_check_id    TEXT NOT NULL UNIQUE,
    session_id       TEXT NOT NULL,
    device_key_hash  BLOB NOT NULL,
    issuer_kid       TEXT NOT NULL,
    not_before       INTEGER NOT NULL,
    not_after        INTEGER NOT NULL,
    issued_at        INTEGER NOT NULL
);
INSERT INTO passes (id, certificate_id, face_check_id, session_id, device_key_hash, issuer_kid, not_before, not_after, issued_at)
SELECT id, certificate_id, face_check_id, session_id, device_key_hash, issuer_kid, not_before, not_after, issued_at
FROM passes_before_0014;
DROP TABLE passes_before_0014;
CREATE INDEX passes_by_session ON passes (session_id);
CREATE INDEX passes_by_certificate ON passes (certificate_id);

CREATE INDEX certificates_by_holder ON certificates (holder_index, issued_at);
CREATE INDEX certificates_by_account ON certificates (account_id, issued_at);
CREATE INDEX certificates_by_expiry ON certificates (expires_at);
CREATE INDEX certificates_by_issuer ON certificates (issued_by, issued_at);
