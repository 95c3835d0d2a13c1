//! Between domain values and column values, the same way on both backends: the decoding a row
//! goes through before it becomes a record, and the column values the pipeline computes before
//! a backend's statement writes them (zone plans, retry plans, outcomes). Plain Rust, compiled
//! once; the diesel code lives in `shared/` and each backend's `pipeline.rs`.

use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use mailing_domain::events::{self, MailingEvent};
use mailing_domain::opt_out::SUPPRESSED_REASON;
use mailing_domain::store::{
    MatchingClient, OutboxEvent, Outcome, OutcomeKind, PageRequest, StatusCounts, StoreError,
    storage_instant,
};
use mailing_domain::{
    Attributes, ClientFilter, ClientId, ExpiryReason, MailingSchedule, MessageStatus, OperatorCode,
    PhoneNumber, SendPlan, TagValue, TimeZone, plan_send,
};
use std::fmt;

/// OFFSET and LIMIT as both backends take them.
pub(crate) fn bounds(page: PageRequest) -> (i64, i64) {
    (
        i64::try_from(page.offset).unwrap_or(i64::MAX),
        i64::from(page.limit),
    )
}

/// A `count(*)` as the domain counts.
pub(crate) fn total(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

/// A stored value the domain refuses: the row was written by something that skipped the
/// domain's rules (or the rules have tightened since). Reported, never unwrapped.
pub(crate) fn corrupt(table: &str, column: &str, id: i64, problem: impl fmt::Display) -> Failure {
    Failure::Store(StoreError::Internal(format!(
        "stored {table}.{column} of row {id} is invalid: {problem}"
    )))
}

/// A LIKE pattern matching text that starts with `prefix` taken literally, with `\` as the
/// escape character (the statement must name it: SQLite has no default one).
pub(crate) fn starts_with(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A filter's two lists (operator codes, tag values), in the filter's sorted order, as
/// `client_filters` and `mailings` keep them.
pub(crate) fn filter_lists(filter: &ClientFilter) -> (Vec<String>, Vec<String>) {
    (
        filter
            .operator_codes()
            .map(|code| code.as_str().to_owned())
            .collect(),
        filter.tags().map(|tag| tag.as_str().to_owned()).collect(),
    )
}

/// Rebuilds a filter from its two list columns, which `client_filters` and `mailings` share
/// under different names.
pub(crate) fn filter_from_lists(
    table: &str,
    (codes_column, codes): (&str, Vec<String>),
    (tags_column, tags): (&str, Vec<String>),
    id: i64,
) -> Result<ClientFilter, Failure> {
    let codes = codes
        .iter()
        .map(|code| OperatorCode::parse(code).map_err(|e| corrupt(table, codes_column, id, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = tags
        .iter()
        .map(|tag| TagValue::parse(tag).map_err(|e| corrupt(table, tags_column, id, e)))
        .collect::<Result<Vec<_>, _>>()?;
    ClientFilter::new(codes, tags).map_err(|e| corrupt(table, "filter", id, e))
}

/// Attributes from the JSON their column held.
pub(crate) fn attributes_from_json(
    table: &str,
    column: &str,
    id: i64,
    json: Result<serde_json::Value, impl fmt::Display>,
) -> Result<Attributes, Failure> {
    let json = json.map_err(|e| corrupt(table, column, id, e))?;
    Attributes::from_json(&json).map_err(|problems| {
        let first = problems
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        corrupt(table, column, id, first)
    })
}

pub(crate) fn message_status(raw: &str, id: i64) -> Result<MessageStatus, Failure> {
    raw.parse()
        .map_err(|e| corrupt("messages", "status", id, e))
}

/// Adds a grouped `(status, count)` row into `counts`.
pub(crate) fn add_count(
    counts: &mut StatusCounts,
    status: &str,
    count: i64,
) -> Result<(), Failure> {
    let status = counted_status(status)?;
    counts.set(status, counts.get(status) + total(count));
    Ok(())
}

/// Adds `segments` parts to `status`'s in `counts`.
pub(crate) fn add_segments(
    counts: &mut StatusCounts,
    status: &str,
    segments: i64,
) -> Result<(), Failure> {
    let status = counted_status(status)?;
    counts.set_segments(status, counts.segments(status) + total(segments));
    Ok(())
}

/// The status a row of counts is for.
fn counted_status(status: &str) -> Result<MessageStatus, Failure> {
    status.parse().map_err(|e| {
        Failure::Store(StoreError::Internal(format!(
            "stored messages.status is invalid: {e}"
        )))
    })
}

/// An event as the outbox's `payload` column holds it.
pub(crate) fn outbox_payload(event: &MailingEvent) -> String {
    String::from_utf8(events::encode(event)).expect("JSON is UTF-8")
}

/// Claimed outbox rows as events, in id order.
pub(crate) fn outbox_events(
    rows: impl IntoIterator<Item = (i64, String)>,
) -> Result<Vec<OutboxEvent>, Failure> {
    let mut claimed = rows
        .into_iter()
        .map(|(id, payload)| {
            events::decode::<MailingEvent>(payload.as_bytes())
                .map(|event| OutboxEvent { id, event })
                .map_err(|e| {
                    Failure::Store(StoreError::Internal(format!(
                        "outbox event {id} cannot be read: {e}"
                    )))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|event| event.id);
    Ok(claimed)
}

/// What the backends' raw statements return: their SQL types are the same on both.
#[derive(QueryableByName)]
pub(crate) struct IdRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
}

pub(crate) fn returned_ids(rows: Vec<IdRow>) -> Vec<i64> {
    rows.into_iter().map(|row| row.id).collect()
}

#[derive(QueryableByName)]
pub(crate) struct ClaimedEvent {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
    #[diesel(sql_type = Text)]
    pub(crate) payload: String,
}

#[derive(QueryableByName)]
pub(crate) struct CountRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) count: i64,
}

/// How many matching clients live in one zone.
#[derive(QueryableByName)]
pub(crate) struct ZoneCountRow {
    #[diesel(sql_type = Text)]
    pub(crate) time_zone: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) count: i64,
}

#[derive(QueryableByName)]
pub(crate) struct TextRow {
    #[diesel(sql_type = Text)]
    pub(crate) text: String,
}

/// A client a filter matches, as a mailing's text sees it; its attributes as JSON text.
#[derive(QueryableByName)]
pub(crate) struct MatchingRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
    #[diesel(sql_type = Text)]
    pub(crate) phone_number: String,
    #[diesel(sql_type = Text)]
    pub(crate) operator_code: String,
    #[diesel(sql_type = Text)]
    pub(crate) attributes: String,
    #[diesel(sql_type = Text)]
    pub(crate) time_zone: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) opted_out: bool,
}

impl MatchingRow {
    pub(crate) fn into_record(self) -> Result<MatchingClient, Failure> {
        let id = self.id;
        Ok(MatchingClient {
            id: ClientId(id),
            phone: PhoneNumber::parse(&self.phone_number)
                .map_err(|e| corrupt("clients", "phone_number", id, e))?,
            operator_code: OperatorCode::parse(&self.operator_code)
                .map_err(|e| corrupt("clients", "operator_code", id, e))?,
            attributes: attributes_from_json(
                "clients",
                "attributes",
                id,
                serde_json::from_str::<serde_json::Value>(&self.attributes),
            )?,
            time_zone: TimeZone::parse(&self.time_zone)
                .map_err(|e| corrupt("clients", "time_zone", id, e))?,
            opted_out: self.opted_out,
        })
    }
}

#[derive(QueryableByName)]
pub(crate) struct ZoneRow {
    #[diesel(sql_type = Text)]
    pub(crate) time_zone: String,
}

/// The plan for the clients of one zone, as the columns their messages get.
pub(crate) struct ZonePlan {
    pub(crate) status: &'static str,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) expires_at: DateTime<Utc>,
    /// Why the zone's messages expire, when they do; a message whose last attempt failed says
    /// that instead (see [`ExpiryReason::planned`]), which statements add on their own.
    pub(crate) reason: Option<String>,
}

impl ZonePlan {
    pub(crate) fn new(schedule: &MailingSchedule, zone: TimeZone, now: DateTime<Utc>) -> Self {
        match plan_send(schedule, zone.tz(), now) {
            SendPlan::At {
                send_at,
                expires_at,
            } => ZonePlan {
                status: MessageStatus::Scheduled.as_str(),
                next_attempt_at: Some(storage_instant(send_at)),
                expires_at: storage_instant(expires_at),
                reason: None,
            },
            SendPlan::Expired(too_late) => ZonePlan {
                status: MessageStatus::Expired.as_str(),
                next_attempt_at: None,
                expires_at: storage_instant(schedule.end_for(zone.tz())),
                reason: Some(ExpiryReason::planned(too_late, zone, None).to_string()),
            },
        }
    }

    pub(crate) fn expired(&self) -> bool {
        self.status == MessageStatus::Expired.as_str()
    }
}

/// A retrying message's new plan: it keeps waiting at least for its backoff, lands inside the
/// new window, or expires if that is past the new end.
pub(crate) struct RetryPlan {
    pub(crate) id: i64,
    pub(crate) status: &'static str,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    /// Why the message expires, when it does.
    pub(crate) reason: Option<String>,
}

impl RetryPlan {
    /// The plan of retrying message `id`, waiting until `next_attempt_at` since its last attempt
    /// failed with `last_error`, in `zone`.
    pub(crate) fn new(
        id: i64,
        next_attempt_at: Option<DateTime<Utc>>,
        last_error: Option<String>,
        schedule: &MailingSchedule,
        zone: TimeZone,
        now: DateTime<Utc>,
    ) -> Self {
        let not_before = next_attempt_at.map_or(now, |at| at.max(now));
        match plan_send(schedule, zone.tz(), not_before) {
            SendPlan::At { send_at, .. } => RetryPlan {
                id,
                status: MessageStatus::Retrying.as_str(),
                next_attempt_at: Some(storage_instant(send_at)),
                reason: None,
            },
            SendPlan::Expired(_) => RetryPlan {
                id,
                status: MessageStatus::Expired.as_str(),
                next_attempt_at: None,
                reason: Some(
                    match last_error {
                        Some(last_error) => ExpiryReason::NoRetryFits { last_error },
                        None => ExpiryReason::EndedBeforeTurn,
                    }
                    .to_string(),
                ),
            },
        }
    }
}

/// An outcome as the columns it writes.
pub(crate) struct OutcomeColumns {
    pub(crate) id: i64,
    pub(crate) status: &'static str,
    /// 1 when the outcome counts as an attempt, else 0.
    pub(crate) attempted: i32,
    pub(crate) error: Option<String>,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) sent_at: Option<DateTime<Utc>>,
    /// The claim the outcome must still find, if any.
    pub(crate) claimed_at: Option<DateTime<Utc>>,
    /// The text an attempt sent, its encoding and parts; `None` leaves the message's.
    pub(crate) text: Option<String>,
    pub(crate) encoding: Option<&'static str>,
    pub(crate) segments: Option<i32>,
}

impl OutcomeColumns {
    pub(crate) fn of(outcome: &Outcome) -> Self {
        let kind = &outcome.kind;
        let (error, next_attempt_at, sent_at) = match kind {
            OutcomeKind::Sent { at } => (None, None, Some(*at)),
            OutcomeKind::Retry {
                error,
                next_attempt_at,
            } => (Some(error.clone()), Some(*next_attempt_at), None),
            OutcomeKind::Failed { error } => (Some(error.clone()), None, None),
            OutcomeKind::Deferred { next_attempt_at } => (None, Some(*next_attempt_at), None),
            OutcomeKind::Expired { reason } => (Some(reason.to_string()), None, None),
            OutcomeKind::Cancelled => (None, None, None),
            OutcomeKind::Suppressed => (Some(SUPPRESSED_REASON.to_owned()), None, None),
        };
        Self {
            id: outcome.message_id.0,
            status: kind.status().as_str(),
            attempted: i32::from(kind.attempted()),
            error,
            next_attempt_at: next_attempt_at.map(storage_instant),
            sent_at: sent_at.map(storage_instant),
            claimed_at: outcome.claimed_at.map(storage_instant),
            text: outcome.text.as_ref().map(|sent| sent.text.clone()),
            encoding: outcome.text.as_ref().map(|sent| sent.encoding.as_str()),
            segments: outcome
                .text
                .as_ref()
                .map(|sent| i32::try_from(sent.segments).unwrap_or(i32::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::starts_with;

    #[test]
    fn prefix_patterns_take_wildcards_literally() {
        assert_eq!(starts_with("7985"), "7985%");
        assert_eq!(starts_with("7_%\\"), "7\\_\\%\\\\%");
    }
}
