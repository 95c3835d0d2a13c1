//! The senders' heartbeat table: one row per live sender, stamped with the database's clock.

use super::schema::sender_heartbeats;
use super::{BackendStore, dialect};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{BeatView, SenderBeat, SenderHeartbeats, StoreError, StoreResult};
use std::time::Duration;

impl SenderHeartbeats for BackendStore {
    fn sender_beat(&self, beat: &SenderBeat, lease: Duration) -> StoreResult<BeatView> {
        let pid = i32::try_from(beat.pid)
            .map_err(|_| StoreError::Internal(format!("pid {} out of range", beat.pid)))?;
        let rate_limit = i32::try_from(beat.rate_limit).map_err(|_| {
            StoreError::Internal(format!("rate limit {} out of range", beat.rate_limit))
        })?;
        let lease = chrono::Duration::from_std(lease)
            .map_err(|_| StoreError::Internal(format!("lease {lease:?} out of range")))?;
        self.write(|conn| {
            // The stamp first: a sender that read the table after this statement committed
            // has counted this one (see `SenderHeartbeats::sender_beat`).
            let at: DateTime<Utc> = diesel::insert_into(sender_heartbeats::table)
                .values((
                    sender_heartbeats::sender_id.eq(beat.sender_id),
                    sender_heartbeats::host.eq(&beat.host),
                    sender_heartbeats::pid.eq(pid),
                    sender_heartbeats::rate_limit.eq(rate_limit),
                    sender_heartbeats::started_at.eq(dialect::now()),
                    sender_heartbeats::beat_at.eq(dialect::now()),
                ))
                .on_conflict(sender_heartbeats::sender_id)
                .do_update()
                .set((
                    sender_heartbeats::rate_limit.eq(rate_limit),
                    sender_heartbeats::beat_at.eq(dialect::now()),
                ))
                .returning(sender_heartbeats::beat_at)
                .get_result(conn)?;
            let horizon = at - lease;
            // Whoever beats cleans up: a row past its lease counts for nobody any more.
            diesel::delete(sender_heartbeats::table.filter(sender_heartbeats::beat_at.le(horizon)))
                .execute(conn)?;
            let peers = sender_heartbeats::table
                .filter(sender_heartbeats::sender_id.ne(beat.sender_id))
                .select(sender_heartbeats::beat_at)
                .order(sender_heartbeats::beat_at)
                .load::<DateTime<Utc>>(conn)?;
            Ok::<_, Failure>(BeatView { at, peers })
        })
    }

    fn sender_leave(&self, sender_id: i64) -> StoreResult<()> {
        self.write(|conn| {
            diesel::delete(
                sender_heartbeats::table.filter(sender_heartbeats::sender_id.eq(sender_id)),
            )
            .execute(conn)?;
            Ok::<_, Failure>(())
        })
    }
}
