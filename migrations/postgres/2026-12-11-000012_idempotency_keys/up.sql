-- The answers of POSTs sent with an `Idempotency-Key` header: a retry of the same request with
-- the same key, from the same account, within the key's lifetime (24 h, the api decides) gets
-- the stored answer again instead of running twice. Any api replica reads the same row, and
-- the primary key decides which of two concurrent requests runs (INSERT ... ON CONFLICT DO
-- NOTHING): the other finds the row.
--
-- A row is in flight (completed_at NULL) while its request runs, then holds the answer. Answers
-- of 5xx and 429 are never stored: their row is deleted, so that a retry runs again.
-- The account is the token's subject, not a reference to users: a token outlives a renamed
-- account, and its keys must not fail with it.
CREATE TABLE idempotency_keys (
    account        TEXT NOT NULL,
    key            TEXT NOT NULL CONSTRAINT idempotency_keys_key_length
                   CHECK (length(key) BETWEEN 1 AND 255),
    -- Hex SHA-256 of the request's method, path with query, and body.
    request_hash   TEXT NOT NULL CONSTRAINT idempotency_keys_request_hash_format
                   CHECK (length(request_hash) = 64),
    -- When the request that holds the key began; the key's lifetime, and how long an answer
    -- may take before another request may take the key over, count from here.
    created_at     TIMESTAMPTZ NOT NULL,
    completed_at   TIMESTAMPTZ NULL,
    status_code    INTEGER NULL CONSTRAINT idempotency_keys_status_code_range
                   CHECK (status_code BETWEEN 100 AND 599),
    content_type   TEXT NULL,
    location       TEXT NULL,
    response_body  BYTEA NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (account, key),
    -- A completed row holds an answer; one in flight holds none.
    CONSTRAINT idempotency_keys_completed_answer CHECK (
        (completed_at IS NULL AND status_code IS NULL AND content_type IS NULL
            AND location IS NULL AND response_body IS NULL)
        OR (completed_at IS NOT NULL AND status_code IS NOT NULL AND response_body IS NOT NULL))
);
-- Purging the keys past their lifetime.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
