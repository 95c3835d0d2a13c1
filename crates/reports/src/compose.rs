//! The report of one day, composed from the store: each mailing that was active that day with
//! what it holds now and what happened to it that day, the day's totals beside the day
//! before's, and how the provider fared. The API, the admin UI and the e-mail all show this.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use mailing_domain::MessageStatus;
use mailing_domain::campaign::PauseReason;
use mailing_domain::report::day_span;
use mailing_domain::store::{
    DailyReportRecord, MailingActivity, Reason, ReportStore, Span, StatusCounts, StoreResult,
};
use paperclip::actix::Apiv2Schema;
use serde::Serialize;

/// Message counts by status; every status is present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Apiv2Schema)]
pub struct ByStatus {
    pub scheduled: u64,
    pub queued: u64,
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
    pub expired: u64,
    pub cancelled: u64,
    /// Never sent because the number opted out.
    pub suppressed: u64,
}

impl From<&StatusCounts> for ByStatus {
    fn from(counts: &StatusCounts) -> Self {
        Self {
            scheduled: counts.get(MessageStatus::Scheduled),
            queued: counts.get(MessageStatus::Queued),
            sent: counts.get(MessageStatus::Sent),
            retrying: counts.get(MessageStatus::Retrying),
            failed: counts.get(MessageStatus::Failed),
            expired: counts.get(MessageStatus::Expired),
            cancelled: counts.get(MessageStatus::Cancelled),
            suppressed: counts.get(MessageStatus::Suppressed),
        }
    }
}

/// The daily statistics report.
#[derive(Debug, Clone, Serialize, Apiv2Schema)]
pub struct DailyReport {
    /// The day reported on, YYYY-MM-DD, in `time_zone`.
    pub date: String,
    /// The zone the day is counted in (MAILING_REPORT_TIME_ZONE).
    pub time_zone: String,
    /// The day's first instant.
    pub from: DateTime<Utc>,
    /// The next day's first instant: the day is `from` up to, not including, `to`.
    pub to: DateTime<Utc>,
    /// When the report was composed: the mailings' counts `now` are as of then.
    pub generated_at: DateTime<Utc>,
    /// What happened that day, all mailings together.
    pub totals: DayTotals,
    /// The same for the day before, to compare with.
    pub previous_day: DayTotals,
    /// How the delivery provider fared that day.
    pub provider: ProviderHealth,
    /// Each mailing active that day, oldest first.
    pub mailings: Vec<MailingReport>,
    /// Where that day's e-mail stands; `null` before anyone tried to send it.
    pub email: Option<EmailState>,
}

/// What happened in one day, all mailings together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Apiv2Schema)]
pub struct DayTotals {
    /// Mailings whose time to send overlapped the day.
    pub mailings: u64,
    /// Messages the provider accepted that day.
    pub sent: u64,
    /// Their SMS parts.
    pub segments_sent: u64,
    /// Messages the provider refused for good that day.
    pub failed: u64,
    /// Messages whose mailing ended that day before they could be delivered.
    pub expired: u64,
    /// sent / (sent + failed + expired) of that day; `null` when none of them happened.
    pub delivery_rate: Option<f64>,
    /// Of the messages sent that day, the share that needed more than one attempt; `null`
    /// when none was sent.
    pub retry_share: Option<f64>,
    /// Pauses that began that day, by hand or by the service.
    pub pauses: u64,
}

/// How the delivery provider fared in the day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Apiv2Schema)]
pub struct ProviderHealth {
    /// Times a sender's circuit breaker stopped attempts because the provider kept failing.
    pub breaker_trips: u64,
    /// Times the provider rejected the token (MAILING_PROBE_TOKEN), which pauses all sending.
    pub token_rejections: u64,
    /// Of the messages sent, the share that needed more than one attempt; `null` when none.
    pub retry_share: Option<f64>,
    /// Mailings that paused themselves because most of their attempts failed.
    pub auto_pauses: u64,
}

/// One mailing active in the day.
#[derive(Debug, Clone, Serialize, Apiv2Schema)]
pub struct MailingReport {
    pub id: i64,
    pub text: String,
    /// Its status when the report was composed.
    pub status: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    /// All its messages, when the report was composed.
    pub total: u64,
    /// Its messages by status when the report was composed, as its statistics show them.
    pub now: ByStatus,
    /// SMS parts of all its messages the provider accepted, when the report was composed.
    pub segments_sent: u64,
    /// sent / (sent + failed + expired) of all its messages so far; `null` while none of them
    /// has an outcome.
    pub delivery_rate: Option<f64>,
    /// What happened to its messages that day.
    pub day: MailingDay,
    /// Its pauses that lasted into the day, oldest first.
    pub pauses: Vec<ReportPause>,
}

/// What happened to one mailing's messages in the day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Apiv2Schema)]
pub struct MailingDay {
    pub sent: u64,
    pub segments_sent: u64,
    /// Of those sent, how many needed more than one attempt.
    pub sent_after_retry: u64,
    pub failed: u64,
    pub expired: u64,
    /// Why messages failed that day, the most common three first.
    pub failure_reasons: Vec<ReasonCount>,
    /// Why messages expired that day, the most common three first.
    pub expiry_reasons: Vec<ReasonCount>,
}

/// A reason and how many messages it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Apiv2Schema)]
pub struct ReasonCount {
    pub reason: String,
    pub messages: u64,
}

/// A pause of a mailing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Apiv2Schema)]
pub struct ReportPause {
    /// `manual` or `provider_failing`.
    pub reason: String,
    /// For a pause the service made, what it saw.
    pub detail: Option<String>,
    pub paused_at: DateTime<Utc>,
    /// `null` while it lasts.
    pub resumed_at: Option<DateTime<Utc>>,
}

