-- The SQLite twin of migrations/postgres/2026-12-11-000011_campaign_control: pauses, resends and
-- the frequency cap. SQLite adds one column per statement, each with its own rule.

ALTER TABLE mailings ADD COLUMN paused_at TEXT NULL;
ALTER TABLE mailings ADD COLUMN paused_reason TEXT NULL CONSTRAINT mailings_pause_pair
    CHECK ((paused_at IS NULL) = (paused_reason IS NULL)
           AND (paused_reason IS NULL OR paused_reason IN ('manual', 'provider_failing')));
ALTER TABLE mailings ADD COLUMN paused_ms INTEGER NOT NULL DEFAULT 0
    CONSTRAINT mailings_paused_ms_nonnegative CHECK (paused_ms >= 0);
ALTER TABLE mailings ADD COLUMN auto_pauses INTEGER NOT NULL DEFAULT 0
    CONSTRAINT mailings_auto_pauses_nonnegative CHECK (auto_pauses >= 0);
ALTER TABLE mailings ADD COLUMN cap_deferrals INTEGER NOT NULL DEFAULT 0
    CONSTRAINT mailings_cap_deferrals_nonnegative CHECK (cap_deferrals >= 0);
ALTER TABLE mailings ADD COLUMN resend_of INTEGER NULL REFERENCES mailings (id)
    CONSTRAINT mailings_not_own_resend CHECK (resend_of <> id);
ALTER TABLE mailings ADD COLUMN frequency_cap_max INTEGER NULL;
ALTER TABLE mailings ADD COLUMN frequency_cap_hours INTEGER NULL CONSTRAINT mailings_frequency_cap_pair
    CHECK ((frequency_cap_max IS NULL AND frequency_cap_hours IS NULL)
           OR (frequency_cap_max BETWEEN 1 AND 1000 AND frequency_cap_hours BETWEEN 1 AND 8760));
ALTER TABLE mailings ADD COLUMN auto_pause_enabled BOOLEAN NULL;
ALTER TABLE mailings ADD COLUMN auto_pause_attempts INTEGER NULL
    CONSTRAINT mailings_auto_pause_attempts_range CHECK (auto_pause_attempts BETWEEN 1 AND 100000);
ALTER TABLE mailings ADD COLUMN auto_pause_failure_share DOUBLE NULL
    CONSTRAINT mailings_auto_pause_failure_share_range
    CHECK (auto_pause_failure_share >= 0 AND auto_pause_failure_share < 1);

CREATE INDEX mailings_paused_idx ON mailings (id) WHERE paused_at IS NOT NULL;

CREATE TABLE mailing_pauses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    mailing_id  INTEGER NOT NULL REFERENCES mailings (id),
    reason      TEXT NOT NULL CONSTRAINT mailing_pauses_reason_known
                    CHECK (reason IN ('manual', 'provider_failing')),
    detail      TEXT NULL,
    paused_at   TEXT NOT NULL,
    resumed_at  TEXT NULL,
    CONSTRAINT mailing_pauses_resumed_after_paused CHECK (resumed_at >= paused_at)
);
CREATE UNIQUE INDEX mailing_pauses_one_open ON mailing_pauses (mailing_id) WHERE resumed_at IS NULL;
CREATE INDEX mailing_pauses_by_mailing ON mailing_pauses (mailing_id, paused_at);

CREATE TABLE mailing_recipients (
    mailing_id  INTEGER NOT NULL REFERENCES mailings (id),
    client_id   INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    PRIMARY KEY (mailing_id, client_id)
);
CREATE INDEX mailing_recipients_client_idx ON mailing_recipients (client_id);

ALTER TABLE messages ADD COLUMN cap_held_at TEXT NULL;
