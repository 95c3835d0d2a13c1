-- Personalised text: each message keeps the text its first attempt sent, with the encoding and
-- the paid SMS parts it took; statistics add those parts up; an operator may have a price per
-- part, for cost estimates.

-- Set together by the attempt that first sends the message, and kept for later attempts, so
-- what the provider received is what the message shows. Adding nullable columns without a
-- default is instant, however many messages there are.
ALTER TABLE messages
    ADD COLUMN text TEXT,
    ADD COLUMN encoding TEXT CONSTRAINT messages_encoding_known CHECK (encoding IN ('gsm7', 'ucs2')),
    ADD COLUMN segments INTEGER CONSTRAINT messages_segments_positive CHECK (segments >= 1),
    ADD CONSTRAINT messages_text_counted CHECK (
        (text IS NULL) = (encoding IS NULL) AND (text IS NULL) = (segments IS NULL));

-- An operator's price of one SMS part, in millionths of the currency unit.
ALTER TABLE operators ADD COLUMN price_per_segment_micros BIGINT
    CONSTRAINT operators_price_nonnegative CHECK (price_per_segment_micros >= 0);

-- The parts a mailing's messages in a status took, kept beside their count.
ALTER TABLE message_counts ADD COLUMN segments BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION message_counts_fold(mailing BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT FROM message_counts WHERE mailing_id = mailing LIMIT 33) AS piled) > 32
       AND pg_try_advisory_xact_lock(1835233908, hashint8(mailing))
    THEN
        WITH folded AS (
            DELETE FROM message_counts WHERE mailing_id = mailing
            RETURNING status, messages, segments
        )
        INSERT INTO message_counts (mailing_id, status, messages, segments)
        SELECT mailing, status, sum(messages), sum(segments) FROM folded GROUP BY status
        HAVING sum(messages) <> 0 OR sum(segments) <> 0;
    END IF;
END
$$;

-- As before, and a statement that sets or clears messages' parts adds that change too.
CREATE OR REPLACE FUNCTION message_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched BIGINT[];
    mailing BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH added AS (
            INSERT INTO message_counts (mailing_id, status, messages, segments)
            SELECT mailing_id, status, count(*), coalesce(sum(segments), 0)
            FROM new_rows GROUP BY mailing_id, status
            RETURNING mailing_id
        )
        SELECT array_agg(DISTINCT mailing_id) INTO touched FROM added;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH added AS (
            INSERT INTO message_counts (mailing_id, status, messages, segments)
            SELECT mailing_id, status, sum(change), sum(parts)
            FROM (SELECT mailing_id, status, 1 AS change, coalesce(segments, 0) AS parts
                  FROM new_rows
                  UNION ALL
                  SELECT mailing_id, status, -1 AS change, -coalesce(segments, 0) AS parts
                  FROM old_rows) AS changes
            GROUP BY mailing_id, status
            HAVING sum(change) <> 0 OR sum(parts) <> 0
            RETURNING mailing_id
        )
        SELECT array_agg(DISTINCT mailing_id) INTO touched FROM added;
    ELSE
        WITH added AS (
            INSERT INTO message_counts (mailing_id, status, messages, segments)
            SELECT mailing_id, status, -count(*), -coalesce(sum(segments), 0)
            FROM old_rows GROUP BY mailing_id, status
            RETURNING mailing_id
        )
        SELECT array_agg(DISTINCT mailing_id) INTO touched FROM added;
    END IF;
    FOREACH mailing IN ARRAY coalesce(touched, '{}') LOOP
        PERFORM message_counts_fold(mailing);
    END LOOP;
    RETURN NULL;
END
$$;
