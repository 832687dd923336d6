-- tempid schema, PostgreSQL dialect. Times are Unix milliseconds; identifiers
-- are random 128-bit values in lowercase hex. Personal data is sealed
-- (pii package) with the row's identity as associated data.

CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('passenger', 'staff', 'admin')),
    station_code   TEXT,
    name_ct        BYTEA,
    id_number_ct   BYTEA,
    id_index       BYTEA,
    name_masked    TEXT NOT NULL DEFAULT '',
    id_masked      TEXT NOT NULL DEFAULT '',
    phone_ct       BYTEA,
    created_at     BIGINT NOT NULL,
    disabled_at    BIGINT
);
CREATE INDEX accounts_by_id_index ON accounts (id_index);

CREATE TABLE sessions (
    token_hash  BYTEA PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_by_account ON sessions (account_id);

CREATE TABLE terminals (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    station_code  TEXT NOT NULL,
    offline       BOOLEAN NOT NULL,
    key_hash      BYTEA NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE throttle_events (
    scope  TEXT NOT NULL,
    key    BYTEA NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX throttle_events_by_key ON throttle_events (scope, key, at);

CREATE TABLE face_checks (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    session_id       TEXT NOT NULL,
    purpose          TEXT NOT NULL CHECK (purpose IN ('apply', 'view')),
    subject_index    BYTEA NOT NULL,
    name_index       BYTEA NOT NULL,
    name_masked      TEXT NOT NULL,
    certificate_id   TEXT,
    device_key       BYTEA NOT NULL,
    device_key_hash  BYTEA NOT NULL,
    provider         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'passed', 'failed')),
    reason           TEXT,
    score            DOUBLE PRECISION,
    provider_ref     TEXT,
    consent_at       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    completed_at     BIGINT,
    used_at          BIGINT
);
CREATE INDEX face_checks_by_subject ON face_checks (subject_index, completed_at);

CREATE TABLE holders (
    id_index  BYTEA PRIMARY KEY,
    version   BIGINT NOT NULL
);

CREATE TABLE certificates (
    id             TEXT PRIMARY KEY,
    holder_index   BYTEA NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    face_check_id  TEXT NOT NULL UNIQUE,
    name_ct        BYTEA,
    id_number_ct   BYTEA,
    name_masked    TEXT NOT NULL,
    id_masked      TEXT NOT NULL,
    city_code      TEXT NOT NULL,
    issued_at      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    status_at      BIGINT NOT NULL,
    superseded_by  TEXT,
    revoke_reason  TEXT,
    purged_at      BIGINT
);
CREATE INDEX certificates_by_holder ON certificates (holder_index, issued_at);
CREATE INDEX certificates_by_account ON certificates (account_id, issued_at);
CREATE INDEX certificates_by_expiry ON certificates (expires_at);

CREATE TABLE passes (
    id               TEXT PRIMARY KEY,
    certificate_id   TEXT NOT NULL REFERENCES certificates (id),
    face_check_id    TEXT NOT NULL UNIQUE,
    session_id       TEXT NOT NULL,
    device_key_hash  BYTEA NOT NULL,
    issuer_kid       TEXT NOT NULL,
    not_before       BIGINT NOT NULL,
    not_after        BIGINT NOT NULL,
    issued_at        BIGINT NOT NULL
);
CREATE INDEX passes_by_session ON passes (session_id);
CREATE INDEX passes_by_certificate ON passes (certificate_id);

CREATE TABLE revoked_devices (
    device_key_hash  BYTEA PRIMARY KEY,
    revoked_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);

CREATE TABLE code_claims (
    certificate_id  TEXT NOT NULL,
    step            BIGINT NOT NULL,
    verifier        TEXT NOT NULL,
    PRIMARY KEY (certificate_id, step)
);

CREATE TABLE code_uses (
    certificate_id  TEXT NOT NULL,
    step            BIGINT NOT NULL,
    operation       TEXT NOT NULL,
    PRIMARY KEY (certificate_id, step, operation)
);

CREATE TABLE verifications (
    id              TEXT PRIMARY KEY,
    certificate_id  TEXT,
    step            BIGINT,
    operation       TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    station_code    TEXT,
    verdict         TEXT NOT NULL,
    reason          TEXT,
    replay          BOOLEAN NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX verifications_by_time ON verifications (at);

CREATE TABLE issuer_keys (
    id          TEXT PRIMARY KEY,
    kid         TEXT NOT NULL,
    public_key  BYTEA NOT NULL,
    private_ct  BYTEA NOT NULL,
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE seal_keys (
    kid         INTEGER PRIMARY KEY,
    key_ct      BYTEA NOT NULL,
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    detail  TEXT NOT NULL
);

CREATE TABLE audit_pending (
    event_id  BIGINT PRIMARY KEY
);

CREATE TABLE audit_chain (
    seq        BIGINT PRIMARY KEY,
    event_id   BIGINT NOT NULL UNIQUE,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    sealed_at  BIGINT NOT NULL
);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
