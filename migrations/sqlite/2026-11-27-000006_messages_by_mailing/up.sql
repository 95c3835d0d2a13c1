-- A mailing's messages in id order, for its page of messages: SQLite keeps each entry's rowid
-- (the id) in index order, so the first page stops after its rows. The unique
-- (mailing_id, client_id) index would make it read and sort the whole mailing.
CREATE INDEX messages_mailing_id_idx ON messages (mailing_id);
