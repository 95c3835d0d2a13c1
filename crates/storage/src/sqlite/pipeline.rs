//! The scheduler's and the sender's work on SQLite. PostgreSQL's arrays become JSON text
//! (`json_each`, `json_array_length`), its `UPDATE ... FROM unnest(...)` batches become one
//! statement per row inside the same IMMEDIATE transaction, and no row locks are needed: that
//! transaction holds the single write lock, so replicas' claims cannot overlap.

use super::SqliteStore;
use super::clients::to_json;
use super::mailings::{MAILING_COLUMNS, MailingRow};
use super::schema::mailings;
use super::simple::db_now;
use crate::errors::Failure;
use crate::pg::scheduler::{filter_lists, zone, zone_plan};
use crate::pg::sender::TaskRow as PgTaskRow;
use crate::pg::{corrupt, total};
use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Time, TimestamptzSqlite};
use diesel::sqlite::SqliteConnection;
use mailing_domain::store::{
    Expansion, MailingState, Outcome, OutcomeKind, SchedulerStore, SendTask, SenderStore,
    StoreResult, storage_instant,
};
use mailing_domain::{
    MailingId, MailingSchedule, MessageId, SendPlan, SendWindow, TimeZone, plan_send,
};
use std::collections::HashMap;

/// Clients matching a filter given as `?1` (operator codes) and `?2` (tag values), both JSON
/// arrays, as `c`.
const MATCHES_FILTER: &str = "(json_array_length(?1) = 0
        OR c.operator_code IN (SELECT value FROM json_each(?1)))
    AND (json_array_length(?2) = 0 OR EXISTS (
        SELECT 1 FROM client_tags ct JOIN tags t ON t.id = ct.tag_id
        WHERE ct.client_id = c.id AND t.value IN (SELECT value FROM json_each(?2))))";

/// How far ahead of a local-time mailing's wall-clock start the earliest zone (UTC+14) starts.
const EARLIEST_ZONE_LEAD: chrono::TimeDelta = chrono::TimeDelta::hours(14);

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

#[derive(QueryableByName)]
struct RetryRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<TimestamptzSqlite>)]
    next_attempt_at: Option<DateTime<Utc>>,
}

fn ids_json(ids: impl IntoIterator<Item = i64>) -> String {
    let ids: Vec<i64> = ids.into_iter().collect();
    serde_json::to_string(&ids).expect("a list of integers serialises")
}

fn message_ids(rows: Vec<IdRow>) -> Vec<MessageId> {
    rows.into_iter().map(|row| MessageId(row.id)).collect()
}

/// Plans each retry of one zone from its own backoff time: it keeps waiting at least that long,
/// lands inside the new window, and expires if that is past the new end.
fn replan_retries(
    conn: &mut SqliteConnection,
    schedule: &MailingSchedule,
    id: MailingId,
    raw_zone: &str,
    zone: TimeZone,
    now: DateTime<Utc>,
) -> Result<u64, Failure> {
    let retries: Vec<RetryRow> = diesel::sql_query(
        "SELECT m.id, m.next_attempt_at FROM messages m JOIN clients c ON c.id = m.client_id
         WHERE m.mailing_id = ?1 AND c.time_zone = ?2 AND m.status = 'retrying'",
    )
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(raw_zone)
    .load(conn)?;
    let expires_at = storage_instant(schedule.end_for(zone.tz()));
    let mut changed = 0;
    for retry in retries {
        let not_before = retry.next_attempt_at.map_or(now, |at| at.max(now));
        let (status, next) = match plan_send(schedule, zone.tz(), not_before) {
            SendPlan::At { send_at, .. } => ("retrying", Some(storage_instant(send_at))),
            SendPlan::Expired => ("expired", None),
        };
        changed += diesel::sql_query(
            "UPDATE messages SET status = ?1, next_attempt_at = ?2, expires_at = ?3,
                 updated_at = ?4
             WHERE id = ?5 AND status = 'retrying'",
        )
        .bind::<Text, _>(status)
        .bind::<Nullable<TimestamptzSqlite>, _>(next)
        .bind::<TimestamptzSqlite, _>(expires_at)
        .bind::<TimestamptzSqlite, _>(db_now())
        .bind::<BigInt, _>(retry.id)
        .execute(conn)? as u64;
    }
    Ok(changed)
}

