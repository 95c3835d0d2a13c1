//! Slows password guessing down: after too many failed logins for one account from one client
//! within a window, or too many for any account from one client, further attempts from that
//! client are refused until the oldest failure leaves the window. A success clears the
//! account's count for that client.
//!
//! The counts live in each api process: with several replicas behind a balancer a client gets
//! at most that many times the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A client may fail on any accounts this many times the per-account limit.
const CLIENT_FACTOR: usize = 5;
/// Tracked keys beyond which expired ones are dropped before a new one is added.
const PRUNE_ABOVE: usize = 10_000;

pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// At most `max_failures` (at least 1) failed logins per client and account in `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: usize::try_from(max_failures.max(1)).unwrap_or(usize::MAX),
            window,
            failures: Mutex::default(),
        }
    }

    fn keys(client: &str, username: &str) -> [(String, usize); 2] {
        [
            (format!("{client}\u{0}{username}"), 1),
            (client.to_owned(), CLIENT_FACTOR),
        ]
    }

    /// How long `client` must wait before trying `username` again, if it must.
    pub fn wait(&self, client: &str, username: &str, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(client, username)
            .iter()
            .filter_map(|(key, factor)| {
                let times = failures.get(key)?;
                let recent: Vec<&Instant> = times
                    .iter()
                    .filter(|at| now.duration_since(**at) < self.window)
                    .collect();
                let limit = self.max_failures.saturating_mul(*factor);
                (recent.len() >= limit).then(|| {
                    // Free again when enough of them have left the window.
                    let freeing = recent[recent.len() - limit];
                    self.window.saturating_sub(now.duration_since(*freeing))
                })
            })
            .max()
    }

    /// Counts a failed login.
    pub fn failed(&self, client: &str, username: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < self.window)
            });
        }
        for (key, factor) in Self::keys(client, username) {
            let limit = self.max_failures.saturating_mul(factor);
            let times = failures.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
    }

    /// A successful login: the account's failures from this client no longer count.
    pub fn succeeded(&self, client: &str, username: &str) {
        let [(account_key, _), _] = Self::keys(client, username);
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn refuses_after_the_limit_until_the_oldest_failure_leaves_the_window() {
        let throttle = LoginThrottle::new(3, WINDOW);
        let t0 = Instant::now();
        for second in 0..3 {
            assert_eq!(throttle.wait("10.0.0.1", "admin", t0), None);
            throttle.failed("10.0.0.1", "admin", t0 + Duration::from_secs(second));
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(
            throttle.wait("10.0.0.1", "admin", now),
            Some(Duration::from_secs(50))
        );
        assert_eq!(
            throttle.wait("10.0.0.2", "admin", now),
            None,
            "another client"
        );
        assert_eq!(
            throttle.wait("10.0.0.1", "someone", now),
            None,
            "another account"
        );
        assert_eq!(
            throttle.wait("10.0.0.1", "admin", t0 + WINDOW),
            None,
            "the first failure left the window"
        );
    }

    #[test]
    fn a_success_clears_the_account_but_not_the_client() {
        let throttle = LoginThrottle::new(2, WINDOW);
        let t0 = Instant::now();
        throttle.failed("c", "admin", t0);
        throttle.failed("c", "admin", t0);
        assert!(throttle.wait("c", "admin", t0).is_some());
        throttle.succeeded("c", "admin");
        assert_eq!(throttle.wait("c", "admin", t0), None);
    }

    #[test]
    fn one_client_guessing_many_accounts_is_limited_too() {
        let throttle = LoginThrottle::new(2, WINDOW);
        let t0 = Instant::now();
        for account in 0..(2 * CLIENT_FACTOR) {
            throttle.failed("c", &format!("user{account}"), t0);
        }
        assert!(throttle.wait("c", "fresh-name", t0).is_some());
        assert_eq!(throttle.wait("other", "fresh-name", t0), None);
    }
}
