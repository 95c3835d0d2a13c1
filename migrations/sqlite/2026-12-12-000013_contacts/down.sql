DROP TABLE imports;
DROP TABLE inbound_messages;
DROP TABLE opt_outs;
-- Suppressed messages were never sent; undone, they read as cancelled, and are counted so.
INSERT INTO message_counts (mailing_id, status, messages)
    SELECT mailing_id, 'cancelled', messages FROM message_counts WHERE status = 'suppressed'
    ON CONFLICT (mailing_id, status) DO UPDATE SET messages = messages + excluded.messages;
DELETE FROM message_counts WHERE status = 'suppressed';
DROP TRIGGER clients_release_messages;
DROP TRIGGER clients_readdress_messages;

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
    claim_renewed_at TEXT NULL,
    phone_number     TEXT NULL,
    cap_held_at      TEXT NULL,
    CONSTRAINT messages_mailing_client_key UNIQUE (mailing_id, client_id),
    CONSTRAINT messages_sent_at_when_sent CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT messages_queued_at_when_queued CHECK ((status = 'queued') = (queued_at IS NOT NULL)),
    CONSTRAINT messages_phone_number_known CHECK (phone_number IS NOT NULL OR client_id IS NULL),
    CONSTRAINT messages_expired_with_reason CHECK (status <> 'expired' OR last_error IS NOT NULL)
);
-- Ids go on from where they were, as AUTOINCREMENT promises, even if the last ones are gone.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'messages_rebuilt', seq FROM sqlite_sequence WHERE name = 'messages';
INSERT INTO messages_rebuilt (id, mailing_id, client_id, status, attempts, last_error,
                              next_attempt_at, sent_at, created_at, updated_at, expires_at,
                              queued_at, claim_renewed_at, phone_number, cap_held_at)
    SELECT id, mailing_id, client_id,
           CASE WHEN status = 'suppressed' THEN 'cancelled' ELSE status END, attempts, last_error, next_attempt_at, sent_at,
           created_at, updated_at, expires_at, queued_at, claim_renewed_at, phone_number,
           cap_held_at
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;

CREATE INDEX messages_due_idx ON messages (next_attempt_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX messages_client_id_idx ON messages (client_id);
CREATE INDEX messages_expiry_idx ON messages (expires_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX messages_claimed_idx ON messages (queued_at) WHERE status = 'queued';
CREATE INDEX messages_mailing_id_idx ON messages (mailing_id);
CREATE INDEX messages_sent_idx ON messages (mailing_id, sent_at) WHERE status = 'sent';

CREATE TRIGGER messages_count_inserts AFTER INSERT ON messages
BEGIN
    INSERT INTO message_counts (mailing_id, status, messages)
    VALUES (NEW.mailing_id, NEW.status, 1)
    ON CONFLICT (mailing_id, status) DO UPDATE SET messages = messages + 1;
END;

CREATE TRIGGER messages_count_updates AFTER UPDATE OF mailing_id, status ON messages
WHEN NEW.mailing_id IS NOT OLD.mailing_id OR NEW.status IS NOT OLD.status
BEGIN
    UPDATE message_counts SET messages = messages - 1
    WHERE mailing_id = OLD.mailing_id AND status = OLD.status;
    INSERT INTO message_counts (mailing_id, status, messages)
    VALUES (NEW.mailing_id, NEW.status, 1)
    ON CONFLICT (mailing_id, status) DO UPDATE SET messages = messages + 1;
END;

CREATE TRIGGER messages_count_deletes AFTER DELETE ON messages
BEGIN
    UPDATE message_counts SET messages = messages - 1
    WHERE mailing_id = OLD.mailing_id AND status = OLD.status;
END;

CREATE TRIGGER messages_keep_references BEFORE UPDATE OF mailing_id, client_id ON messages
WHEN NEW.mailing_id IS NOT OLD.mailing_id
     OR (NEW.client_id IS NOT NULL AND NEW.client_id IS NOT OLD.client_id)
BEGIN
    SELECT RAISE(ABORT, 'a message keeps its mailing and its client');
END;

CREATE TRIGGER clients_release_messages BEFORE DELETE ON clients
BEGIN
    UPDATE messages SET status = 'cancelled', queued_at = NULL, claim_renewed_at = NULL,
                        updated_at = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
    WHERE client_id = OLD.id AND status IN ('scheduled', 'queued', 'retrying');
END;

-- A message not yet handed to a sender follows its client to a new number.
CREATE TRIGGER clients_readdress_messages AFTER UPDATE OF phone_number ON clients
WHEN NEW.phone_number IS NOT OLD.phone_number
BEGIN
    UPDATE messages SET phone_number = NEW.phone_number,
                        updated_at = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
    WHERE client_id = NEW.id AND status IN ('scheduled', 'retrying');
END;

ALTER TABLE mailings DROP COLUMN filter_attributes;
ALTER TABLE client_filters DROP COLUMN attributes;
ALTER TABLE clients DROP COLUMN attributes;