/// A mailing the scheduler may work on: visible, not cancelled, and (for expansion) not yet
/// expanded.
fn open_mailing(
    conn: &mut SqliteConnection,
    id: MailingId,
    unexpanded: bool,
) -> Result<Option<MailingRow>, Failure> {
    let mut query = mailings::table
        .filter(mailings::id.eq(id.0))
        .filter(mailings::deleted_at.is_null())
        .filter(mailings::cancelled_at.is_null())
        .into_boxed();
    if unexpanded {
        query = query.filter(mailings::expanded_at.is_null());
    }
    Ok(query
        .select(MAILING_COLUMNS)
        .first::<MailingRow>(conn)
        .optional()?)
}

impl SchedulerStore for SqliteStore {
    fn mailings_to_expand(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailingId>> {
        let now = storage_instant(now);
        self.read(|conn| {
            // `start_at - 14 hours <= now` as `start_at <= now + 14 hours`: instants are text.
            let rows: Vec<IdRow> = diesel::sql_query(
                "SELECT id FROM mailings
                 WHERE expanded_at IS NULL AND cancelled_at IS NULL AND deleted_at IS NULL
                   AND start_at <= (CASE WHEN local_time THEN ?2 ELSE ?1 END)
                 ORDER BY start_at, id LIMIT ?3",
            )
            .bind::<TimestamptzSqlite, _>(now)
            .bind::<TimestamptzSqlite, _>(now + EARLIEST_ZONE_LEAD)
            .bind::<BigInt, _>(i64::from(limit))
            .load(conn)?;
            Ok(rows.into_iter().map(|row| MailingId(row.id)).collect())
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn expand_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Option<Expansion>> {
        self.write(|conn| {
            let Some(row) = open_mailing(conn, id, true)? else {
                return Ok(None);
            };
            let mailing = row.into_record()?;
            let (codes, tags) = filter_lists(&mailing.filter);
            let codes = to_json(&codes.iter().map(String::as_str).collect::<Vec<_>>());
            let tags = to_json(&tags.iter().map(String::as_str).collect::<Vec<_>>());
            let zones: Vec<ZoneRow> = diesel::sql_query(format!(
                "SELECT DISTINCT c.time_zone FROM clients c WHERE {MATCHES_FILTER}"
            ))
            .bind::<Text, _>(&codes)
            .bind::<Text, _>(&tags)
            .load(conn)?;
            let stamp = db_now();
            let mut expansion = Expansion::default();
            for zone_row in zones {
                let plan = zone_plan(&mailing.schedule, zone(&zone_row.time_zone, id)?, now);
                let inserted = diesel::sql_query(format!(
                    "INSERT INTO messages (mailing_id, client_id, status, next_attempt_at,
                                           expires_at, created_at, updated_at)
                     SELECT ?3, c.id, ?4, ?5, ?6, ?8, ?8 FROM clients c
                     WHERE c.time_zone = ?7 AND {MATCHES_FILTER}
                     ON CONFLICT (mailing_id, client_id) DO NOTHING"
                ))
                .bind::<Text, _>(&codes)
                .bind::<Text, _>(&tags)
                .bind::<BigInt, _>(id.0)
                .bind::<Text, _>(plan.status)
                .bind::<Nullable<TimestamptzSqlite>, _>(plan.next_attempt_at.map(storage_instant))
                .bind::<TimestamptzSqlite, _>(storage_instant(plan.expires_at))
                .bind::<Text, _>(&zone_row.time_zone)
                .bind::<TimestamptzSqlite, _>(stamp)
                .execute(conn)? as u64;
                if plan.status == "expired" {
                    expansion.expired += inserted;
                } else {
                    expansion.scheduled += inserted;
                }
            }
            diesel::update(mailings::table.find(id.0))
                .set((
                    mailings::expanded_at.eq(storage_instant(now)),
                    mailings::updated_at.eq(stamp),
                ))
                .execute(conn)?;
            Ok(Some(expansion))
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn replan_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            let Some(row) = open_mailing(conn, id, false)? else {
                return Ok(0);
            };
            let mailing = row.into_record()?;
            let zones: Vec<ZoneRow> = diesel::sql_query(
                "SELECT DISTINCT c.time_zone FROM messages m JOIN clients c ON c.id = m.client_id
                 WHERE m.mailing_id = ?1 AND m.status IN ('scheduled', 'queued', 'retrying')",
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
                    "UPDATE messages SET
                         status = CASE WHEN status = 'queued' THEN status ELSE ?1 END,
                         next_attempt_at = CASE WHEN status = 'queued' THEN next_attempt_at
                                                ELSE ?2 END,
                         expires_at = ?3,
                         updated_at = ?6
                     WHERE mailing_id = ?5 AND status IN ('scheduled', 'queued')
                       AND client_id IN (SELECT id FROM clients WHERE time_zone = ?4)",
                )
                .bind::<Text, _>(plan.status)
                .bind::<Nullable<TimestamptzSqlite>, _>(plan.next_attempt_at.map(storage_instant))
                .bind::<TimestamptzSqlite, _>(storage_instant(plan.expires_at))
                .bind::<Text, _>(&zone_row.time_zone)
                .bind::<BigInt, _>(id.0)
                .bind::<TimestamptzSqlite, _>(db_now())
                .execute(conn)? as u64;
                changed +=
                    replan_retries(conn, &mailing.schedule, id, &zone_row.time_zone, zone, now)?;
            }
            Ok(changed)
        })
    }

    fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MessageId>> {
        let now = storage_instant(now);
        self.write(|conn| {
            let rows: Vec<IdRow> = diesel::sql_query(
                "UPDATE messages SET status = 'queued', queued_at = ?1, claim_renewed_at = NULL,
                     updated_at = ?3
                 WHERE id IN (
                     SELECT id FROM messages
                     WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= ?1
                       AND (expires_at IS NULL OR expires_at > ?1)
                     ORDER BY next_attempt_at LIMIT ?2)
                 RETURNING id",
            )
            .bind::<TimestamptzSqlite, _>(now)
            .bind::<BigInt, _>(i64::from(limit))
            .bind::<TimestamptzSqlite, _>(db_now())
            .load(conn)?;
            Ok(message_ids(rows))
        })
    }

    fn release(&self, ids: &[MessageId], now: DateTime<Utc>) -> StoreResult<u64> {
        let ids = ids_json(ids.iter().map(|id| id.0));
        self.write(|conn| {
            Ok(diesel::sql_query(
                "UPDATE messages SET status = 'scheduled', queued_at = NULL,
                     claim_renewed_at = NULL, next_attempt_at = ?2, updated_at = ?3
                 WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'queued'",
            )
            .bind::<Text, _>(&ids)
            .bind::<TimestamptzSqlite, _>(storage_instant(now))
            .bind::<TimestamptzSqlite, _>(db_now())
            .execute(conn)? as u64)
        })
    }

    fn reclaim_stale(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            Ok(diesel::sql_query(
                "UPDATE messages SET status = 'scheduled', queued_at = NULL,
                     claim_renewed_at = NULL, next_attempt_at = ?2, updated_at = ?3
                 WHERE status = 'queued' AND queued_at < ?1
                   AND (claim_renewed_at IS NULL OR claim_renewed_at < ?1)",
            )
            .bind::<TimestamptzSqlite, _>(storage_instant(cutoff))
            .bind::<TimestamptzSqlite, _>(storage_instant(now))
            .bind::<TimestamptzSqlite, _>(db_now())
            .execute(conn)? as u64)
        })
    }

