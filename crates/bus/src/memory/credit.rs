//! The prefetch of one subscription: how many of its deliveries may be unsettled at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

pub(super) struct Credit {
    limit: usize,
    unsettled: AtomicUsize,
    /// Woken when a delivery is settled; only the subscription's own stream waits on it.
    returned: Notify,
}

impl Credit {
    /// A prefetch of 0 counts as 1, as [`crate::Bus::subscribe`] promises.
    pub(super) fn new(prefetch: u16) -> Credit {
        Credit {
            limit: usize::from(prefetch.max(1)),
            unsettled: AtomicUsize::new(0),
            returned: Notify::new(),
        }
    }

    pub(super) fn available(&self) -> bool {
        self.unsettled.load(Ordering::SeqCst) < self.limit
    }

    /// Called by the subscription's stream alone, after `available`: nobody else spends, so
    /// the check cannot go stale in between.
    pub(super) fn spend(&self) {
        self.unsettled.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn give_back(&self) {
        self.unsettled.fetch_sub(1, Ordering::SeqCst);
        // Stores a permit if the stream is not waiting yet, so the wakeup cannot be missed.
        self.returned.notify_one();
    }

    /// Resolves once a delivery is settled.
    pub(super) fn returned(&self) -> Notified<'_> {
        self.returned.notified()
    }
}
