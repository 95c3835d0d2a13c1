//! The scheduler's set-based work: expanding mailings into messages per time zone, claiming
//! due messages, and taking back or expiring what is stuck or late. The statements that claim,
//! expand and replan in bulk are each backend's own (`pipeline.rs`); the rest is shared.

use super::dialect;
use super::mailings::MailingRow;
use super::messages::ID_SLICE;
use super::pipeline;
use super::schema::{clients, mailing_recipients, mailings, messages};
use super::{Backend, BackendStore, Conn};
use crate::columns::{RetryPlan, ZonePlan, corrupt, total};
use crate::errors::Failure;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::dsl;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::sql_types::{Nullable, Text};
use mailing_domain::store::{Expansion, SchedulerStore, StoreResult, storage_instant};
use mailing_domain::{
    ExpiryReason, MailingId, MailingSchedule, MessageId, MessageStatus, TimeZone,
};

/// How far ahead of a local-time mailing's wall-clock start the earliest zone (UTC+14) starts.
const EARLIEST_ZONE_LEAD: TimeDelta = TimeDelta::hours(14);

/// How far behind a local-time mailing's wall-clock end the latest zone (UTC-12) ends.
const LATEST_ZONE_LAG: TimeDelta = TimeDelta::hours(12);

/// The statuses of messages waiting for their send time, which a claim takes them from.
fn waiting() -> [&'static str; 2] {
    [MessageStatus::Scheduled, MessageStatus::Retrying].map(MessageStatus::as_str)
}

/// A claimed message going back to waiting, due again at `next_attempt_at`: its claim ends.
#[derive(AsChangeset)]
#[diesel(table_name = messages, treat_none_as_null = true)]
struct Unclaimed {
    status: &'static str,
    queued_at: Option<DateTime<Utc>>,
    claim_renewed_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
}

impl Unclaimed {
    fn due_at(next_attempt_at: DateTime<Utc>) -> Self {
        Unclaimed {
            status: MessageStatus::Scheduled.as_str(),
            queued_at: None,
            claim_renewed_at: None,
            next_attempt_at: Some(next_attempt_at),
        }
    }
}

/// Why a waiting message expires when the mailing's end overtakes it: the failure of its last
/// attempt, if one failed, or else that its turn never came (see [`ExpiryReason`]); one
/// expression, so that a whole backlog expires in one statement.
fn ended_while_waiting() -> SqlLiteral<Nullable<Text>, impl QueryFragment<Backend> + QueryId> {
    dsl::sql::<Nullable<Text>>("COALESCE(")
        .bind::<Text, _>(ExpiryReason::ENDED_WHILE_FAILING)
        .sql(" || messages.last_error, ")
        .bind::<Text, _>(ExpiryReason::ENDED_BEFORE_TURN)
        .sql(")")
}

/// The mailing `id` while the scheduler may still work on it: neither cancelled nor deleted.
/// Unboxed, so that it can be locked.
#[dsl::auto_type(no_type_alias)]
fn open_mailing(id: i64) -> _ {
    mailings::table
        .filter(mailings::id.eq(id))
        .filter(mailings::deleted_at.is_null())
        .filter(mailings::cancelled_at.is_null())
}

/// The time zones of a resend's recipients.
fn recipient_zones(conn: &mut Conn, id: MailingId) -> Result<Vec<String>, Failure> {
    Ok(clients::table
        .inner_join(mailing_recipients::table)
        .filter(mailing_recipients::mailing_id.eq(id.0))
        .select(clients::time_zone)
        .distinct()
        .load(conn)?)
}

fn zone(raw: &str, mailing: MailingId) -> Result<TimeZone, Failure> {
    TimeZone::parse(raw).map_err(|e| corrupt("clients", "time_zone", mailing.0, e))
}

/// Plans each retry of one zone from its own backoff time.
fn replan_retries(
    conn: &mut Conn,
    schedule: &MailingSchedule,
    id: MailingId,
    raw_zone: &str,
    zone: TimeZone,
    now: DateTime<Utc>,
) -> Result<u64, Failure> {
    let retries: Vec<(i64, Option<DateTime<Utc>>, Option<String>)> = messages::table
        .inner_join(clients::table)
        .filter(messages::mailing_id.eq(id.0))
        .filter(clients::time_zone.eq(raw_zone))
        .filter(messages::status.eq(MessageStatus::Retrying.as_str()))
        .select((
            messages::id,
            messages::next_attempt_at,
            messages::last_error,
        ))
        .load(conn)?;
    if retries.is_empty() {
        return Ok(0);
    }
    let plans: Vec<RetryPlan> = retries
        .into_iter()
        .map(|(id, next_attempt_at, last_error)| {
            RetryPlan::new(id, next_attempt_at, last_error, schedule, zone, now)
        })
        .collect();
    let expires_at = storage_instant(schedule.end_for(zone.tz()));
    Ok(pipeline::write_retry_plans(conn, &plans, expires_at)? as u64)
}

