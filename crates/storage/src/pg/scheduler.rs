//! The scheduler's set-based work: expanding mailings into messages per time zone, claiming
//! due messages, and taking back or expiring what is stuck or late.

use super::mailings::MailingRow;
use super::{PgStore, corrupt, total};
use crate::errors::Failure;
use crate::schema::mailings;
use chrono::{DateTime, Utc};
use diesel::dsl::now as db_now;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use mailing_domain::store::{Expansion, SchedulerStore, StoreResult, storage_instant};
use mailing_domain::{
    ClientFilter, MailingId, MailingSchedule, MessageId, SendPlan, TimeZone, plan_send,
};

/// Clients matching a filter given as `$1` (operator codes) and `$2` (tag values), as `c`.
const MATCHES_FILTER: &str = "(cardinality($1::text[]) = 0 OR c.operator_code = ANY($1))
    AND (cardinality($2::text[]) = 0 OR EXISTS (
        SELECT 1 FROM client_tags ct JOIN tags t ON t.id = ct.tag_id
        WHERE ct.client_id = c.id AND t.value = ANY($2)))";

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct ZoneRow {
    #[diesel(sql_type = Text)]
    time_zone: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

pub(crate) fn filter_lists(filter: &ClientFilter) -> (Vec<String>, Vec<String>) {
    (
        filter
            .operator_codes()
            .map(|c| c.as_str().to_owned())
            .collect(),
        filter.tags().map(|t| t.as_str().to_owned()).collect(),
    )
}

pub(crate) fn zone(raw: &str, mailing: MailingId) -> Result<TimeZone, Failure> {
    TimeZone::parse(raw).map_err(|e| corrupt("clients", "time_zone", mailing.0, e))
}

/// The plan for clients of one zone, as the columns a message gets.
pub(crate) struct ZonePlan {
    pub(crate) status: &'static str,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) expires_at: DateTime<Utc>,
}

pub(crate) fn zone_plan(
    schedule: &MailingSchedule,
    zone: TimeZone,
    now: DateTime<Utc>,
) -> ZonePlan {
    match plan_send(schedule, zone.tz(), now) {
        SendPlan::At {
            send_at,
            expires_at,
        } => ZonePlan {
            status: "scheduled",
            next_attempt_at: Some(send_at),
            expires_at,
        },
        SendPlan::Expired => ZonePlan {
            status: "expired",
            next_attempt_at: None,
            expires_at: schedule.end_for(zone.tz()),
        },
    }
}

fn update_returning_ids(
    conn: &mut PgConnection,
    query: diesel::query_builder::BoxedSqlQuery<
        '_,
        diesel::pg::Pg,
        diesel::query_builder::SqlQuery,
    >,
) -> Result<Vec<MessageId>, Failure> {
    let rows: Vec<IdRow> = query.load(conn)?;
    Ok(rows.into_iter().map(|row| MessageId(row.id)).collect())
}

#[derive(QueryableByName)]
struct RetryRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    next_attempt_at: Option<DateTime<Utc>>,
}

