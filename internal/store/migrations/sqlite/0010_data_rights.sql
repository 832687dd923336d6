-- The passenger's own data (SPEC "Data protection and audit", data-subject
-- rights): saved travellers, the face-recognition consent and its
-- withdrawal, and deleted accounts.

-- Saved travellers (常用乘车人) of an account: the people it applies for
-- as a companion. Name and ID number are sealed with the row's identity as
-- associated data (traveller.name:<id>, traveller.id_number:<id>) and the
-- ID number is found through the blind index, as everywhere else; one
-- person is saved once per account.
CREATE TABLE travellers (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    name_ct       BLOB NOT NULL,
    id_number_ct  BLOB NOT NULL,
    id_index      BLOB NOT NULL,
    name_masked   TEXT NOT NULL,
    id_masked     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (account_id, id_index)
);

-- An account's consents. A consent is given when the account starts a face
-- check with consent (one row while it stands) and withdrawn by the
-- passenger; the rows stay as the record of what the checks made under
-- them were based on. They hold no personal data beyond the account.
CREATE TABLE consents (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    purpose       TEXT NOT NULL CHECK (purpose IN ('face_recognition')),
    given_at      INTEGER NOT NULL,
    withdrawn_at  INTEGER
);
CREATE INDEX consents_by_account ON consents (account_id, given_at);

-- When an account was deleted by its passenger: its sealed identity, blind
-- index, phone, masked identity and username are erased then, and it can
-- never log in again.
ALTER TABLE accounts ADD COLUMN deleted_at INTEGER;
