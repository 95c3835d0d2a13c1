-- A mailing's messages in id order, for its page of messages: without it the page walks the
-- primary key from the first message of all and filters, so a young mailing's page reads past
-- every older mailing's messages first.
CREATE INDEX messages_mailing_id_idx ON messages (mailing_id, id);
