DROP TRIGGER messages_keep_references;
DROP TRIGGER clients_release_messages;
