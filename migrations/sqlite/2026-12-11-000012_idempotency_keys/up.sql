-- The SQLite twin of migrations/postgres/2026-12-11-000012_idempotency_keys: the stored answers
-- of POSTs sent with an `Idempotency-Key` header, one row per account and key.

CREATE TABLE idempotency_keys (
    account        TEXT NOT NULL,
    key            TEXT NOT NULL CONSTRAINT idempotency_keys_key_length
                   CHECK (length(key) BETWEEN 1 AND 255),
    request_hash   TEXT NOT NULL CONSTRAINT idempotency_keys_request_hash_format
                   CHECK (length(request_hash) = 64),
    created_at     TEXT NOT NULL,
    completed_at   TEXT NULL,
    status_code    INTEGER NULL CONSTRAINT idempotency_keys_status_code_range
                   CHECK (status_code BETWEEN 100 AND 599),
    content_type   TEXT NULL,
    location       TEXT NULL,
    response_body  BLOB NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (account, key),
    CONSTRAINT idempotency_keys_completed_answer CHECK (
        (completed_at IS NULL AND status_code IS NULL AND content_type IS NULL
            AND location IS NULL AND response_body IS NULL)
        OR (completed_at IS NOT NULL AND status_code IS NOT NULL AND response_body IS NOT NULL))
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
