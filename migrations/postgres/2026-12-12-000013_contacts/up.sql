-- Contacts at scale: client attributes that filters can require, and the `suppressed` status
-- of a message whose number opted out.

-- Free-form facts about a client: an object of strings, numbers and booleans (the api bounds
-- keys and size). A constant default makes the column instant to add, however many clients.
ALTER TABLE clients ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}'
    CONSTRAINT clients_attributes_object CHECK (jsonb_typeof(attributes) = 'object');
-- Filters require attribute values with `@>`, which this index answers.
CREATE INDEX clients_attributes_idx ON clients USING gin (attributes jsonb_path_ops);

-- The attribute values a saved filter, or a mailing's copy of its filter, requires.
ALTER TABLE client_filters ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}'
    CONSTRAINT client_filters_attributes_object CHECK (jsonb_typeof(attributes) = 'object');
ALTER TABLE mailings ADD COLUMN filter_attributes JSONB NOT NULL DEFAULT '{}'
    CONSTRAINT mailings_filter_attributes_object CHECK (jsonb_typeof(filter_attributes) = 'object');

-- A message to a number that opted out is `suppressed`: never sent, and counted like every
-- status. The new rule is checked against existing rows without holding writers off meanwhile.
ALTER TABLE messages DROP CONSTRAINT messages_status_known;
ALTER TABLE messages ADD CONSTRAINT messages_status_known CHECK (
    status IN ('scheduled', 'queued', 'sent', 'retrying', 'failed', 'expired', 'cancelled',
               'suppressed')) NOT VALID;
ALTER TABLE messages VALIDATE CONSTRAINT messages_status_known;

-- Numbers that must never be texted, whatever client or mailing names them. A number can opt
-- out before it is anybody's client; taking it back in deletes its row.
CREATE TABLE opt_outs (
    phone_number  TEXT PRIMARY KEY
                  CONSTRAINT opt_outs_phone_number_format CHECK (phone_number ~ '^7[0-9]{10}$'),
    source        TEXT NOT NULL
                  CONSTRAINT opt_outs_source_known CHECK (source IN ('api', 'import', 'inbound', 'ui')),
    reason        TEXT NULL CONSTRAINT opt_outs_reason_length CHECK (char_length(reason) BETWEEN 1 AND 500),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The list shows the newest first.
CREATE INDEX opt_outs_created_at_idx ON opt_outs (created_at DESC, phone_number);
-- Opting a number out suppresses its waiting messages, which this finds without reading the
-- rest.
CREATE INDEX messages_waiting_phone_idx ON messages (phone_number) WHERE status IN ('scheduled', 'retrying');

-- Replies the provider forwarded, kept whatever they said.
CREATE TABLE inbound_messages (
    id            BIGSERIAL PRIMARY KEY,
    phone_number  TEXT NOT NULL
                  CONSTRAINT inbound_messages_phone_number_format CHECK (phone_number ~ '^7[0-9]{10}$'),
    text          TEXT NOT NULL CONSTRAINT inbound_messages_text_length CHECK (char_length(text) <= 1600),
    -- What the reply did: opted the number out, back in, or nothing.
    action        TEXT NOT NULL
                  CONSTRAINT inbound_messages_action_known CHECK (action IN ('opt_out', 'opt_in', 'none')),
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX inbound_messages_phone_number_idx ON inbound_messages (phone_number, id);

-- CSV imports of clients or opt-outs: each one's options, progress and report. The report's
-- first rejections are kept whole; the counts cover every row.
CREATE TABLE imports (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL CONSTRAINT imports_kind_known CHECK (kind IN ('clients', 'opt_outs')),
    mode         TEXT NOT NULL CONSTRAINT imports_mode_known CHECK (mode IN ('upsert', 'insert')),
    dry_run      BOOLEAN NOT NULL,
    status       TEXT NOT NULL DEFAULT 'running'
                 CONSTRAINT imports_status_known CHECK (status IN ('running', 'done', 'failed')),
    -- The file's size once known, and how much of it was read, for the progress.
    bytes_total  BIGINT NULL CONSTRAINT imports_bytes_total_nonnegative CHECK (bytes_total >= 0),
    bytes_read   BIGINT NOT NULL DEFAULT 0 CONSTRAINT imports_bytes_read_nonnegative CHECK (bytes_read >= 0),
    rows         BIGINT NOT NULL DEFAULT 0,
    created      BIGINT NOT NULL DEFAULT 0,
    updated      BIGINT NOT NULL DEFAULT 0,
    unchanged    BIGINT NOT NULL DEFAULT 0,
    rejected     BIGINT NOT NULL DEFAULT 0,
    rejections   JSONB NOT NULL DEFAULT '[]',
    -- Why a failed import stopped.
    error        TEXT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ NULL,
    CONSTRAINT imports_counts_nonnegative CHECK (
        rows >= 0 AND created >= 0 AND updated >= 0 AND unchanged >= 0 AND rejected >= 0),
    CONSTRAINT imports_finished_when_over CHECK ((status = 'running') = (finished_at IS NULL)),
    CONSTRAINT imports_error_when_failed CHECK ((status = 'failed') = (error IS NOT NULL))
);