/// Where a day's e-mail stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Apiv2Schema)]
pub struct EmailState {
    /// `sent`, `sending` (a scheduler holds it now), `retrying` (the last attempt failed) or
    /// `pending` (not tried yet).
    pub state: String,
    pub attempts: u32,
    pub sent_at: Option<DateTime<Utc>>,
    /// Whom it went to, comma-separated, once sent.
    pub recipients: Option<String>,
    pub message_id: Option<String>,
    /// The last failed attempt's error, while it is not sent.
    pub last_error: Option<String>,
    /// When it is tried next, while it is not sent.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl EmailState {
    /// Every `state`, in the order a day's e-mail goes through them.
    pub const STATES: &'static [&'static str] = &["pending", "sending", "retrying", "sent"];
}

impl From<&DailyReportRecord> for EmailState {
    fn from(record: &DailyReportRecord) -> Self {
        let state = if record.sent.is_some() {
            "sent"
        } else if record.claimed_by.is_some() {
            "sending"
        } else if record.last_error.is_some() {
            "retrying"
        } else {
            "pending"
        };
        let unsent = record.sent.is_none();
        Self {
            state: state.to_owned(),
            attempts: record.attempts,
            sent_at: record.sent.as_ref().map(|sent| sent.at),
            recipients: record.sent.as_ref().map(|sent| sent.recipients.clone()),
            message_id: record.sent.as_ref().map(|sent| sent.message_id.clone()),
            last_error: record.last_error.clone().filter(|_| unsent),
            next_attempt_at: unsent.then_some(record.next_attempt_at),
        }
    }
}

/// `part / whole`, or `None` for an empty whole.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Composes the report of `date` in `zone`, as the store holds it at `now`.
pub fn compose(
    store: &(impl ReportStore + ?Sized),
    date: NaiveDate,
    zone: Tz,
    now: DateTime<Utc>,
) -> StoreResult<DailyReport> {
    let (from, to) = day_span(date, zone);
    let span = Span { from, to };
    let activity = store.mailing_activity(span)?;
    let previous = date.checked_sub_days(Days::new(1)).unwrap_or(date);
    let (previous_from, previous_to) = day_span(previous, zone);
    let previous_span = Span {
        from: previous_from,
        to: previous_to,
    };
    let previous_activity = store.mailing_activity(previous_span)?;
    let trips = store.breaker_trips(span)?;
    let email = store.daily_report(date)?.as_ref().map(EmailState::from);
    let totals = day_totals(&activity, span);
    let auto_pauses = activity
        .iter()
        .flat_map(|mailing| &mailing.pauses)
        .filter(|pause| pause.reason == PauseReason::ProviderFailing && began_in(pause, span))
        .count() as u64;
    Ok(DailyReport {
        date: date.to_string(),
        time_zone: zone.name().to_owned(),
        from,
        to,
        generated_at: now,
        provider: ProviderHealth {
            breaker_trips: trips.provider_failing,
            token_rejections: trips.token_rejected,
            retry_share: totals.retry_share,
            auto_pauses,
        },
        previous_day: day_totals(&previous_activity, previous_span),
        totals,
        mailings: activity
            .iter()
            .map(|mailing| mailing_report(mailing, now))
            .collect(),
        email,
    })
}

fn began_in(pause: &mailing_domain::campaign::Pause, span: Span) -> bool {
    pause.paused_at >= span.from && pause.paused_at < span.to
}

fn day_totals(activity: &[MailingActivity], span: Span) -> DayTotals {
    let mut totals = DayTotals {
        mailings: activity.len() as u64,
        ..DayTotals::default()
    };
    let mut retried = 0;
    for mailing in activity {
        let day = &mailing.in_span;
        totals.sent += day.sent;
        totals.segments_sent += day.segments_sent;
        totals.failed += day.failed;
        totals.expired += day.expired;
        retried += day.sent_after_retry;
        totals.pauses += mailing
            .pauses
            .iter()
            .filter(|pause| began_in(pause, span))
            .count() as u64;
    }
    totals.delivery_rate = share(totals.sent, totals.sent + totals.failed + totals.expired);
    totals.retry_share = share(retried, totals.sent);
    totals
}

fn reasons(reasons: &[Reason]) -> Vec<ReasonCount> {
    reasons
        .iter()
        .map(|reason| ReasonCount {
            reason: reason.text.clone(),
            messages: reason.messages,
        })
        .collect()
}

fn mailing_report(activity: &MailingActivity, now: DateTime<Utc>) -> MailingReport {
    let mailing = &activity.mailing;
    let counts = ByStatus::from(&activity.now);
    let day = &activity.in_span;
    MailingReport {
        id: mailing.id.0,
        text: mailing.text.as_str().to_owned(),
        status: mailing.status(now).as_str().to_owned(),
        start_at: mailing.schedule.start_at(),
        end_at: mailing.schedule.end_at(),
        total: activity.now.total(),
        segments_sent: activity.now.segments_sent(),
        delivery_rate: share(counts.sent, counts.sent + counts.failed + counts.expired),
        now: counts,
        day: MailingDay {
            sent: day.sent,
            segments_sent: day.segments_sent,
            sent_after_retry: day.sent_after_retry,
            failed: day.failed,
            expired: day.expired,
            failure_reasons: reasons(&day.failure_reasons),
            expiry_reasons: reasons(&day.expiry_reasons),
        },
        pauses: activity
            .pauses
            .iter()
            .map(|pause| ReportPause {
                reason: pause.reason.as_str().to_owned(),
                detail: pause.detail.clone(),
                paused_at: pause.paused_at,
                resumed_at: pause.resumed_at,
            })
            .collect(),
    }
}
