//! A global rate limit on probe requests: a token bucket refilled continuously, holding at most
//! a tenth of a second's worth, so bursts stay small.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    capacity: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// `None` for no limit.
    pub fn new(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| {
            let per_second = f64::from(per_second);
            let capacity = (per_second / 10.0).max(1.0);
            Self {
                per_second,
                capacity,
                bucket: Mutex::new((capacity, Instant::now())),
            }
        })
    }

    /// Takes a token at `now`, or says how long to wait for one.
    fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = *bucket;
        let refilled = (tokens
            + now.saturating_duration_since(last).as_secs_f64() * self.per_second)
            .min(self.capacity);
        if refilled >= 1.0 {
            *bucket = (refilled - 1.0, now);
            Ok(())
        } else {
            *bucket = (refilled, now);
            Err(Duration::from_secs_f64((1.0 - refilled) / self.per_second))
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

    #[test]
    fn zero_means_unlimited() {
        assert!(RateLimiter::new(0).is_none());
    }

    #[test]
    fn bursts_are_bounded_and_tokens_refill_at_the_rate() {
        let limiter = RateLimiter::new(100).unwrap();
        let t0 = Instant::now();
        let taken = (0..100).filter(|_| limiter.try_take(t0).is_ok()).count();
        assert_eq!(taken, 10, "a tenth of a second's worth");
        let wait = limiter.try_take(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(10));
        let later = t0 + Duration::from_millis(50);
        let taken = (0..100).filter(|_| limiter.try_take(later).is_ok()).count();
        assert_eq!(taken, 5);
    }
}
