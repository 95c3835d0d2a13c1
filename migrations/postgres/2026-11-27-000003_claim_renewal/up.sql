-- A sender renews the claims of messages it is working on, so a claim is taken back only from
-- a sender that stopped, not from one that is busy.
ALTER TABLE messages ADD COLUMN claim_renewed_at TIMESTAMPTZ NULL;
