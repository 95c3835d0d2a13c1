-- The SQLite twin of migrations/postgres/2026-11-27-000001_initial: the same tables, columns
-- and constraints (by the same names where SQLite keeps names).
--
-- Conventions for this backend:
-- * Instants are TEXT in UTC, 'YYYY-MM-DD HH:MM:SS[.fff[fff]]+00:00' (diesel's
--   TimestamptzSqlite format), which sorts as the instants do; defaults produce the same shape.
-- * Times of day are TEXT 'HH:MM:SS'.
-- * PostgreSQL's text[] columns are JSON arrays of strings.
-- * Ids come from AUTOINCREMENT, so like a sequence they are never reused.

CREATE TABLE operators (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT NOT NULL CONSTRAINT operators_code_key UNIQUE
                CONSTRAINT operators_code_format CHECK (
                    length(code) BETWEEN 1 AND 32
                    AND substr(code, 1, 1) GLOB '[a-z0-9]'
                    AND code NOT GLOB '*[^a-z0-9_-]*'),
    name        TEXT NOT NULL CONSTRAINT operators_name_length CHECK (length(name) BETWEEN 1 AND 100),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);

CREATE TABLE tags (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    value       TEXT NOT NULL CONSTRAINT tags_value_key UNIQUE
                CONSTRAINT tags_value_format CHECK (length(value) BETWEEN 1 AND 64 AND value = trim(value, ' ')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);

CREATE TABLE clients (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_number  TEXT NOT NULL CONSTRAINT clients_phone_number_key UNIQUE
                  CONSTRAINT clients_phone_number_format CHECK (
                      phone_number GLOB '7[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    -- An operator cannot be removed or recoded while clients refer to it.
    operator_code TEXT NOT NULL CONSTRAINT clients_operator_code_fkey
                  REFERENCES operators (code) ON UPDATE RESTRICT ON DELETE RESTRICT,
    time_zone     TEXT NOT NULL CONSTRAINT clients_time_zone_nonempty CHECK (time_zone <> ''),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);
CREATE INDEX clients_operator_code_idx ON clients (operator_code, id);

CREATE TABLE client_tags (
    client_id  INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX client_tags_tag_id_idx ON client_tags (tag_id, client_id);

CREATE TABLE client_filters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NULL CONSTRAINT client_filters_name_length CHECK (length(name) BETWEEN 1 AND 100),
    operator_codes  TEXT NOT NULL DEFAULT '[]'
                    CONSTRAINT client_filters_operator_codes_array CHECK (json_type(operator_codes) = 'array'),
    tags            TEXT NOT NULL DEFAULT '[]'
                    CONSTRAINT client_filters_tags_array CHECK (json_type(tags) = 'array'),
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);

CREATE TABLE mailings (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    text                   TEXT NOT NULL CONSTRAINT mailings_text_length CHECK (length(text) BETWEEN 1 AND 1600),
    -- With local_time these hold wall-clock readings stored as UTC.
    start_at               TEXT NOT NULL,
    end_at                 TEXT NOT NULL,
    local_time             BOOLEAN NOT NULL DEFAULT 0 CONSTRAINT mailings_local_time_bool CHECK (local_time IN (0, 1)),
    send_window_start      TEXT NULL,
    send_window_end        TEXT NULL,
    -- The filter is copied into the mailing, so later edits of a saved filter change nothing here.
    filter_operator_codes  TEXT NOT NULL DEFAULT '[]'
                           CONSTRAINT mailings_filter_operator_codes_array CHECK (json_type(filter_operator_codes) = 'array'),
    filter_tags            TEXT NOT NULL DEFAULT '[]'
                           CONSTRAINT mailings_filter_tags_array CHECK (json_type(filter_tags) = 'array'),
    client_filter_id       INTEGER NULL REFERENCES client_filters (id) ON DELETE SET NULL,
    cancelled_at           TEXT NULL,
    -- Deleted mailings are hidden but kept, so their messages keep their history.
    deleted_at             TEXT NULL,
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    CONSTRAINT mailings_end_after_start CHECK (end_at > start_at),
    CONSTRAINT mailings_send_window_pair CHECK (
        (send_window_start IS NULL AND send_window_end IS NULL)
        OR (send_window_start IS NOT NULL AND send_window_end IS NOT NULL
            AND send_window_start <> send_window_end)
    )
);
CREATE INDEX mailings_start_at_idx ON mailings (start_at) WHERE deleted_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    mailing_id       INTEGER NOT NULL REFERENCES mailings (id) ON DELETE CASCADE,
    -- A deleted client's delivered messages stay for the statistics.
    client_id        INTEGER NULL REFERENCES clients (id) ON DELETE SET NULL,
    status           TEXT NOT NULL DEFAULT 'scheduled' CONSTRAINT messages_status_known CHECK (
                         status IN ('scheduled', 'queued', 'sent', 'retrying', 'failed', 'expired', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0 CONSTRAINT messages_attempts_nonnegative CHECK (attempts >= 0),
    last_error       TEXT NULL,
    next_attempt_at  TEXT NULL,
    sent_at          TEXT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    CONSTRAINT messages_mailing_client_key UNIQUE (mailing_id, client_id),
    CONSTRAINT messages_sent_at_when_sent CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX messages_mailing_status_idx ON messages (mailing_id, status);
CREATE INDEX messages_due_idx ON messages (next_attempt_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX messages_client_id_idx ON messages (client_id);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT NOT NULL CONSTRAINT users_username_key UNIQUE
                   CONSTRAINT users_username_length CHECK (length(username) BETWEEN 1 AND 100),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);
