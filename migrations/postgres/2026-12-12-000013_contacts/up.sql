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
