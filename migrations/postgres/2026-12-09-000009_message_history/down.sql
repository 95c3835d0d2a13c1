ALTER TABLE messages DROP CONSTRAINT messages_expired_with_reason;
DROP TRIGGER clients_readdress_messages ON clients;
DROP FUNCTION clients_readdress_messages();
ALTER TABLE messages DROP CONSTRAINT messages_phone_number_known;
ALTER TABLE messages DROP COLUMN phone_number;
