-- The directory, mailings and their messages. Rules that protect the data live here as
-- constraints, so no code path can break them.

CREATE TABLE operators (
    id          BIGSERIAL PRIMARY KEY,
    code        TEXT NOT NULL CONSTRAINT operators_code_key UNIQUE
                CONSTRAINT operators_code_format CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    name        TEXT NOT NULL CONSTRAINT operators_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tags (
    id          BIGSERIAL PRIMARY KEY,
    value       TEXT NOT NULL CONSTRAINT tags_value_key UNIQUE
                CONSTRAINT tags_value_format CHECK (char_length(value) BETWEEN 1 AND 64 AND value = btrim(value)),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE clients (
    id            BIGSERIAL PRIMARY KEY,
    phone_number  TEXT NOT NULL CONSTRAINT clients_phone_number_key UNIQUE
                  CONSTRAINT clients_phone_number_format CHECK (phone_number ~ '^7[0-9]{10}$'),
    -- An operator cannot be removed or recoded while clients refer to it.
    operator_code TEXT NOT NULL CONSTRAINT clients_operator_code_fkey
                  REFERENCES operators (code) ON UPDATE RESTRICT ON DELETE RESTRICT,
    time_zone     TEXT NOT NULL CONSTRAINT clients_time_zone_nonempty CHECK (time_zone <> ''),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX clients_operator_code_idx ON clients (operator_code, id);

CREATE TABLE client_tags (
    client_id  BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    tag_id     BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, tag_id)
);
-- Filter matching goes from a tag to its clients.
CREATE INDEX client_tags_tag_id_idx ON client_tags (tag_id, client_id);

CREATE TABLE client_filters (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NULL CONSTRAINT client_filters_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    operator_codes  TEXT[] NOT NULL DEFAULT '{}',
    tags            TEXT[] NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE mailings (
    id                     BIGSERIAL PRIMARY KEY,
    text                   TEXT NOT NULL CONSTRAINT mailings_text_length CHECK (char_length(text) BETWEEN 1 AND 1600),
    -- With local_time these hold wall-clock readings stored as UTC.
    start_at               TIMESTAMPTZ NOT NULL,
    end_at                 TIMESTAMPTZ NOT NULL,
    local_time             BOOLEAN NOT NULL DEFAULT false,
    send_window_start      TIME NULL,
    send_window_end        TIME NULL,
    -- The filter is copied into the mailing, so later edits of a saved filter change nothing here.
    filter_operator_codes  TEXT[] NOT NULL DEFAULT '{}',
    filter_tags            TEXT[] NOT NULL DEFAULT '{}',
    client_filter_id       BIGINT NULL REFERENCES client_filters (id) ON DELETE SET NULL,
    cancelled_at           TIMESTAMPTZ NULL,
    -- Deleted mailings are hidden but kept, so their messages keep their history.
    deleted_at             TIMESTAMPTZ NULL,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT mailings_end_after_start CHECK (end_at > start_at),
    CONSTRAINT mailings_send_window_pair CHECK (
        (send_window_start IS NULL AND send_window_end IS NULL)
        OR (send_window_start IS NOT NULL AND send_window_end IS NOT NULL
            AND send_window_start <> send_window_end)
    )
);
CREATE INDEX mailings_start_at_idx ON mailings (start_at) WHERE deleted_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE messages (
    id               BIGSERIAL PRIMARY KEY,
    mailing_id       BIGINT NOT NULL REFERENCES mailings (id) ON DELETE CASCADE,
    -- A deleted client's delivered messages stay for the statistics.
    client_id        BIGINT NULL REFERENCES clients (id) ON DELETE SET NULL,
    status           TEXT NOT NULL DEFAULT 'scheduled' CONSTRAINT messages_status_known CHECK (
                         status IN ('scheduled', 'queued', 'sent', 'retrying', 'failed', 'expired', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0 CONSTRAINT messages_attempts_nonnegative CHECK (attempts >= 0),
    last_error       TEXT NULL,
    next_attempt_at  TIMESTAMPTZ NULL,
    sent_at          TIMESTAMPTZ NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT messages_mailing_client_key UNIQUE (mailing_id, client_id),
    CONSTRAINT messages_sent_at_when_sent CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
-- Statistics count a mailing's messages by status.
CREATE INDEX messages_mailing_status_idx ON messages (mailing_id, status);
-- The scheduler looks up messages whose time has come.
CREATE INDEX messages_due_idx ON messages (next_attempt_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX messages_client_id_idx ON messages (client_id);

CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    username       TEXT NOT NULL CONSTRAINT users_username_key UNIQUE
                   CONSTRAINT users_username_length CHECK (char_length(username) BETWEEN 1 AND 100),
    password_hash  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
