-- Retries without issuing twice (API.md): a request's Idempotency-Key,
-- the hash of the request, the lease of the request running under it and,
-- once its write committed, the answer, recorded in the write's own
-- transaction. Kept 24 hours (PurgeIdempotencyKeys).
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    token         TEXT NOT NULL,
    lease_until   BIGINT NOT NULL,
    status        INTEGER,
    body          BYTEA,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The readiness probe's write: one row per node, rewritten at most once
-- a second.
CREATE TABLE write_probes (
    node  TEXT PRIMARY KEY,
    at    BIGINT NOT NULL
);