    fn expire_overdue(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            Ok(diesel::sql_query(
                "UPDATE messages SET status = 'expired', next_attempt_at = NULL, updated_at = ?2
                 WHERE status IN ('scheduled', 'retrying') AND expires_at <= ?1",
            )
            .bind::<TimestamptzSqlite, _>(storage_instant(now))
            .bind::<TimestamptzSqlite, _>(db_now())
            .execute(conn)? as u64)
        })
    }

    fn due_backlog(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.read(|conn| {
            let row: CountRow = diesel::sql_query(
                "SELECT count(*) AS count FROM messages
                 WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= ?1
                   AND (expires_at IS NULL OR expires_at > ?1)",
            )
            .bind::<TimestamptzSqlite, _>(storage_instant(now))
            .get_result(conn)?;
            Ok(total(row.count))
        })
    }
}

#[derive(QueryableByName)]
struct TaskRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    mailing_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    client_id: Option<i64>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<TimestamptzSqlite>)]
    queued_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    phone_number: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    time_zone: Option<String>,
    #[diesel(sql_type = Text)]
    text: String,
    #[diesel(sql_type = TimestamptzSqlite)]
    start_at: DateTime<Utc>,
    #[diesel(sql_type = TimestamptzSqlite)]
    end_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    local_time: bool,
    #[diesel(sql_type = Nullable<Time>)]
    send_window_start: Option<NaiveTime>,
    #[diesel(sql_type = Nullable<Time>)]
    send_window_end: Option<NaiveTime>,
    #[diesel(sql_type = Bool)]
    active: bool,
}

