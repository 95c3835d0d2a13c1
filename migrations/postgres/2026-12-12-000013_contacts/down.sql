DROP TABLE imports;
DROP TABLE inbound_messages;
DROP TABLE opt_outs;
DROP INDEX messages_waiting_phone_idx;
-- Suppressed messages were never sent; undone, they read as cancelled.
UPDATE messages SET status = 'cancelled' WHERE status = 'suppressed';
ALTER TABLE messages DROP CONSTRAINT messages_status_known;
ALTER TABLE messages ADD CONSTRAINT messages_status_known CHECK (
    status IN ('scheduled', 'queued', 'sent', 'retrying', 'failed', 'expired', 'cancelled'));
ALTER TABLE mailings DROP COLUMN filter_attributes;
ALTER TABLE client_filters DROP COLUMN attributes;
DROP INDEX clients_attributes_idx;
ALTER TABLE clients DROP COLUMN attributes;
