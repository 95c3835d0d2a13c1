-- The SQLite twin of migrations/postgres/2026-11-27-000003_claim_renewal: a sender renews the
-- claims of messages it is working on, so a claim is taken back only from a sender that stopped.
ALTER TABLE messages ADD COLUMN claim_renewed_at TEXT NULL;
