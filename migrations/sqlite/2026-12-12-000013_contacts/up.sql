-- The SQLite twin of migrations/postgres/2026-12-12-000013_contacts: client attributes that
-- filters can require, and the `suppressed` status of a message whose number opted out.

ALTER TABLE clients ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'
    CONSTRAINT clients_attributes_object CHECK (json_valid(attributes) AND json_type(attributes) = 'object');
ALTER TABLE client_filters ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'
    CONSTRAINT client_filters_attributes_object CHECK (json_valid(attributes) AND json_type(attributes) = 'object');
ALTER TABLE mailings ADD COLUMN filter_attributes TEXT NOT NULL DEFAULT '{}'
    CONSTRAINT mailings_filter_attributes_object CHECK (json_valid(filter_attributes) AND json_type(filter_attributes) = 'object');

-- SQLite cannot change a CHECK, so messages is rebuilt with `suppressed` among the statuses,
-- with its indexes and triggers as they were (see 2026-12-09-000009_message_history). The
-- clients triggers that name messages go first and come back last.
DROP TRIGGER clients_release_messages;
DROP TRIGGER clients_readdress_messages;

CREATE TABLE messages_rebuilt (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    mailing_id       INTEGER NOT NULL REFERENCES mailings (id) ON DELETE CASCADE,
    client_id        INTEGER NULL REFERENCES clients (id) ON DELETE SET NULL,
    status           TEXT NOT NULL DEFAULT 'scheduled' CONSTRAINT messages_status_known CHECK (
                         status IN ('scheduled', 'queued', 'sent', 'retrying', 'failed', 'expired', 'cancelled',
                                    'suppressed')),
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
    SELECT id, mailing_id, client_id, status, attempts, last_error, next_attempt_at, sent_at,
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

-- Numbers that must never be texted, whatever client or mailing names them. A number can opt
-- out before it is anybody's client; taking it back in deletes its row.
CREATE TABLE opt_outs (
    phone_number  TEXT PRIMARY KEY
                  CONSTRAINT opt_outs_phone_number_format CHECK (length(phone_number) = 11 AND phone_number GLOB '7[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    source        TEXT NOT NULL
                  CONSTRAINT opt_outs_source_known CHECK (source IN ('api', 'import', 'inbound', 'ui')),
    reason        TEXT NULL CONSTRAINT opt_outs_reason_length CHECK (length(reason) BETWEEN 1 AND 500),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);
-- The list shows the newest first.
CREATE INDEX opt_outs_created_at_idx ON opt_outs (created_at DESC, phone_number);
-- Opting a number out suppresses its waiting messages, which this finds without reading the
-- rest.
CREATE INDEX messages_waiting_phone_idx ON messages (phone_number) WHERE status IN ('scheduled', 'retrying');

-- Replies the provider forwarded, kept whatever they said.
CREATE TABLE inbound_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_number  TEXT NOT NULL
                  CONSTRAINT inbound_messages_phone_number_format CHECK (length(phone_number) = 11 AND phone_number GLOB '7[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    text          TEXT NOT NULL CONSTRAINT inbound_messages_text_length CHECK (length(text) <= 1600),
    -- What the reply did: opted the number out, back in, or nothing.
    action        TEXT NOT NULL
                  CONSTRAINT inbound_messages_action_known CHECK (action IN ('opt_out', 'opt_in', 'none')),
    received_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);
CREATE INDEX inbound_messages_phone_number_idx ON inbound_messages (phone_number, id);

-- CSV imports of clients or opt-outs: each one's options, progress and report. The report's
-- first rejections are kept whole; the counts cover every row.
CREATE TABLE imports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL CONSTRAINT imports_kind_known CHECK (kind IN ('clients', 'opt_outs')),
    mode         TEXT NOT NULL CONSTRAINT imports_mode_known CHECK (mode IN ('upsert', 'insert')),
    dry_run      BOOLEAN NOT NULL,
    status       TEXT NOT NULL DEFAULT 'running'
                 CONSTRAINT imports_status_known CHECK (status IN ('running', 'done', 'failed')),
    -- The file's size once known, and how much of it was read, for the progress.
    bytes_total  INTEGER NULL CONSTRAINT imports_bytes_total_nonnegative CHECK (bytes_total >= 0),
    bytes_read   INTEGER NOT NULL DEFAULT 0 CONSTRAINT imports_bytes_read_nonnegative CHECK (bytes_read >= 0),
    rows         INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    rejections   TEXT NOT NULL DEFAULT '[]' CONSTRAINT imports_rejections_array CHECK (json_valid(rejections) AND json_type(rejections) = 'array'),
    -- Why a failed import stopped.
    error        TEXT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    finished_at  TEXT NULL,
    CONSTRAINT imports_counts_nonnegative CHECK (
        rows >= 0 AND created >= 0 AND updated >= 0 AND unchanged >= 0 AND rejected >= 0),
    CONSTRAINT imports_finished_when_over CHECK ((status = 'running') = (finished_at IS NULL)),
    CONSTRAINT imports_error_when_failed CHECK ((status = 'failed') = (error IS NOT NULL))
);
