//! What the daily report reads (the mailings active in a span of time, what they hold now and
//! what happened to them in the span, and the circuit breakers' trips) and its once-a-day
//! bookkeeping: one row per day reported on, which a scheduler claims before it sends.

use crate::campaign::Pause;
use crate::store::{Mailing, StatusCounts, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};

/// A span of time, `from` included, `to` not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A mailing that was active in a span: what it holds now, and what happened in the span.
#[derive(Debug, Clone)]
pub struct MailingActivity {
    pub mailing: Mailing,
    /// Its messages by status now, as its statistics count them.
    pub now: StatusCounts,
    pub in_span: SpanCounts,
    /// Its pauses that lasted into the span, oldest first.
    pub pauses: Vec<Pause>,
}

/// What became of a mailing's messages within a span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanCounts {
    /// Messages the provider accepted.
    pub sent: u64,
    /// Their SMS parts.
    pub segments_sent: u64,
    /// Of those sent, how many needed more than one attempt.
    pub sent_after_retry: u64,
    /// Messages the provider refused for good.
    pub failed: u64,
    /// Messages the mailing's end overtook.
    pub expired: u64,
    /// Why messages failed, most common first.
    pub failure_reasons: Vec<Reason>,
    /// Why messages expired, most common first.
    pub expiry_reasons: Vec<Reason>,
}

/// One reason and how many messages it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub text: String,
    pub messages: u64,
}

/// How often the senders' circuit breakers stopped attempts in a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreakerTrips {
    /// Because the provider kept failing.
    pub provider_failing: u64,
    /// Because the provider rejected the token.
    pub token_rejected: u64,
}

/// Why a sender's circuit breaker stopped attempts, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripReason {
    ProviderFailing,
    TokenRejected,
}

impl TripReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TripReason::ProviderFailing => "provider_failing",
            TripReason::TokenRejected => "token_rejected",
        }
    }
}

/// Where a day's e-mail stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyReportRecord {
    pub date: NaiveDate,
    pub time_zone: String,
    /// Attempts to send it so far.
    pub attempts: u32,
    /// Who is sending it now, if anyone.
    pub claimed_by: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    /// The last failed attempt's error, until it is sent.
    pub last_error: Option<String>,
    pub sent: Option<ReportSent>,
}

/// A report e-mail the SMTP server took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSent {
    pub at: DateTime<Utc>,
    /// Whom it went to, comma-separated.
    pub recipients: String,
    /// The Message-ID it carried.
    pub message_id: String,
}

/// The report's reads, and the rows that make each day's e-mail go out once; each call one
/// transaction.
pub trait ReportStore {
    /// The mailings, not deleted, whose time to send overlapped the span and that were not
    /// cancelled before it, oldest first, with their counts now and in the span and their
    /// pauses that lasted into it.
    fn mailing_activity(&self, span: Span) -> StoreResult<Vec<MailingActivity>>;
    /// How often circuit breakers tripped in the span.
    fn breaker_trips(&self, span: Span) -> StoreResult<BreakerTrips>;
    /// Claims the sending of `date`'s e-mail for `claimer` until `lease_until`, if it is not
    /// sent, its next attempt is due at `now` and nobody else holds it. Returns the attempt's
    /// number (1 for the first), or `None` when the claim is not for this caller.
    fn claim_daily_report(
        &self,
        date: NaiveDate,
        time_zone: &str,
        claimer: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<u32>>;
    /// Records that `date`'s e-mail was sent, and lets go of any claim on it. Returns false
    /// when it was recorded sent already (the first sending stays recorded).
    fn daily_report_sent(
        &self,
        date: NaiveDate,
        time_zone: &str,
        sent: &ReportSent,
    ) -> StoreResult<bool>;
    /// Records a failed attempt by `claimer`, and when to try again; a claim taken over by
    /// someone else meanwhile, or a report sent meanwhile, is left alone.
    fn daily_report_failed(
        &self,
        date: NaiveDate,
        claimer: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Where `date`'s e-mail stands; `None` before anyone tried to send it.
    fn daily_report(&self, date: NaiveDate) -> StoreResult<Option<DailyReportRecord>>;
}

/// Where the senders record their circuit breakers' trips for the report.
pub trait BreakerTripLog {
    /// Records trips of a sender's circuit breaker, each with when it tripped.
    fn record_breaker_trips(&self, trips: &[(DateTime<Utc>, TripReason)]) -> StoreResult<()>;
}
