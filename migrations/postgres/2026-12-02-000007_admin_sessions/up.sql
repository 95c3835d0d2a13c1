-- The admin UI: its browser sessions, and an index for its delivery rate.

-- A session's cookie carries a random token; only the token's hash is kept, so a leaked table
-- opens no session. A session ends with its account.
CREATE TABLE admin_sessions (
    id          BIGSERIAL PRIMARY KEY,
    token_hash  TEXT NOT NULL CONSTRAINT admin_sessions_token_hash_key UNIQUE,
    username    TEXT NOT NULL CONSTRAINT admin_sessions_username_fkey
                REFERENCES users (username) ON UPDATE CASCADE ON DELETE CASCADE,
    -- Every form of the session must echo it back.
    csrf_token  TEXT NOT NULL,
    -- The viewer's zone (an IANA name), in which the UI shows and reads times.
    time_zone   TEXT NOT NULL CONSTRAINT admin_sessions_time_zone_nonempty CHECK (time_zone <> ''),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
-- Purging expired sessions.
CREATE INDEX admin_sessions_expires_at_idx ON admin_sessions (expires_at);

-- How many of a mailing's messages were sent since an instant, which the dashboard asks every
-- few seconds while a mailing runs: a range of this index per mailing, never the mailing's
-- other messages. Only sent messages are in it, so it grows by one entry per delivery.
CREATE INDEX messages_sent_idx ON messages (mailing_id, sent_at) WHERE status = 'sent';
