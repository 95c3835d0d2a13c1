-- What a message keeps of its own history: the number it is addressed to, and why it expired.

-- The rewrites below change no status, so the counts trigger would only compare every message
-- with itself; it sleeps while they run.
ALTER TABLE messages DISABLE TRIGGER messages_count_updates;

-- The number is copied from the client when the message is created, and the sender sends to
-- it, so a message sent keeps the number it went to when its client changes number or is
-- deleted. A message not yet handed to a sender follows its client to a new number (below);
-- one a sender holds keeps the number it is being sent to. Messages of clients deleted before
-- this migration have no number to recover and keep none.
ALTER TABLE messages ADD COLUMN phone_number TEXT NULL;
UPDATE messages m SET phone_number = c.phone_number FROM clients c WHERE c.id = m.client_id;
ALTER TABLE messages ADD CONSTRAINT messages_phone_number_known
    CHECK (phone_number IS NOT NULL OR client_id IS NULL);

CREATE FUNCTION clients_readdress_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET phone_number = NEW.phone_number, updated_at = now()
    WHERE client_id = NEW.id AND status IN ('scheduled', 'retrying');
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_readdress_messages AFTER UPDATE OF phone_number ON clients
    FOR EACH ROW WHEN (NEW.phone_number IS DISTINCT FROM OLD.phone_number)
    EXECUTE FUNCTION clients_readdress_messages();

-- Every expired message says why in last_error. Those that expired before reasons were kept
-- get the reason that covers them: the error of their last attempt if one failed, or else
-- that their turn did not come before the end.
UPDATE messages
SET last_error = CASE WHEN last_error IS NULL THEN 'the mailing ended before its turn came'
                      ELSE 'the mailing ended before delivery succeeded; last attempt: ' || last_error
                 END
WHERE status = 'expired';
ALTER TABLE messages ADD CONSTRAINT messages_expired_with_reason
    CHECK (status <> 'expired' OR last_error IS NOT NULL);

ALTER TABLE messages ENABLE TRIGGER messages_count_updates;
