DROP INDEX messages_mailing_id_idx;
