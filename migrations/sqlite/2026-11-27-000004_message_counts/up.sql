-- The SQLite twin of migrations/postgres/2026-11-27-000004_message_counts: how many messages
-- each mailing has in each status, kept by triggers as messages are written. SQLite has one
-- writer and no statement triggers, so here each (mailing, status) has a single row that row
-- triggers add to and take from; reading sums the rows all the same.

CREATE TABLE message_counts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    mailing_id  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    messages    INTEGER NOT NULL,
    CONSTRAINT message_counts_mailing_status_key UNIQUE (mailing_id, status)
);

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

-- A deleted mailing's messages go with it (ON DELETE CASCADE), and so do its counts.
CREATE TRIGGER mailings_delete_counts AFTER DELETE ON mailings
BEGIN
    DELETE FROM message_counts WHERE mailing_id = OLD.id;
END;

INSERT INTO message_counts (mailing_id, status, messages)
SELECT mailing_id, status, count(*) FROM messages GROUP BY mailing_id, status;

DROP INDEX messages_mailing_status_idx;
