-- The SQLite twin of migrations/postgres/2026-11-27-000005_message_references. SQLite keeps
-- its foreign keys (one writer, and a check costs little here); what moves into the database
-- on both backends is the rule that deleting a client cancels its unsent messages, before the
-- foreign key clears their link.

CREATE TRIGGER clients_release_messages BEFORE DELETE ON clients
BEGIN
    UPDATE messages SET status = 'cancelled', queued_at = NULL, claim_renewed_at = NULL,
                        updated_at = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
    WHERE client_id = OLD.id AND status IN ('scheduled', 'queued', 'retrying');
END;

-- As on PostgreSQL, a message never moves to another mailing or client; it loses its client
-- (to NULL, by the foreign key) only when the client is deleted.
CREATE TRIGGER messages_keep_references BEFORE UPDATE OF mailing_id, client_id ON messages
WHEN NEW.mailing_id IS NOT OLD.mailing_id
     OR (NEW.client_id IS NOT NULL AND NEW.client_id IS NOT OLD.client_id)
BEGIN
    SELECT RAISE(ABORT, 'a message keeps its mailing and its client');
END;
