CREATE INDEX messages_mailing_status_idx ON messages (mailing_id, status);
DROP TRIGGER mailings_delete_counts;
DROP TRIGGER messages_count_deletes;
DROP TRIGGER messages_count_updates;
DROP TRIGGER messages_count_inserts;
DROP TABLE message_counts;
