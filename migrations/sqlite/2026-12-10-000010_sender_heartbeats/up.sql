-- The SQLite twin of migrations/postgres/2026-12-10-000010_sender_heartbeats: one row per live
-- sender, among which MAILING_SENDER_RATE_LIMIT is shared (the embedded setup has one).

CREATE TABLE sender_heartbeats (
    sender_id   INTEGER PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    rate_limit  INTEGER NOT NULL CONSTRAINT sender_heartbeats_rate_limit_nonnegative CHECK (rate_limit >= 0),
    started_at  TEXT NOT NULL,
    beat_at     TEXT NOT NULL
);