impl TaskRow {
    fn into_task(self) -> Result<SendTask, Failure> {
        PgTaskRow {
            id: self.id,
            mailing_id: self.mailing_id,
            client_id: self.client_id,
            status: self.status,
            queued_at: self.queued_at,
            attempts: self.attempts,
            phone_number: self.phone_number,
            time_zone: self.time_zone,
            text: self.text,
            start_at: self.start_at,
            end_at: self.end_at,
            local_time: self.local_time,
            send_window_start: self.send_window_start,
            send_window_end: self.send_window_end,
            active: self.active,
        }
        .into_task()
    }
}

#[derive(QueryableByName)]
struct MailingStateRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = TimestamptzSqlite)]
    start_at: DateTime<Utc>,
    #[diesel(sql_type = TimestamptzSqlite)]
    end_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    local_time: bool,
    #[diesel(sql_type = Nullable<Time>)]
    send_window_start: Option<NaiveTime>,
    #[diesel(sql_type = Nullable<Time>)]
    send_window_end: Option<NaiveTime>,
    #[diesel(sql_type = Bool)]
    active: bool,
}

impl MailingStateRow {
    fn into_state(self) -> Result<MailingState, Failure> {
        let id = self.id;
        let bad = |e: &dyn std::fmt::Display| corrupt("mailings", "schedule", id, e);
        let window = match (self.send_window_start, self.send_window_end) {
            (Some(start), Some(end)) => Some(SendWindow::new(start, end).map_err(|e| bad(&e))?),
            _ => None,
        };
        Ok(MailingState {
            id: MailingId(id),
            schedule: MailingSchedule::new(self.start_at, self.end_at, self.local_time, window)
                .map_err(|e| bad(&e))?,
            active: self.active,
        })
    }
}

/// An outcome as the columns it writes.
struct OutcomeColumns {
    status: &'static str,
    attempted: i32,
    error: Option<String>,
    next_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    claimed_at: Option<DateTime<Utc>>,
}

impl OutcomeColumns {
    fn of(outcome: &Outcome) -> Self {
        let kind = &outcome.kind;
        let (error, next_at, sent_at) = match kind {
            OutcomeKind::Sent { at } => (None, None, Some(*at)),
            OutcomeKind::Retry {
                error,
                next_attempt_at,
            } => (Some(error.clone()), Some(*next_attempt_at), None),
            OutcomeKind::Failed { error } => (Some(error.clone()), None, None),
            OutcomeKind::Deferred { next_attempt_at } => (None, Some(*next_attempt_at), None),
            OutcomeKind::Expired { last_error } => (last_error.clone(), None, None),
            OutcomeKind::Cancelled => (None, None, None),
        };
        Self {
            status: kind.status().as_str(),
            attempted: i32::from(kind.attempted()),
            error,
            next_at: next_at.map(storage_instant),
            sent_at: sent_at.map(storage_instant),
            claimed_at: outcome.claimed_at.map(storage_instant),
        }
    }
}

