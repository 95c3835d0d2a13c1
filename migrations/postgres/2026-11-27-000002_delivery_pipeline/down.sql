DROP INDEX messages_claimed_idx;
DROP INDEX messages_expiry_idx;
ALTER TABLE messages DROP CONSTRAINT messages_queued_at_when_queued;
ALTER TABLE messages DROP COLUMN queued_at;
ALTER TABLE messages DROP COLUMN expires_at;
DROP INDEX mailings_to_expand_idx;
ALTER TABLE mailings DROP COLUMN expanded_at;
DROP TABLE outbox;
