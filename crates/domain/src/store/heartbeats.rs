//! Sender heartbeats: how the senders of one deployment learn how many of them are alive, so
//! that together they keep to the provider's rate limit (see the sender's `share` module).

use crate::store::StoreResult;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Who is beating: a sender's id, picked at random when it starts, and what an operator
/// reading the table wants to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderBeat {
    pub sender_id: i64,
    pub host: String,
    pub pid: u32,
    /// The deployment-wide rate limit this sender runs with (requests per second).
    pub rate_limit: u32,
}

/// What one beat saw, in the database's clock (one clock for every sender, whatever their
/// hosts' clocks say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeatView {
    /// When this beat was stamped.
    pub at: DateTime<Utc>,
    /// The last beat of every other live sender (younger than the lease at `at`), oldest first.
    pub peers: Vec<DateTime<Utc>>,
}

/// The heartbeat table's reads and writes, each one transaction.
pub trait SenderHeartbeats {
    /// Stamps the sender's row with the database's clock (inserting it if it is new, or gone
    /// because its lease ran out), deletes the rows whose last beat is `lease` or more old,
    /// and returns the other live senders' last beats. A sender's row is stamped before the
    /// others are read, in one transaction: a sender whose stamp is later than another's
    /// registration has counted it.
    fn sender_beat(&self, beat: &SenderBeat, lease: Duration) -> StoreResult<BeatView>;
    /// Deletes the sender's row when it stops; deleting a missing row is a no-op.
    fn sender_leave(&self, sender_id: i64) -> StoreResult<()>;
}
