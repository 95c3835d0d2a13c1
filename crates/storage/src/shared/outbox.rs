//! The transactional outbox: events written with mailing changes, published by a relay.

use super::dialect::now;
use super::pipeline::claim_outbox;
use super::schema::outbox;
use super::{BackendStore, Conn};
use crate::columns::{outbox_events, outbox_payload, total};
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use mailing_domain::events::MailingEvent;
use mailing_domain::store::{
    OutboxBacklog, OutboxEvent, OutboxStore, StoreError, StoreResult, storage_instant,
};

/// Adds `event` to the outbox inside the caller's transaction, so the event exists exactly
/// when the change it describes does.
pub(super) fn append(conn: &mut Conn, event: &MailingEvent) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::payload.eq(outbox_payload(event)),
            outbox::created_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

impl OutboxStore for BackendStore {
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
            let claimed = claim_outbox(
                conn,
                storage_instant(until),
                storage_instant(now),
                i64::from(limit),
            )?;
            outbox_events(claimed)
        })
    }

    fn mark_published(&self, ids: &[i64], now: DateTime<Utc>) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
                .set(outbox::published_at.eq(storage_instant(now)))
                .execute(conn)?;
            Ok(())
        })
    }

    fn outbox_backlog(&self) -> StoreResult<OutboxBacklog> {
        self.read(|conn| {
            let events: i64 = outbox::table
                .filter(outbox::published_at.is_null())
                .select(count_star())
                .first(conn)?;
            // Ids grow with time: the lowest unpublished one is the oldest, and the partial
            // index on unpublished ids finds it without a scan.
            let oldest: Option<DateTime<Utc>> = outbox::table
                .filter(outbox::published_at.is_null())
                .order(outbox::id.asc())
                .select(outbox::created_at)
                .first(conn)
                .optional()?;
            Ok(OutboxBacklog {
                events: total(events),
                oldest,
            })
        })
    }
}
