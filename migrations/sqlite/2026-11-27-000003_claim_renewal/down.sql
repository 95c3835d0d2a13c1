ALTER TABLE messages DROP COLUMN claim_renewed_at;
