-- The SQLite twin of migrations/postgres/2026-11-27-000002_delivery_pipeline.

CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    payload        TEXT NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    -- A relay holds an event until then; after it, another relay may publish it.
    claimed_until  TEXT NULL,
    published_at   TEXT NULL
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

ALTER TABLE mailings ADD COLUMN expanded_at TEXT NULL;
CREATE INDEX mailings_to_expand_idx ON mailings (start_at)
    WHERE expanded_at IS NULL AND cancelled_at IS NULL AND deleted_at IS NULL;

-- SQLite cannot add a CHECK to an existing table, so messages is rebuilt with the new columns
-- (expires_at: the last instant of delivery; queued_at: when a scheduler handed it to a sender)
-- and the rule "queued exactly when claimed". Nothing refers to messages, so no reference breaks.
CREATE TABLE messages_rebuilt (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    mailing_id       INTEGER NOT NULL REFERENCES mailings (id) ON DELETE CASCADE,
    client_id        INTEGER NULL REFERENCES clients (id) ON DELETE SET NULL,
    status           TEXT NOT NULL DEFAULT 'scheduled' CONSTRAINT messages_status_known CHECK (
                         status IN ('scheduled', 'queued', 'sent', 'retrying', 'failed', 'expired', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0 CONSTRAINT messages_attempts_nonnegative CHECK (attempts >= 0),
    last_error       TEXT NULL,
    next_attempt_at  TEXT NULL,
    sent_at          TEXT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    expires_at       TEXT NULL,
    queued_at        TEXT NULL,
    CONSTRAINT messages_mailing_client_key UNIQUE (mailing_id, client_id),
    CONSTRAINT messages_sent_at_when_sent CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT messages_queued_at_when_queued CHECK ((status = 'queued') = (queued_at IS NOT NULL))
);
INSERT INTO messages_rebuilt (id, mailing_id, client_id, status, attempts, last_error,
                              next_attempt_at, sent_at, created_at, updated_at)
    SELECT id, mailing_id, client_id, status, attempts, last_error, next_attempt_at, sent_at,
           created_at, updated_at
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
CREATE INDEX messages_mailing_status_idx ON messages (mailing_id, status);
CREATE INDEX messages_due_idx ON messages (next_attempt_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX messages_client_id_idx ON messages (client_id);
CREATE INDEX messages_expiry_idx ON messages (expires_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX messages_claimed_idx ON messages (queued_at) WHERE status = 'queued';
