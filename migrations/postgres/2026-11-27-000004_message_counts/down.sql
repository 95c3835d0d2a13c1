CREATE INDEX messages_mailing_status_idx ON messages (mailing_id, status);
DROP TRIGGER messages_truncate_counts ON messages;
DROP TRIGGER messages_count_deletes ON messages;
DROP TRIGGER messages_count_updates ON messages;
DROP TRIGGER messages_count_inserts ON messages;
DROP FUNCTION truncate_along();
DROP FUNCTION message_counts_add();
DROP FUNCTION message_counts_fold(BIGINT);
DROP TABLE message_counts;
