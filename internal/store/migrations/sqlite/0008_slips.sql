-- The manual window, the kiosk and the paper certificate (slip).
--
-- Accounts gain the role officer. SQLite cannot change a CHECK, so the
-- table is rebuilt under its own name: the rows are copied aside, the
-- table dropped and created again, and the rows copied back. The foreign
-- keys of sessions, face checks and certificates keep naming "accounts";
-- defer_foreign_keys lets their rows wait, within this transaction, for
-- their account to be back (SQLite counts the dropped parents and counts
-- them off again as they are inserted; the commit checks nothing is left).
PRAGMA defer_foreign_keys = ON;
CREATE TEMPORARY TABLE accounts_before_0008 AS SELECT * FROM accounts;
DROP TABLE accounts;
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('passenger', 'staff', 'officer', 'admin')),
    station_code   TEXT,
    name_ct        BLOB,
    id_number_ct   BLOB,
    id_index       BLOB,
    name_masked    TEXT NOT NULL DEFAULT '',
    id_masked      TEXT NOT NULL DEFAULT '',
    phone_ct       BLOB,
    created_at     INTEGER NOT NULL,
    disabled_at    INTEGER
);
INSERT INTO accounts (id, username, password_hash, role, station_code, name_ct, id_number_ct, id_index,
    name_masked, id_masked, phone_ct, created_at, disabled_at)
SELECT id, username, password_hash, role, station_code, name_ct, id_number_ct, id_index,
    name_masked, id_masked, phone_ct, created_at, disabled_at FROM accounts_before_0008;
DROP TABLE accounts_before_0008;
CREATE INDEX accounts_by_id_index ON accounts (id_index);

-- A station is its three-letter telegraph code. Codes that become one by
-- upper-casing are; the others stay as they are, and `tempid migrate`
-- lists them (store.NonconformingStations) for an operator to fix.
UPDATE accounts SET station_code = upper(station_code)
WHERE station_code IS NOT NULL AND upper(station_code) GLOB '[A-Z][A-Z][A-Z]';
UPDATE terminals SET station_code = upper(station_code) WHERE upper(station_code) GLOB '[A-Z][A-Z][A-Z]';
UPDATE verifications SET station_code = upper(station_code)
WHERE station_code IS NOT NULL AND upper(station_code) GLOB '[A-Z][A-Z][A-Z]';

-- Terminals have a kind: a fixed gate, a staff-held scanner, or a kiosk
-- that issues slips.
ALTER TABLE terminals ADD COLUMN kind TEXT NOT NULL DEFAULT 'handheld' CHECK (kind IN ('gate', 'handheld', 'kiosk'));

-- Certificates have a channel. A slip records where and by whom it was
-- issued, how the officer confirmed the person, why it superseded an
-- active certificate early, and its text (for reprints; it holds only the
-- masked identity and the sealed number).
ALTER TABLE certificates ADD COLUMN channel TEXT NOT NULL DEFAULT 'app' CHECK (channel IN ('app', 'window', 'kiosk'));
ALTER TABLE certificates ADD COLUMN station_code TEXT;
ALTER TABLE certificates ADD COLUMN issued_by TEXT;
ALTER TABLE certificates ADD COLUMN method TEXT;
ALTER TABLE certificates ADD COLUMN document_type TEXT;
ALTER TABLE certificates ADD COLUMN supersede_reason TEXT;
ALTER TABLE certificates ADD COLUMN slip TEXT;
CREATE INDEX certificates_by_issuer ON certificates (issued_by, issued_at);

-- Kiosk slips and kiosk face checks belong to this one account row, as a
-- certificate and a face check must (the foreign keys stay; SQLite could
-- only drop a NOT NULL by rebuilding the tables). The terminal is recorded
-- in issued_by and in the face check's session_id. The row can never log
-- in: a username sign-up refuses, no password hash, disabled. A window
-- slip belongs to the officer's account, and its face_check_id is
-- 'none:' and the certificate's id (unique, and no face check has it).
INSERT INTO accounts (id, username, password_hash, role, created_at, disabled_at)
VALUES ('00000000000000000000000000000001', '(kiosk)', '', 'passenger', 0, 0);
