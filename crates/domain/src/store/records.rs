//! The records read from and written to storage.

use crate::attributes::Attributes;
use crate::campaign::{AutoPauseOverride, FrequencyCap, Paused};
use crate::client::{PhoneNumber, TimeZone};
use crate::filter::ClientFilter;
use crate::ids::{ClientFilterId, ClientId, MailingId, MessageId, OperatorId, TagId};
use crate::invalid::Invalid;
use crate::mailing::{MailingField, MailingSchedule, MailingStatus, MailingText, check_update};
use crate::message::{MessageStatus, MessageText};
use crate::operator::{OperatorCode, OperatorName, Price};
use crate::store::Rejection;
use crate::tag::TagValue;
use crate::window::SendWindow;
use chrono::{DateTime, Duration, FixedOffset, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: OperatorId,
    pub code: OperatorCode,
    pub name: OperatorName,
    /// What one SMS part costs there, for cost estimates; `None` when not given.
    pub price_per_segment: Option<Price>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOperator {
    pub code: OperatorCode,
    pub name: OperatorName,
    pub price_per_segment: Option<Price>,
}

/// Fields to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorPatch {
    pub code: Option<OperatorCode>,
    pub name: Option<OperatorName>,
    /// `Some(None)` removes the price.
    pub price_per_segment: Option<Option<Price>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: TagId,
    pub value: TagValue,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTag {
    pub value: TagValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub phone: PhoneNumber,
    pub operator_code: OperatorCode,
    /// Sorted by value.
    pub tags: Vec<TagValue>,
    pub time_zone: TimeZone,
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A client a filter matches, as a mailing's text sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchingClient {
    pub id: ClientId,
    pub phone: PhoneNumber,
    pub operator_code: OperatorCode,
    pub attributes: Attributes,
    pub time_zone: TimeZone,
    /// Its number opted out: a mailing suppresses its message.
    pub opted_out: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    pub phone: PhoneNumber,
    pub operator_code: OperatorCode,
    pub tags: Vec<TagValue>,
    pub time_zone: TimeZone,
    pub attributes: Attributes,
}

/// Fields to change; `None` keeps the stored value. `tags` replaces the whole set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPatch {
    pub phone: Option<PhoneNumber>,
    pub operator_code: Option<OperatorCode>,
    pub tags: Option<Vec<TagValue>>,
    pub time_zone: Option<TimeZone>,
    /// Replaces the whole object.
    pub attributes: Option<Attributes>,
}

/// Conditions on a client list; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientQuery {
    pub operator_code: Option<OperatorCode>,
    pub tag: Option<TagValue>,
    /// Digits the phone number starts with.
    pub phone_prefix: Option<String>,
    /// Attribute values the client must hold, each equal in type and value.
    pub attributes: Attributes,
    /// Only clients after this one in the list's order (by id): where a cursor left off.
    pub after: Option<ClientId>,
}

/// One page of clients: unlike other lists, its total may be estimated, and it says whether
/// clients follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPage {
    pub items: Vec<Client>,
    /// How many clients the whole list holds: exact up to [`ClientPage::EXACT_TOTAL_UP_TO`],
    /// beyond that an estimate when `total_estimated` says so.
    pub total: u64,
    pub total_estimated: bool,
    /// Whether clients follow the last one of this page.
    pub more: bool,
}

impl ClientPage {
    /// The largest total a client list always counts exactly; larger ones may be estimated.
    pub const EXACT_TOTAL_UP_TO: u64 = 1_000;
}

/// A client filter kept as a resource for mailings to reuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFilter {
    pub id: ClientFilterId,
    pub name: Option<String>,
    pub filter: ClientFilter,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSavedFilter {
    pub name: Option<String>,
    pub filter: ClientFilter,
}

/// Fields to change; `None` keeps the stored value, `Some(None)` clears the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedFilterPatch {
    pub name: Option<Option<String>>,
    pub filter: Option<ClientFilter>,
}

