//! The transactional outbox: events written with mailing changes, published by a relay.

use super::{PgStore, total};
use crate::errors::Failure;
use crate::schema::outbox;
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use mailing_domain::events::{self, MailingEvent};
use mailing_domain::store::{OutboxEvent, OutboxStore, StoreError, StoreResult};

/// Adds `event` to the outbox inside the caller's transaction, so the event exists exactly
/// when the change it describes does.
pub(super) fn append(conn: &mut PgConnection, event: &MailingEvent) -> QueryResult<()> {
    let payload = String::from_utf8(events::encode(event)).expect("JSON is UTF-8");
    diesel::insert_into(outbox::table)
        .values(outbox::payload.eq(payload))
        .execute(conn)
        .map(drop)
}

#[derive(QueryableByName)]
pub(crate) struct ClaimedRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) payload: String,
}

/// Claimed outbox rows as events, in id order; shared by both backends.
pub(crate) fn decode_claimed(rows: Vec<ClaimedRow>) -> Result<Vec<OutboxEvent>, Failure> {
    let mut claimed = rows
        .into_iter()
        .map(|row| {
            events::decode::<MailingEvent>(row.payload.as_bytes())
                .map(|event| OutboxEvent { id: row.id, event })
                .map_err(|e| {
                    Failure::Store(StoreError::Internal(format!(
                        "outbox event {} cannot be read: {e}",
                        row.id
                    )))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|event| event.id);
    Ok(claimed)
}

impl OutboxStore for PgStore {
    fn claim_outbox(
        &self,
        limit: u32,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxEvent>> {
        let until = now
            + chrono::Duration::from_std(lease)
                .map_err(|_| StoreError::Internal("outbox lease out of range".to_owned()))?;
        self.write(|conn| {
            let rows: Vec<ClaimedRow> = diesel::sql_query(
                "UPDATE outbox SET claimed_until = $1
                 WHERE id IN (
                     SELECT id FROM outbox
                     WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < $2)
                     ORDER BY id LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id, payload",
            )
            .bind::<Timestamptz, _>(until)
            .bind::<Timestamptz, _>(now)
            .bind::<BigInt, _>(i64::from(limit))
            .load(conn)?;
            decode_claimed(rows)
        })
    }

    fn mark_published(&self, ids: &[i64], now: DateTime<Utc>) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
                .set(outbox::published_at.eq(now))
                .execute(conn)?;
            Ok(())
        })
    }

    fn unpublished_count(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let count: i64 = outbox::table
                .filter(outbox::published_at.is_null())
                .select(count_star())
                .first(conn)?;
            Ok(total(count))
        })
    }
}
