-- tempid schema, SQLite dialect. Times are Unix milliseconds; identifiers
-- are random 128-bit values in lowercase hex. Personal data is sealed
-- (pii package) with the row's identity as associated data.

CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('passenger', 'staff', 'admin')),
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
CREATE INDEX accounts_by_id_index ON accounts (id_index);

CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
CREATE INDEX sessions_by_account ON sessions (account_id);

CREATE TABLE terminals (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    station_code  TEXT NOT NULL,
    offline       BOOLEAN NOT NULL,
    key_hash      BLOB NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE throttle_events (
    scope  TEXT NOT NULL,
    key    BLOB NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX throttle_events_by_key ON throttle_events (scope, key, at);

CREATE TABLE face_checks (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    session_id       TEXT NOT NULL,
    purpose          TEXT NOT NULL CHECK (purpose IN ('apply', 'view')),
    subject_index    BLOB NOT NULL,
    name_index       BLOB NOT NULL,
    name_masked      TEXT NOT NULL,
    certificate_id   TEXT,
    device_key       BLOB NOT NULL,
    device_key_hash  BLOB NOT NULL,
    provider         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'passed', 'failed')),
    reason           TEXT,
    score            REAL,
    provider_ref     TEXT,
    consent_at       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    completed_at     INTEGER,
    used_at          INTEGER
);
CREATE INDEX face_checks_by_subject ON face_checks (subject_index, completed_at);

CREATE TABLE holders (
    id_index  BLOB PRIMARY KEY,
    version   INTEGER NOT NULL
);

CREATE TABLE certificates (
    id             TEXT PRIMARY KEY,
    holder_index   BLOB NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    face_check_id  TEXT NOT NULL UNIQUE,
    name_ct        BLOB,
    id_number_ct   BLOB,
    name_masked    TEXT NOT NULL,
    id_masked      TEXT NOT NULL,
    city_code      TEXT NOT NULL,
    issued_at      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    status_at      INTEGER NOT NULL,
    superseded_by  TEXT,
    revoke_reason  TEXT,
    purged_at      INTEGER
);
CREATE INDEX certificates_by_holder ON certificates (holder_index, issued_at);
CREATE INDEX certificates_by_account ON certificates (account_id, issued_at);
CREATE INDEX certificates_by_expiry ON certificates (expires_at);

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
CREATE INDEX passes_by_session ON passes (session_id);
CREATE INDEX passes_by_certificate ON passes (certificate_id);

CREATE TABLE revoked_devices (
    device_key_hash  BLOB PRIMARY KEY,
    revoked_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);

CREATE TABLE code_claims (
    certificate_id  TEXT NOT NULL,
    step            INTEGER NOT NULL,
    verifier        TEXT NOT NULL,
    PRIMARY KEY (certificate_id, step)
);

CREATE TABLE code_uses (
    certificate_id  TEXT NOT NULL,
    step            INTEGER NOT NULL,
    operation       TEXT NOT NULL,
    PRIMARY KEY (certificate_id, step, operation)
);

CREATE TABLE verifications (
    id              TEXT PRIMARY KEY,
    certificate_id  TEXT,
    step            INTEGER,
    operation       TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    station_code    TEXT,
    verdict         TEXT NOT NULL,
    reason          TEXT,
    replay          BOOLEAN NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX verifications_by_time ON verifications (at);

CREATE TABLE issuer_keys (
    id          TEXT PRIMARY KEY,
    kid         TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    private_ct  BLOB NOT NULL,
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE seal_keys (
    kid         INTEGER PRIMARY KEY,
    key_ct      BLOB NOT NULL,
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    detail  TEXT NOT NULL
);

CREATE TABLE audit_pending (
    event_id  INTEGER PRIMARY KEY
);

CREATE TABLE audit_chain (
    seq        INTEGER PRIMARY KEY,
    event_id   INTEGER NOT NULL UNIQUE,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    sealed_at  INTEGER NOT NULL
);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
