//! When requests arrived: every request to the send endpoint, whatever its answer, counted per
//! millisecond of its arrival, so a test can check the rate the provider saw in any window
//! (the sender's rate limit) by the simulator's clock rather than the senders'.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Milliseconds kept: the last two minutes of continuous traffic (under 2 MiB), more than a
/// rate check looks at; older ones go. The simulator built into `mailing` keeps this too.
const MAX_MILLISECONDS: usize = 120_000;

#[derive(Debug, Default)]
pub struct Arrivals {
    /// (millisecond since the epoch, requests), ascending.
    per_millisecond: Mutex<VecDeque<(i64, u32)>>,
}

impl Arrivals {
    pub fn record(&self, at: DateTime<Utc>) {
        let ms = at.timestamp_millis();
        let mut counts = self
            .per_millisecond
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Requests come in order but for those racing between workers: look from the back.
        let place = counts.iter().rposition(|(other, _)| *other <= ms);
        match place {
            Some(i) if counts[i].0 == ms => counts[i].1 = counts[i].1.saturating_add(1),
            Some(i) => counts.insert(i + 1, (ms, 1)),
            None => counts.push_front((ms, 1)),
        }
        if counts.len() > MAX_MILLISECONDS {
            counts.pop_front();
        }
    }

    /// The counts per millisecond, ascending; milliseconds without a request are absent.
    pub fn per_millisecond(&self) -> Vec<(i64, u32)> {
        self.per_millisecond
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    pub fn clear(&self) {
        self.per_millisecond
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_counted_per_millisecond_in_order() {
        let arrivals = Arrivals::default();
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
        for ms in [10, 10, 12, 11, 12, 5] {
            arrivals.record(at(ms));
        }
        assert_eq!(
            arrivals.per_millisecond(),
            vec![(5, 1), (10, 2), (11, 1), (12, 2)]
        );
        arrivals.clear();
        assert!(arrivals.per_millisecond().is_empty());
    }
}