/// Plans each retry of one zone from its own backoff time: it keeps waiting at least that long,
/// lands inside the new window, and expires if that is past the new end.
fn replan_retries(
    conn: &mut PgConnection,
    schedule: &MailingSchedule,
    id: MailingId,
    raw_zone: &str,
    zone: TimeZone,
    now: DateTime<Utc>,
) -> Result<u64, Failure> {
    let retries: Vec<RetryRow> = diesel::sql_query(
        "SELECT m.id, m.next_attempt_at FROM messages m JOIN clients c ON c.id = m.client_id
         WHERE m.mailing_id = $1 AND c.time_zone = $2 AND m.status = 'retrying'",
    )
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(raw_zone)
    .load(conn)?;
    if retries.is_empty() {
        return Ok(0);
    }
    let expires_at = schedule.end_for(zone.tz());
    let mut ids = Vec::with_capacity(retries.len());
    let mut statuses = Vec::with_capacity(retries.len());
    let mut next: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(retries.len());
    for retry in retries {
        let not_before = retry.next_attempt_at.map_or(now, |at| at.max(now));
        ids.push(retry.id);
        match plan_send(schedule, zone.tz(), not_before) {
            SendPlan::At { send_at, .. } => {
                statuses.push("retrying");
                next.push(Some(send_at));
            }
            SendPlan::Expired => {
                statuses.push("expired");
                next.push(None);
            }
        }
    }
    Ok(diesel::sql_query(
        "UPDATE messages m SET status = o.status, next_attempt_at = o.next_at, expires_at = $4,
             updated_at = now()
         FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS o(id, status, next_at)
         WHERE m.id = o.id AND m.status = 'retrying'",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<Text>, _>(&statuses)
    .bind::<Array<Nullable<Timestamptz>>, _>(&next)
    .bind::<Timestamptz, _>(expires_at)
    .execute(conn)? as u64)
}

impl SchedulerStore for PgStore {
    fn mailings_to_expand(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailingId>> {
        self.read(|conn| {
            let rows: Vec<IdRow> = diesel::sql_query(
                "SELECT id FROM mailings
                 WHERE expanded_at IS NULL AND cancelled_at IS NULL AND deleted_at IS NULL
                   AND (CASE WHEN local_time THEN start_at - interval '14 hours' ELSE start_at END) <= $1
                 ORDER BY start_at, id LIMIT $2",
            )
            .bind::<Timestamptz, _>(now)
            .bind::<BigInt, _>(i64::from(limit))
            .load(conn)?;
            Ok(rows.into_iter().map(|row| MailingId(row.id)).collect())
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn expand_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Option<Expansion>> {
        self.write(|conn| {
            // SKIP LOCKED: a replica already expanding this mailing keeps it.
            let row: Option<MailingRow> = mailings::table
                .filter(mailings::id.eq(id.0))
                .filter(mailings::deleted_at.is_null())
                .filter(mailings::cancelled_at.is_null())
                .filter(mailings::expanded_at.is_null())
                .select(MailingRow::as_select())
                .for_update()
                .skip_locked()
                .first(conn)
                .optional()?;
            let Some(row) = row else {
                return Ok(None);
            };
            let mailing = row.into_record()?;
            let (codes, tags) = filter_lists(&mailing.filter);
            let zones: Vec<ZoneRow> = diesel::sql_query(format!(
                "SELECT DISTINCT c.time_zone FROM clients c WHERE {MATCHES_FILTER}"
            ))
            .bind::<Array<Text>, _>(&codes)
            .bind::<Array<Text>, _>(&tags)
            .load(conn)?;
            let mut expansion = Expansion::default();
            for zone_row in zones {
                let plan = zone_plan(&mailing.schedule, zone(&zone_row.time_zone, id)?, now);
                let inserted = diesel::sql_query(format!(
                    "INSERT INTO messages (mailing_id, client_id, status, next_attempt_at, expires_at)
                     SELECT $3, c.id, $4, $5, $6 FROM clients c
                     WHERE c.time_zone = $7 AND {MATCHES_FILTER}
                     ON CONFLICT (mailing_id, client_id) DO NOTHING"
                ))
                .bind::<Array<Text>, _>(&codes)
                .bind::<Array<Text>, _>(&tags)
                .bind::<BigInt, _>(id.0)
                .bind::<Text, _>(plan.status)
                .bind::<Nullable<Timestamptz>, _>(plan.next_attempt_at)
                .bind::<Timestamptz, _>(plan.expires_at)
                .bind::<Text, _>(&zone_row.time_zone)
                .execute(conn)? as u64;
                if plan.status == "expired" {
                    expansion.expired += inserted;
                } else {
                    expansion.scheduled += inserted;
                }
            }
            diesel::update(mailings::table.find(id.0))
                .set((mailings::expanded_at.eq(now), mailings::updated_at.eq(db_now)))
                .execute(conn)?;
            Ok(Some(expansion))
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn replan_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            // Hold the mailing so a concurrent update waits for this plan to land.
            let row: Option<MailingRow> = mailings::table
                .filter(mailings::id.eq(id.0))
                .filter(mailings::deleted_at.is_null())
                .filter(mailings::cancelled_at.is_null())
                .select(MailingRow::as_select())
                .for_update()
                .first(conn)
                .optional()?;
            let Some(row) = row else {
                return Ok(0);
            };
            let mailing = row.into_record()?;
            let zones: Vec<ZoneRow> = diesel::sql_query(
                "SELECT DISTINCT c.time_zone FROM messages m JOIN clients c ON c.id = m.client_id
                 WHERE m.mailing_id = $1 AND m.status IN ('scheduled', 'queued', 'retrying')",
            )
            .bind::<BigInt, _>(id.0)
            .load(conn)?;
            let mut changed = 0;
            for zone_row in zones {
                let zone = zone(&zone_row.time_zone, id)?;
                let plan = zone_plan(&mailing.schedule, zone, now);
                // Waiting messages take the zone's new plan; a claimed one keeps its claim but
                // learns the new deadline, in case it comes back unsent.
                changed += diesel::sql_query(
                    "UPDATE messages m SET
                         status = CASE WHEN m.status = 'queued' THEN m.status ELSE $1 END,
                         next_attempt_at = CASE WHEN m.status = 'queued' THEN m.next_attempt_at
                                                ELSE $2 END,
                         expires_at = $3,
                         updated_at = now()
                     FROM clients c
                     WHERE c.id = m.client_id AND c.time_zone = $4
                       AND m.mailing_id = $5 AND m.status IN ('scheduled', 'queued')",
                )
                .bind::<Text, _>(plan.status)
                .bind::<Nullable<Timestamptz>, _>(plan.next_attempt_at)
                .bind::<Timestamptz, _>(plan.expires_at)
                .bind::<Text, _>(&zone_row.time_zone)
                .bind::<BigInt, _>(id.0)
                .execute(conn)? as u64;
                changed +=
                    replan_retries(conn, &mailing.schedule, id, &zone_row.time_zone, zone, now)?;
            }
            // The text travels with the mailing, so nothing else needs rewriting.
            Ok(changed)
        })
    }

    fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MessageId>> {
        let now = storage_instant(now);
        self.write(|conn| {
            update_returning_ids(
                conn,
                diesel::sql_query(
                    "UPDATE messages SET status = 'queued', queued_at = $1, claim_renewed_at = NULL,
                         updated_at = now()
                     WHERE id IN (
                         SELECT id FROM messages
                         WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= $1
                           AND (expires_at IS NULL OR expires_at > $1)
                         ORDER BY next_attempt_at LIMIT $2
                         FOR UPDATE SKIP LOCKED)
                     RETURNING id",
                )
                .into_boxed()
                .bind::<Timestamptz, _>(now)
                .bind::<BigInt, _>(i64::from(limit)),
            )
        })
    }

    fn release(&self, ids: &[MessageId], now: DateTime<Utc>) -> StoreResult<u64> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        self.write(|conn| {
            Ok(diesel::sql_query(
                "UPDATE messages SET status = 'scheduled', queued_at = NULL, claim_renewed_at = NULL,
                     next_attempt_at = $2, updated_at = now()
                 WHERE id = ANY($1) AND status = 'queued'",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Timestamptz, _>(now)
            .execute(conn)? as u64)
        })
    }

    fn reclaim_stale(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            Ok(diesel::sql_query(
                "UPDATE messages SET status = 'scheduled', queued_at = NULL, claim_renewed_at = NULL,
                     next_attempt_at = $2, updated_at = now()
                 WHERE status = 'queued' AND queued_at < $1
                   AND (claim_renewed_at IS NULL OR claim_renewed_at < $1)",
            )
            .bind::<Timestamptz, _>(cutoff)
            .bind::<Timestamptz, _>(now)
            .execute(conn)? as u64)
        })
    }

    fn expire_overdue(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            Ok(diesel::sql_query(
                "UPDATE messages SET status = 'expired', next_attempt_at = NULL, updated_at = now()
                 WHERE status IN ('scheduled', 'retrying') AND expires_at <= $1",
            )
            .bind::<Timestamptz, _>(now)
            .execute(conn)? as u64)
        })
    }

    fn due_backlog(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.read(|conn| {
            let row: CountRow = diesel::sql_query(
                "SELECT count(*) AS count FROM messages
                 WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= $1
                   AND (expires_at IS NULL OR expires_at > $1)",
            )
            .bind::<Timestamptz, _>(now)
            .get_result(conn)?;
            Ok(total(row.count))
        })
    }
}
