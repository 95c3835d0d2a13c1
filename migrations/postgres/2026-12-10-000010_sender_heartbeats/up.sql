-- One row per live sender: the senders share MAILING_SENDER_RATE_LIMIT among those whose last
-- beat is younger than their lease (see docs/operations.md, "Provider rate limit"). Times are
-- the database's clock, so the hosts' clocks need not agree. A handful of rows at most: no index.
CREATE TABLE sender_heartbeats (
    -- Picked at random by the sender when it starts.
    sender_id   BIGINT PRIMARY KEY,
    -- For operators: where the sender runs.
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    -- The deployment-wide limit it runs with, requests per second.
    rate_limit  INTEGER NOT NULL CONSTRAINT sender_heartbeats_rate_limit_nonnegative CHECK (rate_limit >= 0),
    started_at  TIMESTAMPTZ NOT NULL,
    beat_at     TIMESTAMPTZ NOT NULL
);
