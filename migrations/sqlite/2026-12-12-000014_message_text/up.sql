-- The SQLite twin of migrations/postgres/2026-12-12-000014_message_text: the text each message's
-- first attempt sent with its encoding and parts, parts added up beside the counts, and an
-- operator's price per part.

ALTER TABLE messages ADD COLUMN text TEXT NULL;
ALTER TABLE messages ADD COLUMN encoding TEXT NULL
    CONSTRAINT messages_encoding_known CHECK (encoding IN ('gsm7', 'ucs2'));
ALTER TABLE messages ADD COLUMN segments INTEGER NULL
    CONSTRAINT messages_text_counted CHECK (
        (segments IS NULL OR segments >= 1)
        AND (text IS NULL) = (encoding IS NULL) AND (text IS NULL) = (segments IS NULL));

ALTER TABLE operators ADD COLUMN price_per_segment_micros INTEGER NULL
    CONSTRAINT operators_price_nonnegative CHECK (price_per_segment_micros >= 0);

ALTER TABLE message_counts ADD COLUMN segments INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER messages_count_inserts;
DROP TRIGGER messages_count_updates;
DROP TRIGGER messages_count_deletes;

CREATE TRIGGER messages_count_inserts AFTER INSERT ON messages
BEGIN
    INSERT INTO message_counts (mailing_id, status, messages, segments)
    VALUES (NEW.mailing_id, NEW.status, 1, coalesce(NEW.segments, 0))
    ON CONFLICT (mailing_id, status) DO UPDATE
        SET messages = messages + 1, segments = segments + excluded.segments;
END;

CREATE TRIGGER messages_count_updates AFTER UPDATE OF mailing_id, status, segments ON messages
WHEN NEW.mailing_id IS NOT OLD.mailing_id OR NEW.status IS NOT OLD.status
     OR NEW.segments IS NOT OLD.segments
BEGIN
    UPDATE message_counts
    SET messages = messages - 1, segments = segments - coalesce(OLD.segments, 0)
    WHERE mailing_id = OLD.mailing_id AND status = OLD.status;
    INSERT INTO message_counts (mailing_id, status, messages, segments)
    VALUES (NEW.mailing_id, NEW.status, 1, coalesce(NEW.segments, 0))
    ON CONFLICT (mailing_id, status) DO UPDATE
        SET messages = messages + 1, segments = segments + excluded.segments;
END;

CREATE TRIGGER messages_count_deletes AFTER DELETE ON messages
BEGIN
    UPDATE message_counts
    SET messages = messages - 1, segments = segments - coalesce(OLD.segments, 0)
    WHERE mailing_id = OLD.mailing_id AND status = OLD.status;
END;
