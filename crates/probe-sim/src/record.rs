//! What the simulator delivered: per message id, how many times it was answered with a proper
//! 200 OK, when first and last, and the last phone and text. Built to hold a million ids in a
//! few tens of MiB and to be written by every worker at once: the map is split into shards,
//! each behind its own briefly held lock, and mailing texts (one per mailing, repeated for every
//! recipient) are stored once per shard.

use chrono::{DateTime, Utc};
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

const SHARDS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Delivery {
    count: u32,
    text: u32,
    phone: u64,
    first_at_micros: i64,
    last_at_micros: i64,
}

#[derive(Debug, Default)]
struct Shard {
    deliveries: HashMap<i64, Delivery>,
    ok_total: u64,
    duplicates: u64,
    texts: Vec<Arc<str>>,
    text_ids: HashMap<Arc<str>, u32>,
}

impl Shard {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(id) = self.text_ids.get(text) {
            return *id;
        }
        let id = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        let text: Arc<str> = Arc::from(text);
        self.texts.push(text.clone());
        self.text_ids.insert(text, id);
        id
    }
}

/// Totals over everything recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// 200 OK answers.
    pub ok_total: u64,
    /// Distinct ids answered OK.
    pub unique_ids: u64,
    /// Ids answered OK more than once.
    pub duplicates: u64,
}

/// One id's deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub id: i64,
    pub count: u32,
    pub phone: u64,
    pub text: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct Recorder {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl Recorder {
    fn shard(&self, id: i64) -> MutexGuard<'_, Shard> {
        // Senders number messages consecutively; multiplying spreads neighbours over shards.
        let index = ((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS;
        lock(&self.shards[index])
    }

    /// Counts a 200 OK for `id`; returns how many it has had now.
    pub fn record(&self, id: i64, phone: u64, text: &str, at: DateTime<Utc>) -> u32 {
        let at = at.timestamp_micros();
        let mut shard = self.shard(id);
        let text = shard.intern(text);
        shard.ok_total += 1;
        let count = match shard.deliveries.get_mut(&id) {
            Some(delivery) => {
                delivery.count = delivery.count.saturating_add(1);
                delivery.phone = phone;
                delivery.text = text;
                delivery.first_at_micros = delivery.first_at_micros.min(at);
                delivery.last_at_micros = delivery.last_at_micros.max(at);
                delivery.count
            }
            None => {
                shard.deliveries.insert(
                    id,
                    Delivery {
                        count: 1,
                        text,
                        phone,
                        first_at_micros: at,
                        last_at_micros: at,
                    },
                );
                1
            }
        };
        if count == 2 {
            shard.duplicates += 1;
        }
        count
    }

    pub fn get(&self, id: i64) -> Option<Delivered> {
        let shard = self.shard(id);
        let delivery = shard.deliveries.get(&id)?;
        Some(Delivered {
            id,
            count: delivery.count,
            phone: delivery.phone,
            text: shard
                .texts
                .get(delivery.text as usize)
                .map(|text| text.to_string())
                .unwrap_or_default(),
            first_at: micros_to_time(delivery.first_at_micros),
            last_at: micros_to_time(delivery.last_at_micros),
        })
    }

    pub fn totals(&self) -> Totals {
        self.shards
            .iter()
            .fold(Totals::default(), |mut totals, shard| {
                let shard = lock(shard);
                totals.ok_total += shard.ok_total;
                totals.unique_ids += shard.deliveries.len() as u64;
                totals.duplicates += shard.duplicates;
                totals
            })
    }

    /// Up to `limit` `(id, count)` pairs in ascending id order, starting after `after`, of ids
    /// answered OK at least `min_count` times. Scans every shard but keeps only `limit` pairs,
    /// so paging through a million ids never copies them all.
    pub fn page(&self, after: Option<i64>, limit: usize, min_count: u32) -> Vec<(i64, u32)> {
        let mut smallest: BinaryHeap<(i64, u32)> = BinaryHeap::with_capacity(limit + 1);
        if limit == 0 {
            return Vec::new();
        }
        for shard in self.shards.iter() {
            let shard = lock(shard);
            for (&id, delivery) in &shard.deliveries {
                if after.is_some_and(|after| id <= after) || delivery.count < min_count {
                    continue;
                }
                if smallest.len() < limit {
                    smallest.push((id, delivery.count));
                } else if smallest.peek().is_some_and(|&(largest, _)| id < largest) {
                    smallest.pop();
                    smallest.push((id, delivery.count));
                }
            }
        }
        smallest.into_sorted_vec()
    }

    /// Forgets everything recorded.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            *lock(shard) = Shard::default();
        }
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // No code panics while holding a shard, and a shard's data stays consistent between
    // statements, so a poisoned lock still guards good data.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn micros_to_time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap()
    }

    #[test]
    fn counts_deliveries_and_duplicates() {
        let recorder = Recorder::default();
        assert_eq!(recorder.record(1, 79_000_000_001, "hello", at(0)), 1);
        assert_eq!(recorder.record(2, 79_000_000_002, "hello", at(1)), 1);
        assert_eq!(recorder.record(1, 79_000_000_009, "bye", at(2)), 2);
        assert_eq!(recorder.record(1, 79_000_000_009, "bye", at(3)), 3);
        assert_eq!(
            recorder.totals(),
            Totals {
                ok_total: 4,
                unique_ids: 2,
                duplicates: 1
            }
        );
        let one = recorder.get(1).unwrap();
        assert_eq!(one.count, 3);
        assert_eq!(one.phone, 79_000_000_009);
        assert_eq!(one.text, "bye");
        assert_eq!(one.first_at, at(0));
        assert_eq!(one.last_at, at(3));
        assert_eq!(recorder.get(3), None);
    }

    #[test]
    fn clear_forgets_everything() {
        let recorder = Recorder::default();
        recorder.record(5, 1, "x", at(0));
        recorder.record(5, 1, "x", at(0));
        recorder.clear();
        assert_eq!(recorder.totals(), Totals::default());
        assert_eq!(recorder.get(5), None);
    }

    #[test]
    fn pages_walk_ids_in_order() {
        let recorder = Recorder::default();
        for id in (1..=1000).rev() {
            recorder.record(id, 1, "t", at(0));
        }
        for id in [10, 500, 999] {
            recorder.record(id, 1, "t", at(1));
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = recorder.page(after, 97, 1);
            let Some(&(last, _)) = page.last() else { break };
            seen.extend(page.iter().map(|(id, _)| *id));
            after = Some(last);
        }
        assert_eq!(seen, (1..=1000).collect::<Vec<_>>());
        assert_eq!(
            recorder.page(None, 10, 2),
            vec![(10, 2), (500, 2), (999, 2)]
        );
        assert_eq!(recorder.page(Some(500), 10, 2), vec![(999, 2)]);
        assert!(recorder.page(None, 0, 1).is_empty());
    }

    #[test]
    fn negative_and_extreme_ids_are_kept_apart() {
        let recorder = Recorder::default();
        for id in [i64::MIN, -1, 0, 1, i64::MAX] {
            recorder.record(id, 1, "t", at(0));
        }
        assert_eq!(recorder.totals().unique_ids, 5);
        assert_eq!(
            recorder.page(None, 10, 1),
            vec![(i64::MIN, 1), (-1, 1), (0, 1), (1, 1), (i64::MAX, 1)]
        );
    }
}
