//! The sender's reads and writes: one query for everything a batch of attempts needs, one
//! statement for a batch of outcomes.

use super::{PgStore, corrupt};
use crate::errors::Failure;
use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Nullable, Text, Time, Timestamptz};
use mailing_domain::store::{
    MailingState, Outcome, OutcomeKind, SendTask, SenderStore, StoreResult,
};
use mailing_domain::{
    ClientId, MailingId, MailingSchedule, MailingText, MessageId, PhoneNumber, SendWindow, TimeZone,
};
use std::collections::HashMap;

#[derive(QueryableByName)]
pub(crate) struct TaskRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) mailing_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) client_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub(crate) status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(crate) queued_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Int4)]
    pub(crate) attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) phone_number: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) time_zone: Option<String>,
    #[diesel(sql_type = Text)]
    pub(crate) text: String,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) start_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) end_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    pub(crate) local_time: bool,
    #[diesel(sql_type = Nullable<Time>)]
    pub(crate) send_window_start: Option<NaiveTime>,
    #[diesel(sql_type = Nullable<Time>)]
    pub(crate) send_window_end: Option<NaiveTime>,
    #[diesel(sql_type = Bool)]
    pub(crate) active: bool,
}

impl TaskRow {
    pub(crate) fn into_task(self) -> Result<SendTask, Failure> {
        let id = self.id;
        let bad = |column: &str, e: &dyn std::fmt::Display| corrupt("messages", column, id, e);
        let window = match (self.send_window_start, self.send_window_end) {
            (Some(start), Some(end)) => {
                Some(SendWindow::new(start, end).map_err(|e| bad("send_window", &e))?)
            }
            _ => None,
        };
        Ok(SendTask {
            message_id: MessageId(id),
            mailing_id: MailingId(self.mailing_id),
            client_id: self.client_id.map(ClientId),
            status: self.status.parse().map_err(|e| bad("status", &e))?,
            queued_at: self.queued_at,
            attempts: u32::try_from(self.attempts).map_err(|e| bad("attempts", &e))?,
            phone: self
                .phone_number
                .map(|raw| PhoneNumber::parse(&raw))
                .transpose()
                .map_err(|e| bad("phone_number", &e))?,
            time_zone: self
                .time_zone
                .map(|raw| TimeZone::parse(&raw))
                .transpose()
                .map_err(|e| bad("time_zone", &e))?,
            text: MailingText::parse(&self.text).map_err(|e| bad("text", &e))?,
            schedule: MailingSchedule::new(self.start_at, self.end_at, self.local_time, window)
                .map_err(|e| bad("end_at", &e))?,
            mailing_active: self.active,
        })
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct MailingStateRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    start_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
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

impl SenderStore for PgStore {
    fn mailing_states(&self, ids: &[MailingId]) -> StoreResult<Vec<MailingState>> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        self.read(|conn| {
            let rows: Vec<MailingStateRow> = diesel::sql_query(
                "SELECT id, start_at, end_at, local_time, send_window_start, send_window_end,
                        cancelled_at IS NULL AS active
                 FROM mailings WHERE id = ANY($1) AND deleted_at IS NULL",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .load(conn)?;
            rows.into_iter()
                .map(|row| {
                    let bad =
                        |e: &dyn std::fmt::Display| corrupt("mailings", "schedule", row.id, e);
                    let window = match (row.send_window_start, row.send_window_end) {
                        (Some(start), Some(end)) => {
                            Some(SendWindow::new(start, end).map_err(|e| bad(&e))?)
                        }
                        _ => None,
                    };
                    Ok(MailingState {
                        id: MailingId(row.id),
                        schedule: MailingSchedule::new(
                            row.start_at,
                            row.end_at,
                            row.local_time,
                            window,
                        )
                        .map_err(|e| bad(&e))?,
                        active: row.active,
                    })
                })
                .collect()
        })
    }

    fn load_for_send(&self, ids: &[MessageId]) -> StoreResult<Vec<SendTask>> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
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
                 WHERE m.id = ANY($1)",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .load(conn)?;
            rows.into_iter().map(TaskRow::into_task).collect()
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
        let ids: Vec<i64> = claims.iter().map(|(id, _)| id.0).collect();
        let claimed: Vec<DateTime<Utc>> = claims.iter().map(|(_, at)| *at).collect();
        self.write(|conn| {
            let rows: Vec<IdRow> = diesel::sql_query(
                "UPDATE messages m SET claim_renewed_at = $3
                 FROM unnest($1::bigint[], $2::timestamptz[]) AS c(id, claimed_at)
                 WHERE m.id = c.id AND m.status = 'queued' AND m.queued_at = c.claimed_at
                 RETURNING m.id",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Array<Timestamptz>, _>(&claimed)
            .bind::<Timestamptz, _>(now)
            .load(conn)?;
            Ok(rows.into_iter().map(|row| MessageId(row.id)).collect())
        })
    }

    fn record_outcomes(&self, outcomes: &[Outcome]) -> StoreResult<Vec<MessageId>> {
        // One row per message: with duplicates, UPDATE ... FROM would pick one arbitrarily.
        let latest: HashMap<MessageId, &Outcome> = outcomes
            .iter()
            .map(|outcome| (outcome.message_id, outcome))
            .collect();
        let mut ids = Vec::with_capacity(latest.len());
        let mut statuses = Vec::with_capacity(latest.len());
        let mut attempted = Vec::with_capacity(latest.len());
        let mut errors: Vec<Option<String>> = Vec::with_capacity(latest.len());
        let mut next_at: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(latest.len());
        let mut sent_at: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(latest.len());
        let mut claims: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(latest.len());
        for (id, outcome) in latest {
            let kind = &outcome.kind;
            claims.push(outcome.claimed_at);
            ids.push(id.0);
            statuses.push(kind.status().as_str());
            attempted.push(i32::from(kind.attempted()));
            let (error, next, sent) = match kind {
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
            errors.push(error);
            next_at.push(next);
            sent_at.push(sent);
        }
        if ids.is_empty() {
            return Ok(vec![]);
        }
        self.write(|conn| {
            let rows: Vec<IdRow> = diesel::sql_query(
                "UPDATE messages AS m SET
                     status = o.status,
                     attempts = m.attempts + o.attempted,
                     last_error = CASE WHEN o.status = 'sent' THEN NULL
                                       ELSE COALESCE(o.error, m.last_error) END,
                     next_attempt_at = o.next_at,
                     sent_at = o.sent_at,
                     queued_at = NULL,
                     claim_renewed_at = NULL,
                     updated_at = now()
                 FROM unnest($1::bigint[], $2::text[], $3::int4[], $4::text[],
                             $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
                      AS o(id, status, attempted, error, next_at, sent_at, claimed_at)
                 WHERE m.id = o.id
                   AND CASE
                       -- What the probe accepted is recorded whatever happened meanwhile.
                       WHEN o.status = 'sent' THEN m.status NOT IN ('sent', 'failed')
                       -- Anything else only while the message still holds this job's claim.
                       ELSE m.status = 'queued'
                            AND (o.claimed_at IS NULL OR m.queued_at = o.claimed_at)
                   END
                 RETURNING m.id",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Array<Text>, _>(&statuses)
            .bind::<Array<Int4>, _>(&attempted)
            .bind::<Array<Nullable<Text>>, _>(&errors)
            .bind::<Array<Nullable<Timestamptz>>, _>(&next_at)
            .bind::<Array<Nullable<Timestamptz>>, _>(&sent_at)
            .bind::<Array<Nullable<Timestamptz>>, _>(&claims)
            .load(conn)?;
            Ok(rows.into_iter().map(|row| MessageId(row.id)).collect())
        })
    }
}
