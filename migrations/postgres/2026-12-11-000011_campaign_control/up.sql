-- Campaign control: pausing and resuming a mailing (by hand or by itself when the provider
-- fails), resending to the clients a mailing did not reach, and a per-client frequency cap.

-- A mailing's current pause, kept beside its history in mailing_pauses so that the claim and
-- every read of a mailing see it without a join; both are written in one transaction.
ALTER TABLE mailings
    ADD COLUMN paused_at TIMESTAMPTZ NULL,
    ADD COLUMN paused_reason TEXT NULL,
    -- Paused time of the pauses that ended, in milliseconds; the current pause adds its own.
    ADD COLUMN paused_ms BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN auto_pauses INTEGER NOT NULL DEFAULT 0,
    -- How often a message of this mailing waited for its client's frequency cap.
    ADD COLUMN cap_deferrals BIGINT NOT NULL DEFAULT 0,
    -- The mailing whose unreached clients this one resends to; its recipients are in
    -- mailing_recipients.
    ADD COLUMN resend_of BIGINT NULL REFERENCES mailings (id),
    -- At most frequency_cap_max messages per client in any frequency_cap_hours hours.
    ADD COLUMN frequency_cap_max INTEGER NULL,
    ADD COLUMN frequency_cap_hours INTEGER NULL,
    -- Overrides of the deployment's auto-pause rule; NULL keeps the deployment's.
    ADD COLUMN auto_pause_enabled BOOLEAN NULL,
    ADD COLUMN auto_pause_attempts INTEGER NULL,
    ADD COLUMN auto_pause_failure_share DOUBLE PRECISION NULL,
    ADD CONSTRAINT mailings_pause_pair CHECK ((paused_at IS NULL) = (paused_reason IS NULL)),
    ADD CONSTRAINT mailings_paused_reason_known
        CHECK (paused_reason IN ('manual', 'provider_failing')),
    ADD CONSTRAINT mailings_pause_counts_nonnegative
        CHECK (paused_ms >= 0 AND auto_pauses >= 0 AND cap_deferrals >= 0),
    ADD CONSTRAINT mailings_frequency_cap_pair CHECK (
        (frequency_cap_max IS NULL AND frequency_cap_hours IS NULL)
        OR (frequency_cap_max BETWEEN 1 AND 1000 AND frequency_cap_hours BETWEEN 1 AND 8760)),
    ADD CONSTRAINT mailings_auto_pause_attempts_range
        CHECK (auto_pause_attempts BETWEEN 1 AND 100000),
    ADD CONSTRAINT mailings_auto_pause_failure_share_range
        CHECK (auto_pause_failure_share >= 0 AND auto_pause_failure_share < 1),
    ADD CONSTRAINT mailings_not_own_resend CHECK (resend_of <> id);

-- The claim skips paused mailings' messages by this short list.
CREATE INDEX mailings_paused_idx ON mailings (id) WHERE paused_at IS NOT NULL;

-- Every pause of a mailing: when, why, and when it ended. At most one is open.
CREATE TABLE mailing_pauses (
    id          BIGSERIAL PRIMARY KEY,
    mailing_id  BIGINT NOT NULL REFERENCES mailings (id),
    reason      TEXT NOT NULL CONSTRAINT mailing_pauses_reason_known
                    CHECK (reason IN ('manual', 'provider_failing')),
    -- For a pause the service made: what it saw, in plain words.
    detail      TEXT NULL,
    paused_at   TIMESTAMPTZ NOT NULL,
    resumed_at  TIMESTAMPTZ NULL,
    CONSTRAINT mailing_pauses_resumed_after_paused CHECK (resumed_at >= paused_at)
);
CREATE UNIQUE INDEX mailing_pauses_one_open ON mailing_pauses (mailing_id) WHERE resumed_at IS NULL;
CREATE INDEX mailing_pauses_by_mailing ON mailing_pauses (mailing_id, paused_at);

-- A resend's recipients, fixed when it is created: the clients whose messages in the original
-- ended in the statuses asked for. A client deleted meanwhile leaves the list.
CREATE TABLE mailing_recipients (
    mailing_id  BIGINT NOT NULL REFERENCES mailings (id),
    client_id   BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    PRIMARY KEY (mailing_id, client_id)
);
CREATE INDEX mailing_recipients_client_idx ON mailing_recipients (client_id);

-- Set when a frequency cap let this queued message go to the provider: until its outcome it
-- counts towards its client's cap, so two mailings cannot both pass the cap at once.
ALTER TABLE messages ADD COLUMN cap_held_at TIMESTAMPTZ NULL;
