//! This sender's part of the deployment's rate limit on probe requests: a token bucket refilled
//! continuously at the share the heartbeat (see [`crate::share`]) last granted, holding at most
//! two tokens, and granting nothing once that share has lapsed.
//!
//! # The bound
//!
//! Tokens are taken only while the share is valid, refilled only up to the instant it lapses,
//! and a change of rate first refills at the old rate up to that moment. So in any window
//! `[a, a + w]` a bucket gives at most what it held at `a` (at most [`CAPACITY`]) plus its rate
//! integrated over the window:
//!
//! ```text
//! taken(a, a + w) <= CAPACITY + integral of rate(t) dt over [a, a + w] <= 2 + w * max rate
//! ```
//!
//! Summed over the `k` senders sharing, each with a rate of at most `(aim - 2k) / k` (see
//! [`crate::share::share_of`]), a one-second window holds at most `2k + (aim - 2k) = aim`
//! tokens, below the limit. Why two tokens: a bucket holding one would be full whenever a
//! waiting request wakes up late (timers, a busy machine), losing the refill of that delay on
//! every token, a sixth of the rate at 180/s; the second token keeps what a late wake-up would
//! lose, and costs two requests per second per sender.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most tokens a bucket holds: a sender's burst, the `2` of the bound above.
pub const CAPACITY: f64 = 2.0;
/// How often a request waiting while the share is zero or has lapsed looks again: the
/// heartbeat grants a share a few times a second.
const PAUSED_POLL: Duration = Duration::from_millis(20);

/// What the heartbeat grants: a rate and how long it may be used without a newer beat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    /// Requests per second this sender may make; zero while it is joining.
    pub per_second: f64,
    /// When the share lapses unless a newer beat renews it.
    pub until: Instant,
    /// Live senders the share was computed for, this one included (for metrics).
    pub live_senders: usize,
}

#[derive(Debug)]
struct Bucket {
    share: Share,
    tokens: f64,
    /// Up to when `tokens` has been refilled.
    refilled_to: Instant,
}

impl Bucket {
    /// Adds what the current share earned since the last refill, up to `now` or the instant
    /// the share lapsed, whichever came first.
    fn refill(&mut self, now: Instant) {
        let end = now.min(self.share.until);
        if end > self.refilled_to {
            let earned = (end - self.refilled_to).as_secs_f64() * self.share.per_second;
            self.tokens = (self.tokens + earned).min(CAPACITY);
        }
        self.refilled_to = self.refilled_to.max(now);
    }
}

#[derive(Debug)]
pub struct RateLimiter {
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    /// `None` for no limit. A limiter starts empty with no share: nothing goes out before the
    /// heartbeat grants one.
    pub fn new(limit: u32) -> Option<Self> {
        (limit > 0).then(|| Self::starting_at(Instant::now()))
    }

