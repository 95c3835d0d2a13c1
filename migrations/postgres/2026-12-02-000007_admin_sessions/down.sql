DROP INDEX messages_sent_idx;
DROP TABLE admin_sessions;