impl SenderStore for SqliteStore {
    fn load_for_send(&self, ids: &[MessageId]) -> StoreResult<Vec<SendTask>> {
        let ids = ids_json(ids.iter().map(|id| id.0));
        self.read(|conn| {
            let rows: Vec<TaskRow> = diesel::sql_query(
                "SELECT m.id, m.mailing_id, m.client_id, m.status, m.queued_at, m.attempts,
                        c.phone_number, c.time_zone,
                        g.text, g.start_at, g.end_at, g.local_time,
                        g.send_window_start, g.send_window_end,
                        (g.cancelled_at IS NULL AND g.deleted_at IS NULL) AS active
                 FROM messages m
                 JOIN mailings g ON g.id = m.mailing_id
                 LEFT JOIN clients c ON c.id = m.client_id
                 WHERE m.id IN (SELECT value FROM json_each(?1))",
            )
            .bind::<Text, _>(&ids)
            .load(conn)?;
            rows.into_iter().map(TaskRow::into_task).collect()
        })
    }

    fn mailing_states(&self, ids: &[MailingId]) -> StoreResult<Vec<MailingState>> {
        let ids = ids_json(ids.iter().map(|id| id.0));
        self.read(|conn| {
            let rows: Vec<MailingStateRow> = diesel::sql_query(
                "SELECT id, start_at, end_at, local_time, send_window_start, send_window_end,
                        cancelled_at IS NULL AS active
                 FROM mailings
                 WHERE id IN (SELECT value FROM json_each(?1)) AND deleted_at IS NULL",
            )
            .bind::<Text, _>(&ids)
            .load(conn)?;
            rows.into_iter().map(MailingStateRow::into_state).collect()
        })
    }

    fn renew_claims(
        &self,
        claims: &[(MessageId, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageId>> {
        if claims.is_empty() {
            return Ok(vec![]);
        }
        self.write(|conn| {
            let mut renewed = Vec::with_capacity(claims.len());
            for (id, claimed_at) in claims {
                let rows: Vec<IdRow> = diesel::sql_query(
                    "UPDATE messages SET claim_renewed_at = ?1
                     WHERE id = ?2 AND status = 'queued' AND queued_at = ?3
                     RETURNING id",
                )
                .bind::<TimestamptzSqlite, _>(storage_instant(now))
                .bind::<BigInt, _>(id.0)
                .bind::<TimestamptzSqlite, _>(storage_instant(*claimed_at))
                .load(conn)?;
                renewed.extend(message_ids(rows));
            }
            Ok(renewed)
        })
    }

    fn record_outcomes(&self, outcomes: &[Outcome]) -> StoreResult<Vec<MessageId>> {
        // One outcome per message, the last given, as PostgreSQL's batch takes it.
        let latest: HashMap<MessageId, &Outcome> = outcomes
            .iter()
            .map(|outcome| (outcome.message_id, outcome))
            .collect();
        if latest.is_empty() {
            return Ok(vec![]);
        }
        self.write(|conn| {
            let stamp = db_now();
            let mut written = Vec::with_capacity(latest.len());
            for (id, outcome) in &latest {
                let o = OutcomeColumns::of(outcome);
                let rows: Vec<IdRow> = diesel::sql_query(
                    "UPDATE messages SET
                         status = ?1,
                         attempts = attempts + ?2,
                         last_error = CASE WHEN ?1 = 'sent' THEN NULL
                                           ELSE COALESCE(?3, last_error) END,
                         next_attempt_at = ?4,
                         sent_at = ?5,
                         queued_at = NULL,
                         claim_renewed_at = NULL,
                         updated_at = ?8
                     WHERE id = ?6
                       AND CASE
                           -- What the probe accepted is recorded whatever happened meanwhile.
                           WHEN ?1 = 'sent' THEN status NOT IN ('sent', 'failed')
                           -- Anything else only while the message still holds this job's claim.
                           ELSE status = 'queued' AND (?7 IS NULL OR queued_at = ?7)
                       END
                     RETURNING id",
                )
                .bind::<Text, _>(o.status)
                .bind::<Integer, _>(o.attempted)
                .bind::<Nullable<Text>, _>(o.error)
                .bind::<Nullable<TimestamptzSqlite>, _>(o.next_at)
                .bind::<Nullable<TimestamptzSqlite>, _>(o.sent_at)
                .bind::<BigInt, _>(id.0)
                .bind::<Nullable<TimestamptzSqlite>, _>(o.claimed_at)
                .bind::<TimestamptzSqlite, _>(stamp)
                .load(conn)?;
                written.extend(message_ids(rows));
            }
            Ok(written)
        })
    }
}
