//! The daily report's reads, the circuit breakers' trips, and the one row per reported day that
//! makes its e-mail go out once.

use super::campaign::pauses_during;
use super::mailings::MailingRow;
use super::messages::counts_by_mailing;
use super::schema::{breaker_trips, daily_reports, mailings, messages};
use super::{BackendStore, Conn};
use crate::columns::corrupt;
use crate::errors::Failure;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use mailing_domain::MailingId;
use mailing_domain::store::{
    BreakerTripLog, BreakerTrips, DailyReportRecord, MailingActivity, Reason, ReportSent,
    ReportStore, Span, SpanCounts, StoreResult, TripReason, storage_instant,
};
use std::collections::HashMap;

/// How far a mailing sent in its clients' local time reaches beyond its stored (wall-clock)
/// start and end: the widest UTC offsets in use.
const LOCAL_TIME_REACH_HOURS: i64 = 14;

/// Reasons kept per mailing and kind: the report names the most common few.
const REASONS_KEPT: usize = 3;

fn count() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>("CAST(COUNT(*) AS BIGINT)")
}

/// The visible mailings whose time to send overlapped `span`.
fn active_mailings(conn: &mut Conn, span: Span) -> Result<Vec<MailingRow>, Failure> {
    let reach = chrono::Duration::hours(LOCAL_TIME_REACH_HOURS);
    Ok(mailings::table
        .filter(mailings::deleted_at.is_null())
        .filter(mailings::created_at.lt(span.to))
        .filter(
            mailings::cancelled_at
                .is_null()
                .or(mailings::cancelled_at.gt(span.from)),
        )
        .filter(
            mailings::local_time
                .eq(false)
                .and(mailings::start_at.lt(span.to))
                .and(mailings::end_at.gt(span.from))
                .or(mailings::local_time
                    .eq(true)
                    .and(mailings::start_at.lt(span.to + reach))
                    .and(mailings::end_at.gt(span.from - reach))),
        )
        .order(mailings::id.asc())
        .select(MailingRow::as_select())
        .load(conn)?)
}

/// What became of the messages of the mailings `ids` within `span`, by mailing.
fn span_counts(
    conn: &mut Conn,
    ids: &[i64],
    span: Span,
) -> Result<HashMap<i64, SpanCounts>, Failure> {
    let mut by_mailing: HashMap<i64, SpanCounts> = HashMap::new();
    let sent: Vec<(i64, i64, i64, i64)> = messages::table
        .filter(messages::mailing_id.eq_any(ids))
        .filter(messages::status.eq("sent"))
        .filter(messages::sent_at.ge(span.from))
        .filter(messages::sent_at.lt(span.to))
        .group_by(messages::mailing_id)
        .select((
            messages::mailing_id,
            count(),
            sql::<BigInt>("CAST(COALESCE(SUM(messages.segments), 0) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(CASE WHEN messages.attempts > 1 THEN 1 ELSE 0 END) AS BIGINT)"),
        ))
        .load(conn)?;
    for (mailing, messages, segments, retried) in sent {
        let counts = by_mailing.entry(mailing).or_default();
        counts.sent = messages.max(0) as u64;
        counts.segments_sent = segments.max(0) as u64;
        counts.sent_after_retry = retried.max(0) as u64;
    }
    // A failed or expired message is not written again, so its last write is when it ended.
    let ended: Vec<(i64, String, Option<String>, i64)> = messages::table
        .filter(messages::mailing_id.eq_any(ids))
        .filter(messages::status.eq_any(["failed", "expired"]))
        .filter(messages::updated_at.ge(span.from))
        .filter(messages::updated_at.lt(span.to))
        .group_by((messages::mailing_id, messages::status, messages::last_error))
        .select((
            messages::mailing_id,
            messages::status,
            messages::last_error,
            count(),
        ))
        .load(conn)?;
    for (mailing, status, error, messages) in ended {
        let counts = by_mailing.entry(mailing).or_default();
        let messages = messages.max(0) as u64;
        let reason = Reason {
            text: error.unwrap_or_else(|| "no reason recorded".to_owned()),
            messages,
        };
        if status == "failed" {
            counts.failed += messages;
            counts.failure_reasons.push(reason);
        } else {
            counts.expired += messages;
            counts.expiry_reasons.push(reason);
        }
    }
    for counts in by_mailing.values_mut() {
        for reasons in [&mut counts.failure_reasons, &mut counts.expiry_reasons] {
            reasons.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.text.cmp(&b.text)));
            reasons.truncate(REASONS_KEPT);
        }
    }
    Ok(by_mailing)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = daily_reports, check_for_backend(super::Backend))]