impl SchedulerStore for BackendStore {
    fn mailings_to_expand(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailingId>> {
        let now = storage_instant(now);
        self.read(|conn| {
            // A local-time mailing starts first where the clock is furthest ahead.
            let ids: Vec<i64> = mailings::table
                .filter(mailings::expanded_at.is_null())
                .filter(mailings::cancelled_at.is_null())
                .filter(mailings::deleted_at.is_null())
                .filter(mailings::start_at.le(now + EARLIEST_ZONE_LEAD))
                .filter(mailings::local_time.or(mailings::start_at.le(now)))
                .order((mailings::start_at.asc(), mailings::id.asc()))
                .limit(i64::from(limit))
                .select(mailings::id)
                .load(conn)?;
            Ok(ids.into_iter().map(MailingId).collect())
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn expand_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Option<Expansion>> {
        self.write(|conn| {
            // SKIP LOCKED: a replica already expanding this mailing keeps it.
            let row: Option<MailingRow> = dialect::for_update_skip_locked!(
                open_mailing(id.0)
                    .filter(mailings::expanded_at.is_null())
                    .select(MailingRow::as_select())
            )
            .first(conn)
            .optional()?;
            let Some(row) = row else {
                return Ok(None);
            };
            let mailing = row.into_record()?;
            let zones = if mailing.resend_of.is_some() {
                recipient_zones(conn, id)?
            } else {
                pipeline::zones_matching(conn, &mailing.filter)?
            };
            let plans = zones
                .iter()
                .map(|raw| {
                    Ok((
                        raw.as_str(),
                        ZonePlan::new(&mailing.schedule, zone(raw, id)?, now),
                    ))
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            // The mailing is held, so no messages of it can come in meanwhile; it usually has
            // none yet, and a plain insert is cheaper than one that checks each pair.
            let skip_existing = diesel::select(dsl::exists(
                messages::table.filter(messages::mailing_id.eq(id.0)),
            ))
            .get_result::<bool>(conn)?;
            // One statement for the zones planned to wait, one for those already expired, so
            // each count comes back on its own.
            let mut expansion = Expansion::default();
            let mut suppressed = suppressed_count(conn, id)?;
            for expired in [false, true] {
                let group: Vec<(&str, &ZonePlan)> = plans
                    .iter()
                    .filter(|(_, plan)| plan.expired() == expired)
                    .map(|(raw, plan)| (*raw, plan))
                    .collect();
                if group.is_empty() {
                    continue;
                }
                let inserted = pipeline::insert_planned_messages(
                    conn,
                    id,
                    &mailing.filter,
                    &group,
                    skip_existing,
                    mailing.resend_of.is_some(),
                )? as u64;
                // Numbers that opted out got their messages suppressed whatever their zone's
                // plan; the count of the mailing's suppressed messages tells how many.
                let now_suppressed = suppressed_count(conn, id)?;
                let planned = inserted - (now_suppressed - suppressed);
                expansion.suppressed += now_suppressed - suppressed;
                suppressed = now_suppressed;
                if expired {
                    expansion.expired += planned;
                } else {
                    expansion.scheduled += planned;
                }
            }
            diesel::update(mailings::table.find(id.0))
                .set((
                    mailings::expanded_at.eq(storage_instant(now)),
                    mailings::updated_at.eq(dialect::now()),
                ))
                .execute(conn)?;
            Ok(Some(expansion))
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn replan_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            // Hold the mailing so a concurrent update waits for this plan to land.
            let row: Option<MailingRow> =
                dialect::for_update!(open_mailing(id.0).select(MailingRow::as_select()))
                    .first(conn)
                    .optional()?;
            let Some(row) = row else {
                return Ok(0);
            };
            let mailing = row.into_record()?;
            let zones: Vec<String> = messages::table
                .inner_join(clients::table)
                .filter(messages::mailing_id.eq(id.0))
                .filter(messages::status.eq_any(MessageStatus::UNSENT.map(MessageStatus::as_str)))
                .select(clients::time_zone)
                .distinct()
                .load(conn)?;
            let mut changed = 0;
            for raw_zone in zones {
                let zone = zone(&raw_zone, id)?;
                let plan = ZonePlan::new(&mailing.schedule, zone, now);
                changed += pipeline::replan_zone(conn, id, &raw_zone, &plan)? as u64;
                changed += replan_retries(conn, &mailing.schedule, id, &raw_zone, zone, now)?;
            }
            // The text travels with the mailing, so nothing else needs rewriting.
            Ok(changed)
        })
    }

    fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MessageId>> {
        let now = storage_instant(now);
        self.write(|conn| {
            let ids = pipeline::claim_due(conn, now, i64::from(limit))?;
            Ok(ids.into_iter().map(MessageId).collect())
        })
    }

    fn release(&self, ids: &[MessageId], now: DateTime<Utc>) -> StoreResult<u64> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        let now = storage_instant(now);
        self.write(|conn| {
            let mut released = 0;
            for slice in ids.chunks(ID_SLICE) {
                released += diesel::update(
                    messages::table
                        .filter(messages::id.eq_any(slice))
                        .filter(messages::status.eq(MessageStatus::Queued.as_str())),
                )
                .set((
                    Unclaimed::due_at(now),
                    messages::updated_at.eq(dialect::now()),
                ))
                .execute(conn)?;
            }
            Ok(released as u64)
        })
    }

    fn reclaim_stale(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        let (cutoff, now) = (storage_instant(cutoff), storage_instant(now));
        self.write(|conn| {
            let reclaimed = diesel::update(
                messages::table
                    .filter(messages::status.eq(MessageStatus::Queued.as_str()))
                    .filter(messages::queued_at.lt(cutoff))
                    .filter(
                        messages::claim_renewed_at
                            .is_null()
                            .or(messages::claim_renewed_at.lt(cutoff)),
                    ),
            )
            .set((
                Unclaimed::due_at(now),
                messages::updated_at.eq(dialect::now()),
            ))
            .execute(conn)?;
            Ok(reclaimed as u64)
        })
    }

    fn expire_overdue(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = storage_instant(now);
        self.write(|conn| {
            let expired = diesel::update(
                messages::table
                    .filter(messages::status.eq_any(waiting()))
                    .filter(messages::expires_at.le(now)),
            )
            .set((
                messages::status.eq(MessageStatus::Expired.as_str()),
                messages::next_attempt_at.eq(None::<DateTime<Utc>>),
                messages::last_error.eq(ended_while_waiting()),
                messages::updated_at.eq(dialect::now()),
            ))
            .execute(conn)?;
            Ok(expired as u64)
        })
    }

    fn due_backlog(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = storage_instant(now);
        self.read(|conn| {
            let count: i64 = messages::table
                .filter(messages::status.eq_any(waiting()))
                .filter(messages::next_attempt_at.le(now))
                .filter(
                    messages::expires_at
                        .is_null()
                        .or(messages::expires_at.gt(now)),
                )
                // A paused mailing's messages wait on purpose: the claim passes them over.
                .filter(
                    messages::mailing_id.ne_all(
                        mailings::table
                            .filter(mailings::paused_at.is_not_null())
                            .select(mailings::id),
                    ),
                )
                .count()
                .get_result(conn)?;
            Ok(total(count))
        })
    }

    fn paused_mailings(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = storage_instant(now);
        self.read(|conn| {
            // A local-time mailing ends last where the clock is furthest behind.
            let count: i64 = mailings::table
                .filter(mailings::paused_at.is_not_null())
                .filter(mailings::cancelled_at.is_null())
                .filter(mailings::deleted_at.is_null())
                .filter(mailings::end_at.gt(now - LATEST_ZONE_LAG))
                .filter(mailings::local_time.or(mailings::end_at.gt(now)))
                .count()
                .get_result(conn)?;
            Ok(total(count))
        })
    }
}

/// How many messages of the mailing are suppressed.
fn suppressed_count(conn: &mut Conn, mailing: MailingId) -> QueryResult<u64> {
    let count: i64 = messages::table
        .filter(messages::mailing_id.eq(mailing.0))
        .filter(messages::status.eq(MessageStatus::Suppressed.as_str()))
        .count()
        .get_result(conn)?;
    Ok(total(count))
}
