DROP INDEX messages_claimed_idx;
DROP INDEX messages_expiry_idx;
-- Dropping the columns also needs a rebuild for the CHECK that names queued_at.
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
    CONSTRAINT messages_mailing_client_key UNIQUE (mailing_id, client_id),
    CONSTRAINT messages_sent_at_when_sent CHECK ((status = 'sent') = (sent_at IS NOT NULL))
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
DROP INDEX mailings_to_expand_idx;
ALTER TABLE mailings DROP COLUMN expanded_at;
DROP TABLE outbox;
