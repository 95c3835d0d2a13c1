-- The delivery pipeline: the outbox the api publishes mailing events from, when a mailing was
-- expanded into messages, and each message's deadline and claim.

CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    payload        TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A relay holds an event until then; after it, another relay may publish it.
    claimed_until  TIMESTAMPTZ NULL,
    published_at   TIMESTAMPTZ NULL
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

ALTER TABLE mailings ADD COLUMN expanded_at TIMESTAMPTZ NULL;
CREATE INDEX mailings_to_expand_idx ON mailings (start_at)
    WHERE expanded_at IS NULL AND cancelled_at IS NULL AND deleted_at IS NULL;

-- The instant from which the message may no longer be delivered (the mailing's end on the
-- client's clock).
ALTER TABLE messages ADD COLUMN expires_at TIMESTAMPTZ NULL;
-- When a scheduler handed the message to a sender; a claim older than the lease is taken back.
ALTER TABLE messages ADD COLUMN queued_at TIMESTAMPTZ NULL;
ALTER TABLE messages ADD CONSTRAINT messages_queued_at_when_queued
    CHECK ((status = 'queued') = (queued_at IS NOT NULL));
CREATE INDEX messages_expiry_idx ON messages (expires_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX messages_claimed_idx ON messages (queued_at) WHERE status = 'queued';
