//! Records the delivery pipeline reads and writes: the outbox, expansions, claimed messages and
//! delivery outcomes.

use crate::campaign::{AutoPauseOverride, FrequencyCap};
use crate::client::{PhoneNumber, TimeZone};
use crate::events::MailingEvent;
use crate::ids::{ClientId, MailingId, MessageId};
use crate::mailing::{MailingSchedule, MailingText};
use crate::message::{ExpiryReason, MessageStatus};
use chrono::{DateTime, Utc};

/// An event written beside a mailing change, waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: i64,
    pub event: MailingEvent,
}

/// The events the relay has not published yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxBacklog {
    pub events: u64,
    /// When the oldest unpublished event was written; `None` when there is none.
    pub oldest: Option<DateTime<Utc>>,
}

/// An instant as storage keeps it (microseconds), so a claim time carried in a send job
/// compares equal to the stored one.
pub fn storage_instant(instant: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound as _;
    instant.trunc_subsecs(6)
}

/// The latest state of a mailing, as a sender re-reads it right before attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailingState {
    pub id: MailingId,
    pub schedule: MailingSchedule,
    /// False once the mailing was cancelled or deleted.
    pub active: bool,
    pub paused: bool,
    /// The mailing's own frequency cap; `None` leaves the deployment's.
    pub frequency_cap: Option<FrequencyCap>,
    pub auto_pause: AutoPauseOverride,
}

/// What checking a frequency cap right before an attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapHold {
    /// The cap allows it: the message is held, and counts for its client until its outcome.
    Held,
    /// The cap is full until then.
    Wait { until: DateTime<Utc> },
    /// The message is no longer queued under this claim, or has no client any more.
    Gone,
}

/// What expanding a mailing created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Messages waiting for their send time.
    pub scheduled: u64,
    /// Messages created already expired: their client's window never opens before the end.
    pub expired: u64,
    /// Messages created suppressed: their number opted out.
    pub suppressed: u64,
}

/// Everything a sender needs to attempt one message, read in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendTask {
    pub message_id: MessageId,
    pub mailing_id: MailingId,
    pub client_id: Option<ClientId>,
    pub status: MessageStatus,
    /// The current claim, while `queued`.
    pub queued_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
    /// The number the message is addressed to.
    pub phone: Option<PhoneNumber>,
    /// Whether that number opted out, as the message was loaded.
    pub opted_out: bool,
    /// The client's zone; `None` once the client was deleted.
    pub time_zone: Option<TimeZone>,
    pub text: MailingText,
    pub schedule: MailingSchedule,
    /// False once the mailing was cancelled or deleted.
    pub mailing_active: bool,
    pub mailing_paused: bool,
    /// The mailing's own frequency cap; `None` leaves the deployment's.
    pub frequency_cap: Option<FrequencyCap>,
    pub auto_pause: AutoPauseOverride,
}

/// The result of handling one claimed (`queued`) message, written by the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub message_id: MessageId,
    /// The claim the sender's job carried: the outcome lands only while the message still
    /// holds that claim (a delivery the probe accepted always lands). `None`, for tools and
    /// tests, lands on whatever claim the message holds.
    pub claimed_at: Option<DateTime<Utc>>,
    pub kind: OutcomeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeKind {
    /// The probe accepted it at `at`.
    Sent { at: DateTime<Utc> },
    /// The attempt failed; try again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// The probe refused it for good.
    Failed { error: String },
    /// Not attempted: wait until `next_attempt_at` (window closed, provider paused).
    Deferred { next_attempt_at: DateTime<Utc> },
    /// The mailing's end came first, as `reason` says.
    Expired { reason: ExpiryReason },
    /// Not attempted: the mailing or the client is gone.
    Cancelled,
    /// Not attempted: its number opted out.
    Suppressed,
}

impl OutcomeKind {
    /// The status the message ends up in.
    pub fn status(&self) -> MessageStatus {
        match self {
            OutcomeKind::Sent { .. } => MessageStatus::Sent,
            OutcomeKind::Retry { .. } => MessageStatus::Retrying,
            OutcomeKind::Failed { .. } => MessageStatus::Failed,
            OutcomeKind::Deferred { .. } => MessageStatus::Scheduled,
            OutcomeKind::Expired { .. } => MessageStatus::Expired,
            OutcomeKind::Cancelled => MessageStatus::Cancelled,
            OutcomeKind::Suppressed => MessageStatus::Suppressed,
        }
    }

    /// Whether the outcome counts as an attempt to deliver.
    pub fn attempted(&self) -> bool {
        match self {
            OutcomeKind::Sent { .. } | OutcomeKind::Retry { .. } | OutcomeKind::Failed { .. } => {
                true
            }
            // Only this reason follows an attempt made just now; the others settle a message
            // without one.
            OutcomeKind::Expired { reason } => matches!(reason, ExpiryReason::NoRetryFits { .. }),
            OutcomeKind::Deferred { .. } | OutcomeKind::Cancelled | OutcomeKind::Suppressed => {
                false
            }
        }
    }
}
