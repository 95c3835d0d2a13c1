//! Records the delivery pipeline reads and writes: the outbox, expansions, claimed messages and
//! delivery outcomes.

use crate::attributes::Attributes;
use crate::campaign::{AutoPauseOverride, FrequencyCap};
use crate::client::{PhoneNumber, TimeZone};
use crate::events::MailingEvent;
use crate::ids::{ClientId, MailingId, MessageId};
use crate::mailing::{MailingSchedule, MailingText};
use crate::message::{ExpiryReason, MessageStatus, MessageText};
use crate::operator::OperatorCode;
use crate::template::{Recipient, Template};
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
    /// The client's operator and attributes, which the mailing's text may show; `None` and
    /// empty once the client was deleted.
    pub operator_code: Option<OperatorCode>,
    pub attributes: Attributes,
    /// The mailing's text, a template.
    pub text: MailingText,
    /// What an earlier attempt sent, which later ones send again.
    pub sent_text: Option<MessageText>,
    pub schedule: MailingSchedule,
    /// False once the mailing was cancelled or deleted.
    pub mailing_active: bool,
    pub mailing_paused: bool,
    /// The mailing's own frequency cap; `None` leaves the deployment's.
    pub frequency_cap: Option<FrequencyCap>,
    pub auto_pause: AutoPauseOverride,
}

impl SendTask {
    /// The text to send: what an earlier attempt sent, or the mailing's text rendered for the
    /// client. A text saved before templates were read, which does not read as one, is sent
    /// as it is. `None` without a number or a client to send to.
    pub fn text_to_send(&self) -> Option<MessageText> {
        if let Some(sent) = &self.sent_text {
            return Some(sent.clone());
        }
        let phone = self.phone.as_ref()?;
        // Without its client (deleted) the message is cancelled before an attempt.
        let operator_code = self.operator_code.as_ref()?;
        let template = Template::parse(self.text.as_str())
            .unwrap_or_else(|_| Template::literal(self.text.as_str()));
        let rendered = template.render(Recipient {
            phone,
            operator_code,
            attributes: &self.attributes,
        });
        Some(MessageText::counted(rendered.text))
    }
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
    /// The text the attempt sent, if one was made; kept by the message from its first
    /// attempt on.
    pub text: Option<MessageText>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::TimeZone;
    use crate::mailing::MailingSchedule;
    use chrono::TimeZone as _;
    use serde_json::json;

    fn task(text: &str, attributes: serde_json::Value) -> SendTask {
        let at = |h| Utc.with_ymd_and_hms(2030, 1, 1, h, 0, 0).unwrap();
        SendTask {
            message_id: MessageId(7),
            mailing_id: MailingId(1),
            client_id: Some(crate::ids::ClientId(3)),
            status: MessageStatus::Queued,
            queued_at: Some(at(1)),
            attempts: 0,
            last_error: None,
            phone: Some(PhoneNumber::parse("79001234567").unwrap()),
            opted_out: false,
            time_zone: Some(TimeZone::utc()),
            operator_code: Some(OperatorCode::parse("mts").unwrap()),
            attributes: Attributes::from_json(&attributes).unwrap(),
            text: MailingText::parse(text).unwrap(),
            sent_text: None,
            schedule: MailingSchedule::new(at(0), at(2), false, None).unwrap(),
            mailing_active: true,
            mailing_paused: false,
            frequency_cap: None,
            auto_pause: AutoPauseOverride::default(),
        }
    }

    #[test]
    fn the_text_to_send_is_rendered_for_the_client_once() {
        let greeting =
            "Здравствуйте, {{ attributes.name | default: \"клиент\" }}! {{ phone_number }}";
        let named = task(greeting, json!({"name": "Анна"}))
            .text_to_send()
            .unwrap();
        assert_eq!(named.text, "Здравствуйте, Анна! 79001234567");
        assert_eq!((named.encoding.as_str(), named.segments), ("ucs2", 1));
        assert_eq!(
            task(greeting, json!({})).text_to_send().unwrap().text,
            "Здравствуйте, клиент! 79001234567"
        );
        // A later attempt sends what the first did, even if the client changed since.
        let mut again = task(greeting, json!({"name": "Мария"}));
        again.sent_text = Some(named.clone());
        assert_eq!(again.text_to_send(), Some(named));
        // A text saved before templates were read goes as it is.
        assert_eq!(
            task("Sale {{ today", json!({}))
                .text_to_send()
                .unwrap()
                .text,
            "Sale {{ today"
        );
        // Without a client there is nothing to render for.
        let mut orphan = task(greeting, json!({}));
        orphan.operator_code = None;
        assert_eq!(orphan.text_to_send(), None);
    }
}