/// Where a mailing's filter comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterSource {
    Inline(ClientFilter),
    /// Copied from the saved filter when the mailing is written.
    Saved(ClientFilterId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailing {
    pub id: MailingId,
    pub text: MailingText,
    pub schedule: MailingSchedule,
    pub filter: ClientFilter,
    /// The saved filter the mailing's filter was copied from, while that filter exists.
    pub client_filter_id: Option<ClientFilterId>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Set while the mailing is paused.
    pub paused: Option<Paused>,
    /// Time spent in the pauses that ended; see [`Mailing::paused_time`].
    pub paused_before: Duration,
    /// How often the mailing paused itself.
    pub auto_pauses: u32,
    /// How often one of its messages waited for its client's frequency cap.
    pub cap_deferrals: u64,
    /// The mailing whose unreached clients this one resends to.
    pub resend_of: Option<MailingId>,
    /// The mailing's own cap; `None` leaves the deployment's (if any).
    pub frequency_cap: Option<FrequencyCap>,
    /// What the mailing changes of the deployment's auto-pause rule.
    pub auto_pause: AutoPauseOverride,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Mailing {
    pub fn status(&self, now: DateTime<Utc>) -> MailingStatus {
        self.schedule
            .status(now, self.cancelled_at.is_some(), self.paused.is_some())
    }

    /// The status the clock gives, as if the mailing were not paused: the rules for changing a
    /// paused mailing are those of this status.
    pub fn clock_status(&self, now: DateTime<Utc>) -> MailingStatus {
        self.schedule
            .status(now, self.cancelled_at.is_some(), false)
    }

    /// How long the mailing has been paused in all, up to `now` for a pause that lasts (or up
    /// to its end or its cancellation, once it has ended or was cancelled paused).
    pub fn paused_time(&self, now: DateTime<Utc>) -> Duration {
        let current = self.paused.as_ref().map_or(Duration::zero(), |paused| {
            (self.open_pause_until(now) - paused.since).max(Duration::zero())
        });
        self.paused_before + current
    }

    /// Until when a pause still open at `now` counts: now, or the mailing's end or its
    /// cancellation if that came first, since a pause ends with the mailing.
    pub fn open_pause_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let until = now.min(self.schedule.latest_end());
        self.cancelled_at
            .map_or(until, |cancelled| until.min(cancelled))
    }

    /// The mailing with `patch` applied, if its status at `now` allows the change.
    ///
    /// `filter` is the patch's filter already resolved by the caller (a saved filter's
    /// content and id), since reading a saved filter is storage's job.
    pub fn patched(
        &self,
        patch: &MailingPatch,
        filter: Option<(ClientFilter, Option<ClientFilterId>)>,
        now: DateTime<Utc>,
    ) -> Result<Mailing, Rejection> {
        let old = &self.schedule;
        let local_time = patch.local_time.unwrap_or(old.local_time());
        let stored = |field: &'static str, written: Option<DateTime<FixedOffset>>, current| {
            written.map_or(Ok(current), |w| {
                MailingSchedule::stored_instant(w, local_time)
                    .map_err(|rule| Rejection::Invalid { field, rule })
            })
        };
        let schedule = MailingSchedule::new(
            stored("start_at", patch.start_at, old.start_at())?,
            stored("end_at", patch.end_at, old.end_at())?,
            local_time,
            patch.send_window.unwrap_or(old.send_window()),
        )
        .map_err(|rule| Rejection::Invalid {
            field: "end_at",
            rule,
        })?;
        if patch.end_at.is_some() && schedule.latest_end() <= now {
            return Err(Rejection::Invalid {
                field: "end_at",
                rule: Invalid::InPast,
            });
        }
        let text = patch.text.clone().unwrap_or_else(|| self.text.clone());
        let (filter, client_filter_id) =
            filter.unwrap_or_else(|| (self.filter.clone(), self.client_filter_id));
        if self.resend_of.is_some() && filter != self.filter {
            return Err(Rejection::Invalid {
                field: "filter",
                rule: Invalid::FixedRecipients,
            });
        }
        let frequency_cap = patch.frequency_cap.unwrap_or(self.frequency_cap);
        let auto_pause = patch.auto_pause.unwrap_or(self.auto_pause);

        let changed: Vec<MailingField> = [
            (MailingField::Text, text != self.text),
            (MailingField::StartAt, schedule.start_at() != old.start_at()),
            (MailingField::EndAt, schedule.end_at() != old.end_at()),
            (
                MailingField::LocalTime,
                schedule.local_time() != old.local_time(),
            ),
            (
                MailingField::SendWindow,
                schedule.send_window() != old.send_window(),
            ),
            (MailingField::Filter, filter != self.filter),
            (
                MailingField::FrequencyCap,
                frequency_cap != self.frequency_cap,
            ),
            (MailingField::AutoPause, auto_pause != self.auto_pause),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect();
        check_update(self.clock_status(now), &changed)?;

        Ok(Mailing {
            text,
            schedule,
            filter,
            client_filter_id,
            frequency_cap,
            auto_pause,
            updated_at: now,
            ..self.clone()
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailingDraft {
    pub text: MailingText,
    pub schedule: MailingSchedule,
    pub filter: FilterSource,
    pub frequency_cap: Option<FrequencyCap>,
    pub auto_pause: AutoPauseOverride,
}

/// A new mailing to the clients whose messages of `original` ended in one of `statuses`, with
/// the original's text, filter, window and rules, over a new time span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendDraft {
    pub original: MailingId,
    /// Each among failed, expired and cancelled; not empty.
    pub statuses: Vec<MessageStatus>,
    /// The original's `local_time` and send window, with the new start and end.
    pub start_at: DateTime<FixedOffset>,
    pub end_at: DateTime<FixedOffset>,
}

/// Fields to change; `None` keeps the stored value. `send_window: Some(None)` removes the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailingPatch {
    pub text: Option<MailingText>,
    /// As written; see [`MailingSchedule::stored_instant`].
    pub start_at: Option<DateTime<FixedOffset>>,
    /// As written; see [`MailingSchedule::stored_instant`].
    pub end_at: Option<DateTime<FixedOffset>>,
    pub local_time: Option<bool>,
    pub send_window: Option<Option<SendWindow>>,
    pub filter: Option<FilterSource>,
    /// `Some(None)` removes the mailing's own cap.
    pub frequency_cap: Option<Option<FrequencyCap>>,
    /// Replaces the mailing's overrides as a whole.
    pub auto_pause: Option<AutoPauseOverride>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub mailing_id: MailingId,
    /// `None` once the client was deleted.
    pub client_id: Option<ClientId>,
    /// The number the message is addressed to, copied from the client when the message was
    /// created: it stays once the message is sent or its client deleted, while an unsent one
    /// follows its client to a new number. `None` only for messages whose client was deleted
    /// before messages kept their number.
    pub phone: Option<PhoneNumber>,
    pub status: MessageStatus,
    pub attempts: u32,
    /// Why the last attempt failed, or, once `expired`, why the message expired (see
    /// [`crate::message::ExpiryReason`]).
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The text its first attempt sent, rendered for its client; `None` until then.
    pub text: Option<MessageText>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub mailing_id: MailingId,
    pub client_id: ClientId,
    pub status: MessageStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set exactly when `status` is [`MessageStatus::Sent`].
    pub sent_at: Option<DateTime<Utc>>,
    /// Required when `status` is [`MessageStatus::Expired`]: why.
    pub last_error: Option<String>,
}

/// Conditions on a message list; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageQuery {
    pub mailing_id: Option<MailingId>,
    pub client_id: Option<ClientId>,
    pub status: Option<MessageStatus>,
    /// Digits the number the message is addressed to starts with.
    pub phone_prefix: Option<String>,
}

/// How many messages are in each status, and the SMS parts they took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    messages: [u64; MessageStatus::ALL.len()],
    segments: [u64; MessageStatus::ALL.len()],
}

impl StatusCounts {
    pub fn get(&self, status: MessageStatus) -> u64 {
        self.messages[Self::slot(status)]
    }

    pub fn set(&mut self, status: MessageStatus, count: u64) {
        self.messages[Self::slot(status)] = count;
    }

    pub fn total(&self) -> u64 {
        self.messages.iter().sum()
    }

    /// The parts the messages in `status` took: those attempted at least once.
    pub fn segments(&self, status: MessageStatus) -> u64 {
        self.segments[Self::slot(status)]
    }

    pub fn set_segments(&mut self, status: MessageStatus, segments: u64) {
        self.segments[Self::slot(status)] = segments;
    }

    /// The parts of the messages the provider accepted.
    pub fn segments_sent(&self) -> u64 {
        self.segments(MessageStatus::Sent)
    }

    /// Every status with its count, zeros included, in [`MessageStatus::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (MessageStatus, u64)> + '_ {
        MessageStatus::ALL
            .into_iter()
            .map(|status| (status, self.get(status)))
    }

    fn slot(status: MessageStatus) -> usize {
        MessageStatus::ALL
            .iter()
            .position(|s| *s == status)
            .expect("ALL lists every status")
    }
}

/// Counts given as `(status, count)` pairs; statuses left out count zero.
impl FromIterator<(MessageStatus, u64)> for StatusCounts {
    fn from_iter<I: IntoIterator<Item = (MessageStatus, u64)>>(pairs: I) -> Self {
        let mut counts = Self::default();
        for (status, count) in pairs {
            counts.set(status, count);
        }
        counts
    }
}
