-- The SQLite twin of migrations/postgres/2026-12-13-000016_daily_reports: one row per day
-- reported on, and the circuit breakers' trips.

CREATE TABLE daily_reports (
    report_date      TEXT PRIMARY KEY NOT NULL
                     CONSTRAINT daily_reports_report_date_format
                     CHECK (report_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    time_zone        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0
                     CONSTRAINT daily_reports_attempts_nonnegative CHECK (attempts >= 0),
    claimed_by       TEXT NULL,
    claimed_until    TEXT NULL,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT NULL,
    sent_at          TEXT NULL,
    recipients       TEXT NULL,
    message_id       TEXT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT daily_reports_claim_whole CHECK ((claimed_by IS NULL) = (claimed_until IS NULL)),
    CONSTRAINT daily_reports_sent_whole
        CHECK ((sent_at IS NULL) = (recipients IS NULL) AND (sent_at IS NULL) = (message_id IS NULL)),
    CONSTRAINT daily_reports_sent_unclaimed CHECK (sent_at IS NULL OR claimed_by IS NULL)
);

CREATE TABLE breaker_trips (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    reason  TEXT NOT NULL
            CONSTRAINT breaker_trips_reason_known CHECK (reason IN ('provider_failing', 'token_rejected'))
);
CREATE INDEX breaker_trips_at_idx ON breaker_trips (at);

CREATE INDEX mailing_pauses_paused_at_idx ON mailing_pauses (paused_at);
