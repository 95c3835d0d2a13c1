-- A message's references to its mailing and its client, checked once per statement instead of
-- once per row. The foreign keys ran a lookup and a row lock for every message inserted: half
-- the work of expanding a mailing into a million messages. These triggers keep their rules:
--
-- * a new message belongs to a mailing and (if any) a client that exist;
-- * a message never moves to another mailing or client; it loses its client only when the
--   client is deleted;
-- * deleting (or truncating) mailings deletes their messages;
-- * deleting a client cancels its unsent messages and clears the link of all of them, so its
--   delivered messages keep their history without it;
-- * the id of a mailing or a client never changes.
--
-- As with the foreign keys, a mailing being deleted and messages being inserted for it wait
-- for one another: the insert holds the mailing with FOR KEY SHARE until it commits. For
-- clients, holding every referenced row would again cost a lock per message, so inserting
-- messages and deleting clients exclude each other as a whole instead (an advisory lock,
-- shared by inserts, exclusive for deletes): a client delete waits for the message inserts in
-- progress, and an insert checks its clients only once no delete is in progress.

ALTER TABLE messages DROP CONSTRAINT messages_mailing_id_fkey,
                     DROP CONSTRAINT messages_client_id_fkey;

CREATE FUNCTION messages_check_references() RETURNS trigger LANGUAGE plpgsql
-- Enough memory to check a million references in one hash.
SET work_mem = '64MB'
AS $$
DECLARE
    referenced BIGINT[];
    missing_clients BIGINT;
    held BIGINT;
BEGIN
    -- Before the clients are read: a client delete in progress is waited for, and one that
    -- starts now waits for this transaction.
    PERFORM pg_advisory_xact_lock_shared(1836213606, 0);
    -- One pass over the new rows for both references.
    SELECT array_agg(mailing_id), sum(missing) INTO referenced, missing_clients
    FROM (SELECT n.mailing_id,
                 count(*) FILTER (WHERE n.client_id IS NOT NULL AND c.id IS NULL) AS missing
          FROM new_rows n LEFT JOIN clients c ON c.id = n.client_id
          GROUP BY n.mailing_id) AS per_mailing;
    IF referenced IS NULL THEN
        RETURN NULL; -- the statement inserted nothing
    END IF;
    IF missing_clients > 0 THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert on table "messages" violates its reference to "clients"',
            CONSTRAINT = 'messages_client_id_fkey', TABLE = 'messages';
    END IF;
    -- As a foreign key does: a delete of the mailing waits until this transaction ends, or it
    -- committed first and the mailing is missing here.
    SELECT count(*) INTO held
    FROM (SELECT FROM mailings WHERE id = ANY(referenced) FOR KEY SHARE) AS locked;
    IF held < cardinality(referenced) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert on table "messages" violates its reference to "mailings"',
            CONSTRAINT = 'messages_mailing_id_fkey', TABLE = 'messages';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_check_references AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION messages_check_references();

CREATE FUNCTION messages_keep_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING
        MESSAGE = 'a message keeps its mailing and its client',
        CONSTRAINT = CASE WHEN NEW.mailing_id <> OLD.mailing_id THEN 'messages_mailing_id_fkey'
                          ELSE 'messages_client_id_fkey' END,
        TABLE = 'messages';
END
$$;
CREATE TRIGGER messages_keep_references BEFORE UPDATE OF mailing_id, client_id ON messages
    FOR EACH ROW
    WHEN (NEW.mailing_id <> OLD.mailing_id
          OR (NEW.client_id IS NOT NULL AND NEW.client_id IS DISTINCT FROM OLD.client_id))
    EXECUTE FUNCTION messages_keep_references();

CREATE FUNCTION mailings_delete_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages WHERE mailing_id IN (SELECT id FROM old_rows);
    DELETE FROM message_counts WHERE mailing_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END
$$;
CREATE TRIGGER mailings_delete_messages AFTER DELETE ON mailings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailings_delete_messages();

CREATE TRIGGER mailings_truncate_messages AFTER TRUNCATE ON mailings
    FOR EACH STATEMENT EXECUTE FUNCTION truncate_along('messages');

CREATE FUNCTION clients_hold_against_new_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1836213606, 0);
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_hold_against_new_messages BEFORE DELETE OR TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION clients_hold_against_new_messages();

-- The messages of deleted clients: unsent ones are cancelled, and none keeps the link.
CREATE FUNCTION clients_release_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE messages SET status = 'cancelled', queued_at = NULL, claim_renewed_at = NULL,
                            updated_at = now()
        WHERE client_id IS NOT NULL AND status IN ('scheduled', 'queued', 'retrying');
        UPDATE messages SET client_id = NULL WHERE client_id IS NOT NULL;
    ELSE
        UPDATE messages SET status = 'cancelled', queued_at = NULL, claim_renewed_at = NULL,
                            updated_at = now()
        WHERE client_id IN (SELECT id FROM old_rows) AND status IN ('scheduled', 'queued', 'retrying');
        UPDATE messages SET client_id = NULL WHERE client_id IN (SELECT id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_release_messages AFTER DELETE ON clients
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION clients_release_messages();
CREATE TRIGGER clients_release_messages_on_truncate AFTER TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION clients_release_messages();

CREATE FUNCTION refuse_id_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING
        MESSAGE = format('the id of a row of "%s" never changes', TG_TABLE_NAME),
        TABLE = TG_TABLE_NAME;
END
$$;
CREATE TRIGGER mailings_keep_id BEFORE UPDATE OF id ON mailings
    FOR EACH ROW WHEN (NEW.id <> OLD.id) EXECUTE FUNCTION refuse_id_change();
CREATE TRIGGER clients_keep_id BEFORE UPDATE OF id ON clients
    FOR EACH ROW WHEN (NEW.id <> OLD.id) EXECUTE FUNCTION refuse_id_change();