struct DailyReportRow {
    report_date: String,
    time_zone: String,
    attempts: i32,
    claimed_by: Option<String>,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    recipients: Option<String>,
    message_id: Option<String>,
}

impl DailyReportRow {
    fn into_record(self) -> Result<DailyReportRecord, Failure> {
        let date = NaiveDate::parse_from_str(&self.report_date, "%Y-%m-%d")
            .map_err(|e| corrupt("daily_reports", "report_date", 0, e))?;
        let sent = match (self.sent_at, self.recipients, self.message_id) {
            (Some(at), Some(recipients), Some(message_id)) => Some(ReportSent {
                at,
                recipients,
                message_id,
            }),
            _ => None,
        };
        Ok(DailyReportRecord {
            date,
            time_zone: self.time_zone,
            attempts: self.attempts.max(0) as u32,
            claimed_by: self.claimed_by,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
            sent,
        })
    }
}

/// Makes `date`'s row exist, due at `due`, so the statements that follow have one to change.
fn ensure_row(
    conn: &mut Conn,
    date: &str,
    time_zone: &str,
    due: DateTime<Utc>,
) -> Result<(), Failure> {
    diesel::insert_into(daily_reports::table)
        .values((
            daily_reports::report_date.eq(date),
            daily_reports::time_zone.eq(time_zone),
            daily_reports::attempts.eq(0),
            daily_reports::next_attempt_at.eq(due),
            daily_reports::created_at.eq(due),
            daily_reports::updated_at.eq(due),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

impl ReportStore for BackendStore {
    fn mailing_activity(&self, span: Span) -> StoreResult<Vec<MailingActivity>> {
        self.read(|conn| {
            let rows = active_mailings(conn, span)?;
            let ids: Vec<i64> = rows.iter().map(|row| row.id()).collect();
            let mut now = counts_by_mailing(conn, &ids)?;
            let mut in_span = span_counts(conn, &ids, span)?;
            let mut pauses = pauses_during(conn, &ids, span)?;
            rows.into_iter()
                .map(|row| {
                    let mailing = row.into_record()?;
                    let id = mailing.id.0;
                    Ok(MailingActivity {
                        now: now.remove(&MailingId(id)).unwrap_or_default(),
                        in_span: in_span.remove(&id).unwrap_or_default(),
                        pauses: pauses.remove(&id).unwrap_or_default(),
                        mailing,
                    })
                })
                .collect()
        })
    }

    fn breaker_trips(&self, span: Span) -> StoreResult<BreakerTrips> {
        self.read(|conn| {
            let rows: Vec<(String, i64)> = breaker_trips::table
                .filter(breaker_trips::at.ge(span.from))
                .filter(breaker_trips::at.lt(span.to))
                .group_by(breaker_trips::reason)
                .select((breaker_trips::reason, count()))
                .load(conn)?;
            let mut trips = BreakerTrips::default();
            for (reason, times) in rows {
                let times = times.max(0) as u64;
                match reason.as_str() {
                    "provider_failing" => trips.provider_failing += times,
                    _ => trips.token_rejected += times,
                }
            }
            Ok(trips)
        })
    }

    fn claim_daily_report(
        &self,
        date: NaiveDate,
        time_zone: &str,
        claimer: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<u32>> {
        let date = date.to_string();
        let (lease_until, now) = (storage_instant(lease_until), storage_instant(now));
        self.write(|conn| {
            ensure_row(conn, &date, time_zone, now)?;
            // Two schedulers claiming at once: the second's update waits for the first's
            // commit and then finds the claim taken.
            let attempt: Option<i32> = diesel::update(
                daily_reports::table
                    .filter(daily_reports::report_date.eq(&date))
                    .filter(daily_reports::sent_at.is_null())
                    .filter(daily_reports::next_attempt_at.le(now))
                    .filter(
                        daily_reports::claimed_until
                            .is_null()
                            .or(daily_reports::claimed_until.le(now)),
                    ),
            )
            .set((
                daily_reports::attempts.eq(daily_reports::attempts + 1),
                daily_reports::claimed_by.eq(claimer),
                daily_reports::claimed_until.eq(lease_until),
                daily_reports::updated_at.eq(now),
            ))
            .returning(daily_reports::attempts)
            .get_result(conn)
            .optional()?;
            Ok(attempt.map(|attempt| attempt.max(0) as u32))
        })
    }

    fn daily_report_sent(
        &self,
        date: NaiveDate,
        time_zone: &str,
        sent: &ReportSent,
    ) -> StoreResult<bool> {
        let date = date.to_string();
        let at = storage_instant(sent.at);
        self.write(|conn| {
            ensure_row(conn, &date, time_zone, at)?;
            let first = diesel::update(
                daily_reports::table
                    .filter(daily_reports::report_date.eq(&date))
                    .filter(daily_reports::sent_at.is_null()),
            )
            .set((
                daily_reports::sent_at.eq(at),
                daily_reports::recipients.eq(&sent.recipients),
                daily_reports::message_id.eq(&sent.message_id),
                daily_reports::claimed_by.eq(None::<String>),
                daily_reports::claimed_until.eq(None::<DateTime<Utc>>),
                daily_reports::last_error.eq(None::<String>),
                daily_reports::updated_at.eq(at),
            ))
            .execute(conn)?;
            Ok(first == 1)
        })
    }

    fn daily_report_failed(
        &self,
        date: NaiveDate,
        claimer: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let date = date.to_string();
        let (next_attempt_at, now) = (storage_instant(next_attempt_at), storage_instant(now));
        self.write(|conn| {
            diesel::update(
                daily_reports::table
                    .filter(daily_reports::report_date.eq(&date))
                    .filter(daily_reports::claimed_by.eq(claimer))
                    .filter(daily_reports::sent_at.is_null()),
            )
            .set((
                daily_reports::last_error.eq(error),
                daily_reports::next_attempt_at.eq(next_attempt_at),
                daily_reports::claimed_by.eq(None::<String>),
                daily_reports::claimed_until.eq(None::<DateTime<Utc>>),
                daily_reports::updated_at.eq(now),
            ))
            .execute(conn)?;
            Ok(())
        })
    }

    fn daily_report(&self, date: NaiveDate) -> StoreResult<Option<DailyReportRecord>> {
        let date = date.to_string();
        self.read(|conn| {
            daily_reports::table
                .filter(daily_reports::report_date.eq(&date))
                .select(DailyReportRow::as_select())
                .first(conn)
                .optional()?
                .map(DailyReportRow::into_record)
                .transpose()
        })
    }
}

impl BreakerTripLog for BackendStore {
    fn record_breaker_trips(&self, trips: &[(DateTime<Utc>, TripReason)]) -> StoreResult<()> {
        if trips.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = trips
            .iter()
            .map(|(at, reason)| {
                (
                    breaker_trips::at.eq(storage_instant(*at)),
                    breaker_trips::reason.eq(reason.as_str()),
                )
            })
            .collect();
        self.write(|conn| {
            diesel::insert_into(breaker_trips::table)
                .values(&rows)
                .execute(conn)?;
            Ok(())
        })
    }
}
