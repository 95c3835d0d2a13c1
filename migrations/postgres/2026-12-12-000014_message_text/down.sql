CREATE OR REPLACE FUNCTION message_counts_fold(mailing BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT FROM message_counts WHERE mailing_id = mailing LIMIT 33) AS piled) > 32
       AND pg_try_advisory_xact_lock(1835233908, hashint8(mailing))
    THEN
        WITH folded AS (
            DELETE FROM message_counts WHERE mailing_id = mailing RETURNING status, messages
        )
        INSERT INTO message_counts (mailing_id, status, messages)
        SELECT mailing, status, sum(messages) FROM folded GROUP BY status HAVING sum(messages) <> 0;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION message_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched BIGINT[];
    mailing BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH added AS (
            INSERT INTO message_counts (mailing_id, status, messages)
            SELECT mailing_id, status, count(*) FROM new_rows GROUP BY mailing_id, status
            RETURNING mailing_id
        )
        SELECT array_agg(DISTINCT mailing_id) INTO touched FROM added;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH added AS (
            INSERT INTO message_counts (mailing_id, status, messages)
            SELECT mailing_id, status, sum(change)
            FROM (SELECT mailing_id, status, 1 AS change FROM new_rows
                  UNION ALL
                  SELECT mailing_id, status, -1 AS change FROM old_rows) AS changes
            GROUP BY mailing_id, status
            HAVING sum(change) <> 0
            RETURNING mailing_id
        )
        SELECT array_agg(DISTINCT mailing_id) INTO touched FROM added;
    ELSE
        WITH added AS (
            INSERT INTO message_counts (mailing_id, status, messages)
            SELECT mailing_id, status, -count(*) FROM old_rows GROUP BY mailing_id, status
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

-- Rows that only carried parts fold away with them.
DELETE FROM message_counts WHERE messages = 0;
ALTER TABLE message_counts DROP COLUMN segments;
ALTER TABLE operators DROP COLUMN price_per_segment_micros;
ALTER TABLE messages DROP CONSTRAINT messages_text_counted,
    DROP COLUMN segments, DROP COLUMN encoding, DROP COLUMN text;