    fn starting_at(now: Instant) -> Self {
        Self {
            bucket: Mutex::new(Bucket {
                share: Share {
                    per_second: 0.0,
                    until: now,
                    live_senders: 0,
                },
                tokens: 0.0,
                refilled_to: now,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a new share from `now` on; what the old one earned until now is kept (at most one
    /// token), so the bound holds across the change.
    pub fn set_share(&self, share: Share, now: Instant) {
        let mut bucket = self.lock();
        bucket.refill(now);
        bucket.share = share;
    }

    /// The rate this sender may use at `now` (zero once its share lapsed), and the live senders
    /// it was shared among.
    pub fn share_at(&self, now: Instant) -> (f64, usize) {
        let bucket = self.lock();
        let rate = if now < bucket.share.until {
            bucket.share.per_second
        } else {
            0.0
        };
        (rate, bucket.share.live_senders)
    }

    /// Takes a token at `now`, or says how long to wait before asking again.
    fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.lock();
        bucket.refill(now);
        if now >= bucket.share.until || bucket.share.per_second <= 0.0 {
            // A token left from before must not go out either: the others may be using this
            // sender's share already (see `crate::share`).
            return Err(PAUSED_POLL);
        }
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / bucket.share.per_second,
            ))
        }
    }

    /// Waits until a request may go out.
    pub async fn acquire(&self) {
        while let Err(wait) = self.try_take(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(per_second: f64, until: Instant) -> Share {
        Share {
            per_second,
            until,
            live_senders: 1,
        }
    }

    /// Takes every token `limiter` grants, asking again as soon as it says, from `from` to
    /// `to`; returns the instants of the takes.
    fn greedy(limiter: &RateLimiter, from: Instant, to: Instant) -> Vec<Instant> {
        let mut taken = Vec::new();
        let mut now = from;
        while now < to {
            match limiter.try_take(now) {
                Ok(()) => taken.push(now),
                // Asking a little late, as a woken task does, must not matter.
                Err(wait) => now += wait.max(Duration::from_micros(1)),
            }
        }
        taken
    }

    /// The most takes in any window of `width`.
    fn busiest(takes: &[Instant], width: Duration) -> usize {
        let mut takes = takes.to_vec();
        takes.sort();
        let mut most = 0;
        let mut first = 0;
        for (last, at) in takes.iter().enumerate() {
            while *at - takes[first] >= width {
                first += 1;
            }
            most = most.max(last - first + 1);
        }
        most
    }

    #[test]
    fn zero_means_unlimited() {
        assert!(RateLimiter::new(0).is_none());
    }

    #[test]
    fn nothing_goes_out_before_a_share_is_granted() {
        let t0 = Instant::now();
        let limiter = RateLimiter::starting_at(t0);
        assert!(greedy(&limiter, t0, t0 + Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn a_bucket_holds_two_tokens_and_refills_at_its_rate() {
        let t0 = Instant::now();
        let limiter = RateLimiter::starting_at(t0);
        limiter.set_share(share(100.0, t0 + Duration::from_secs(10)), t0);
        // Idle for a while: still only two tokens.
        let later = t0 + Duration::from_secs(1);
        let taken = (0..100).filter(|_| limiter.try_take(later).is_ok()).count();
        assert_eq!(taken, 2);
        let wait = limiter.try_take(later).unwrap_err();
        assert!(wait <= Duration::from_millis(10), "{wait:?}");
        let takes = greedy(&limiter, later, later + Duration::from_secs(2));
        assert!((199..=201).contains(&takes.len()), "{}", takes.len());
        // A taker waking up late each time loses nothing while it is late by less than a
        // token's worth.
        let mut late = Vec::new();
        let mut now = later + Duration::from_secs(3);
        let end = now + Duration::from_secs(2);
        while now < end {
            match limiter.try_take(now) {
                Ok(()) => late.push(now),
                Err(wait) => now += wait + Duration::from_millis(3),
            }
        }
        assert!((199..=202).contains(&late.len()), "{}", late.len());
    }

    #[test]
    fn a_lapsed_share_grants_nothing_even_with_a_token_left() {
        let t0 = Instant::now();
        let limiter = RateLimiter::starting_at(t0);
        let until = t0 + Duration::from_millis(500);
        limiter.set_share(share(10.0, until), t0);
        // Untouched until long after the lapse: the refill stopped at the lapse.
        assert_eq!(
            limiter.try_take(until + Duration::from_secs(5)),
            Err(PAUSED_POLL)
        );
        assert_eq!(limiter.share_at(until), (0.0, 1));
        assert_eq!(limiter.share_at(t0), (10.0, 1));
        // Renewed: the tokens earned before the lapse are there, nothing more.
        let now = until + Duration::from_secs(5);
        limiter.set_share(share(10.0, now + Duration::from_secs(1)), now);
        assert!(limiter.try_take(now).is_ok());
        assert!(limiter.try_take(now).is_ok());
        assert!(limiter.try_take(now).is_err());
    }

    /// The bound in the module's documentation, in virtual time: three senders sharing 200/s
    /// (each at `share_of(200, 3)`), whose shares change as they would while one leaves and
    /// another joins, one of them lapsing for a while, take no more than the aim in any
    /// one-second window, and each no more than its rate times the window plus one.
    #[test]
    fn the_senders_together_keep_below_the_limit_in_every_second() {
        use crate::share::{aim, share_of};
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let limiters: Vec<RateLimiter> = (0..4).map(|_| RateLimiter::starting_at(t0)).collect();
        let three = share_of(200, 3);
        let two = share_of(200, 2);
        let far = at(60_000);
        // (sender, from ms, rate, valid until ms): the schedule of grants.
        let grants: Vec<(usize, u64, f64, u64)> = vec![
            (0, 0, three, 60_000),
            (1, 0, three, 60_000),
            (2, 0, three, 60_000),
            // Sender 2 loses its database: its share lapses at 3.5 s ...
            (2, 2_000, three, 3_500),
            // ... and the others raise theirs only after its lease ran out, later.
            (0, 4_100, two, 60_000),
            (1, 4_150, two, 60_000),
            // Sender 3 joins: the others lower their shares before it takes its own.
            (0, 6_000, three, 60_000),
            (1, 6_100, three, 60_000),
            (3, 6_200, three, 60_000),
            // Sender 2 comes back as a new member, the others make room first.
            (0, 8_000, share_of(200, 4), 60_000),
            (1, 8_000, share_of(200, 4), 60_000),
            (3, 8_000, share_of(200, 4), 60_000),
            (2, 8_300, share_of(200, 4), 60_000),
        ];
        let mut all = Vec::new();
        for (sender, limiter) in limiters.iter().enumerate() {
            let mut mine: Vec<&(usize, u64, f64, u64)> =
                grants.iter().filter(|g| g.0 == sender).collect();
            mine.sort_by_key(|g| g.1);
            let mut takes = Vec::new();
            let mut from = t0;
            for (i, (_, start, rate, until)) in mine.iter().enumerate() {
                takes.extend(greedy(limiter, from, at(*start)));
                limiter.set_share(share(*rate, at(*until)), at(*start));
                from = at(*start);
                if i == mine.len() - 1 {
                    takes.extend(greedy(limiter, from, at(12_000)));
                }
            }
            let most = busiest(&takes, Duration::from_secs(1));
            assert!(
                most as f64 <= two + CAPACITY,
                "sender {sender} took {most} in one second"
            );
            all.extend(takes);
        }
        assert!(far > at(12_000));
        let most = busiest(&all, Duration::from_secs(1));
        println!("most requests in one second: {most}, aim {}", aim(200));
        assert!(most as f64 <= aim(200), "{most} in one second");
        // And not far below: the shares are used.
        assert!(most as f64 >= aim(200) - 5.0, "{most} in one second");
    }
}
