-- How many messages each mailing has in each status, kept by the database as messages are
-- written, so statistics read a few rows instead of counting a mailing's messages.
--
-- A mailing's count in a status is the sum of its rows here. Each statement that writes
-- messages adds, from a statement trigger, one row per (mailing, status) whose count it
-- changed, holding the change: a batch of 500 outcomes adds two rows, not 500 updates. Writers
-- only ever add rows, so concurrent senders and schedulers never wait for each other on a
-- counter row and cannot deadlock on one. Once a mailing has more than 32 rows, the statement
-- that adds to it folds them into one per status. One transaction at a time folds a mailing
-- (the others leave it be), and the rows other writers are adding meanwhile are invisible to
-- it, so folding waits for nobody.

CREATE TABLE message_counts (
    id          BIGSERIAL PRIMARY KEY,
    mailing_id  BIGINT NOT NULL,
    status      TEXT NOT NULL,
    -- How many messages, or by how much the count changed.
    messages    BIGINT NOT NULL
);
CREATE INDEX message_counts_mailing_id_idx ON message_counts (mailing_id);

-- Folds a mailing's rows into one per status if they piled up and nobody else is folding it.
CREATE FUNCTION message_counts_fold(mailing BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT FROM message_counts WHERE mailing_id = mailing LIMIT 33) AS piled) > 32
       -- A lock of this transaction, so a second folder skips the mailing instead of waiting
       -- to delete rows this one deletes. Ids that share a hash share the lock, which only
       -- means one of them is folded later.
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

-- Adds what one statement on messages changed: the rows it inserted, deleted, or moved from
-- one status to another (an update that changes no status adds nothing).
CREATE FUNCTION message_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER messages_count_inserts AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_counts_add();
CREATE TRIGGER messages_count_updates AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_counts_add();
CREATE TRIGGER messages_count_deletes AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_counts_add();

-- Empties the table the trigger names along with the one it is on.
CREATE FUNCTION truncate_along() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('TRUNCATE %I', TG_ARGV[0]);
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_truncate_counts AFTER TRUNCATE ON messages
    FOR EACH STATEMENT EXECUTE FUNCTION truncate_along('message_counts');

-- The messages already there. Creating the triggers above locked messages against writes until
-- this migration commits, so nothing is counted twice or missed.
INSERT INTO message_counts (mailing_id, status, messages)
SELECT mailing_id, status, count(*) FROM messages GROUP BY mailing_id, status;

-- Statistics were this index's only reader; the unique (mailing_id, client_id) index serves
-- the lookups of a mailing's messages.
DROP INDEX messages_mailing_status_idx;
