DROP TRIGGER messages_count_inserts;
DROP TRIGGER messages_count_updates;
DROP TRIGGER messages_count_deletes;

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

ALTER TABLE message_counts DROP COLUMN segments;
ALTER TABLE operators DROP COLUMN price_per_segment_micros;
ALTER TABLE messages DROP COLUMN segments;
ALTER TABLE messages DROP COLUMN encoding;
ALTER TABLE messages DROP COLUMN text;
