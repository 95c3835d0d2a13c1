-- The daily statistics report: one row per day reported on, which makes its e-mail go out once
-- however many schedulers run, and the circuit breakers' trips, which the report counts.

-- A scheduler claims the day's row for a lease before it sends, and marks it sent after the
-- SMTP server took the message; a failed attempt sets the next one's time. A manual send
-- (POST /api/v1/reports/daily/send) marks the day sent too, if it was not.
CREATE TABLE daily_reports (
    -- The day reported on, in the report's time zone, as YYYY-MM-DD.
    report_date      TEXT PRIMARY KEY
                     CONSTRAINT daily_reports_report_date_format
                     CHECK (report_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
    time_zone        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0
                     CONSTRAINT daily_reports_attempts_nonnegative CHECK (attempts >= 0),
    -- Who holds the sending, until when: another scheduler waits for the lease to run out.
    claimed_by       TEXT NULL,
    claimed_until    TIMESTAMPTZ NULL,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    last_error       TEXT NULL,
    sent_at          TIMESTAMPTZ NULL,
    -- Whom it went to and the Message-ID it carried, once sent.
    recipients       TEXT NULL,
    message_id       TEXT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT daily_reports_claim_whole CHECK ((claimed_by IS NULL) = (claimed_until IS NULL)),
    CONSTRAINT daily_reports_sent_whole
        CHECK ((sent_at IS NULL) = (recipients IS NULL) AND (sent_at IS NULL) = (message_id IS NULL)),
    CONSTRAINT daily_reports_sent_unclaimed CHECK (sent_at IS NULL OR claimed_by IS NULL)
);

-- Each time a sender's circuit breaker stopped attempts, and why.
CREATE TABLE breaker_trips (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    reason  TEXT NOT NULL
            CONSTRAINT breaker_trips_reason_known CHECK (reason IN ('provider_failing', 'token_rejected'))
);
CREATE INDEX breaker_trips_at_idx ON breaker_trips (at);

-- The report finds a day's pauses by when they began.
CREATE INDEX mailing_pauses_paused_at_idx ON mailing_pauses (paused_at);
