-- The SQLite twin of migrations/postgres/2026-12-02-000007_admin_sessions: the admin UI's
-- browser sessions, and an index for its delivery rate.

CREATE TABLE admin_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT NOT NULL CONSTRAINT admin_sessions_token_hash_key UNIQUE,
    username    TEXT NOT NULL CONSTRAINT admin_sessions_username_fkey
                REFERENCES users (username) ON UPDATE CASCADE ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    time_zone   TEXT NOT NULL CONSTRAINT admin_sessions_time_zone_nonempty CHECK (time_zone <> ''),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX admin_sessions_expires_at_idx ON admin_sessions (expires_at);

-- The statement must name the status as a literal for SQLite to use this partial index.
CREATE INDEX messages_sent_idx ON messages (mailing_id, sent_at) WHERE status = 'sent';
