DROP TRIGGER clients_keep_id ON clients;
DROP TRIGGER mailings_keep_id ON mailings;
DROP FUNCTION refuse_id_change();
DROP TRIGGER clients_release_messages_on_truncate ON clients;
DROP TRIGGER clients_release_messages ON clients;
DROP FUNCTION clients_release_messages();
DROP TRIGGER clients_hold_against_new_messages ON clients;
DROP FUNCTION clients_hold_against_new_messages();
DROP TRIGGER mailings_truncate_messages ON mailings;
DROP TRIGGER mailings_delete_messages ON mailings;
DROP FUNCTION mailings_delete_messages();
DROP TRIGGER messages_keep_references ON messages;
DROP FUNCTION messages_keep_references();
DROP TRIGGER messages_check_references ON messages;
DROP FUNCTION messages_check_references();
ALTER TABLE messages
    ADD CONSTRAINT messages_mailing_id_fkey FOREIGN KEY (mailing_id) REFERENCES mailings (id) ON DELETE CASCADE,
    ADD CONSTRAINT messages_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE SET NULL;
