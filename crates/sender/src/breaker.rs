//! The circuit breaker: when the probe keeps failing (or rejects our token), stop calling it for
//! a while instead of turning an outage into a retry storm, then let one attempt test it.

use chrono::{DateTime, Utc};
use mailing_domain::store::TripReason;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why the breaker is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenReason {
    /// Too many retryable failures in a row.
    ProviderFailing,
    /// The probe refused our credentials.
    TokenRejected,
}

impl From<OpenReason> for TripReason {
    fn from(reason: OpenReason) -> Self {
        match reason {
            OpenReason::ProviderFailing => TripReason::ProviderFailing,
            OpenReason::TokenRejected => TripReason::TokenRejected,
        }
    }
}

impl OpenReason {
    /// The reason as log lines name it.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenReason::ProviderFailing => "provider_failing",
            OpenReason::TokenRejected => "token_rejected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        reason: OpenReason,
    },
    /// One trial attempt is out; everything else waits for its result.
    HalfOpen {
        reason: OpenReason,
    },
}

/// May an attempt go ahead now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Go,
    /// No: try again after this instant.
    Wait(Instant),
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
    token_pause: Duration,
    /// Trips not yet recorded in the database, for the daily report (see `trips.rs`).
    unrecorded: Mutex<Vec<(DateTime<Utc>, TripReason)>>,
}

/// Trips kept for recording at most: a database down for long loses the oldest beyond this.
const UNRECORDED_KEPT: usize = 10_000;

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration, token_pause: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            cooldown,
            token_pause,
            unrecorded: Mutex::default(),
        }
    }

    /// Counts a trip, and keeps it for the database.
    fn tripped(&self, reason: OpenReason) {
        crate::metrics::breaker_tripped(reason);
        let mut unrecorded = self
            .unrecorded
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if unrecorded.len() < UNRECORDED_KEPT {
            unrecorded.push((Utc::now(), reason.into()));
        }
    }

    /// The trips since the last call, oldest first.
    pub fn take_trips(&self) -> Vec<(DateTime<Utc>, TripReason)> {
        std::mem::take(
            &mut *self
                .unrecorded
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }

    /// Puts back trips that could not be recorded, ahead of any newer ones.
    pub fn return_trips(&self, mut trips: Vec<(DateTime<Utc>, TripReason)>) {
        let mut unrecorded = self
            .unrecorded
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        trips.append(&mut unrecorded);
        trips.truncate(UNRECORDED_KEPT);
        *unrecorded = trips;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Whether attempts are held back at `now`, without taking the one trial an open breaker
    /// lets through once its cool-down is over: that is for [`Breaker::permit`], right before
    /// the request, since a trial that never reaches the provider never reports back.
    pub fn holding(&self, now: Instant) -> Permit {
        match *self.state() {
            State::Open { until, .. } if now < until => Permit::Wait(until),
            State::HalfOpen { .. } => Permit::Wait(now + self.cooldown),
            State::Closed { .. } | State::Open { .. } => Permit::Go,
        }
    }

    /// May a request go to the provider now? An open breaker past its cool-down lets one
    /// through as its trial, whose answer must then be reported ([`Breaker::succeeded`],
    /// [`Breaker::failed`], [`Breaker::token_rejected`]): until then every other attempt waits.
    pub fn permit(&self, now: Instant) -> Permit {
        let mut state = self.state();
        match *state {
            State::Closed { .. } => Permit::Go,
            State::Open { until, reason } if now >= until => {
                *state = State::HalfOpen { reason };
                Permit::Go
            }
            State::Open { until, .. } => Permit::Wait(until),
            // The trial's answer decides; meanwhile wait a cool-down.
            State::HalfOpen { .. } => Permit::Wait(now + self.cooldown),
        }
    }

    pub fn succeeded(&self) {
        let mut state = self.state();
        if let State::HalfOpen { reason } = *state {
            tracing::info!(
                reason = reason.as_str(),
                "probe answers again; sending resumes"
            );
        }
        *state = State::Closed { failures: 0 };
    }

    /// A retryable failure; returns true if it opened the breaker.
    pub fn failed(&self, now: Instant) -> bool {
        let mut state = self.state();
        match *state {
            State::Closed { failures } if failures + 1 >= self.threshold => {
                *state = State::Open {
                    until: now + self.cooldown,
                    reason: OpenReason::ProviderFailing,
                };
                tracing::warn!(
                    failures = failures + 1,
                    cooldown_ms = self.cooldown.as_millis() as u64,
                    "probe keeps failing; pausing attempts"
                );
                self.tripped(OpenReason::ProviderFailing);
                true
            }
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::HalfOpen { reason } => {
                let pause = match reason {
                    OpenReason::TokenRejected => self.token_pause,
                    OpenReason::ProviderFailing => self.cooldown,
                };
                *state = State::Open {
                    until: now + pause,
                    reason,
                };
                self.tripped(reason);
                true
            }
            State::Open { .. } => false,
        }
    }

    /// The probe rejected the token: pause everything, longer than for an outage.
    pub fn token_rejected(&self, now: Instant) {
        let mut state = self.state();
        if !matches!(
            *state,
            State::Open {
                reason: OpenReason::TokenRejected,
                ..
            }
        ) {
            tracing::error!(
                pause_ms = self.token_pause.as_millis() as u64,
                "the probe rejected MAILING_PROBE_TOKEN; sending is paused and every message stays pending"
            );
            self.tripped(OpenReason::TokenRejected);
        }
        *state = State::Open {
            until: now + self.token_pause,
            reason: OpenReason::TokenRejected,
        };
    }

    /// The reason sending is paused, if it is.
    pub fn open_reason(&self) -> Option<OpenReason> {
        match *self.state() {
            State::Closed { .. } => None,
            State::Open { reason, .. } | State::HalfOpen { reason } => Some(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(3, Duration::from_secs(5), Duration::from_secs(30))
    }

    #[test]
    fn opens_after_the_threshold_and_lets_one_trial_through() {
        let b = breaker();
        let t0 = Instant::now();
        assert!(!b.failed(t0));
        assert!(!b.failed(t0));
        assert!(b.failed(t0));
        assert_eq!(b.permit(t0), Permit::Wait(t0 + Duration::from_secs(5)));
        let later = t0 + Duration::from_secs(5);
        assert_eq!(b.permit(later), Permit::Go);
        assert!(matches!(b.permit(later), Permit::Wait(_)), "only one trial");
        b.succeeded();
        assert_eq!(b.permit(later), Permit::Go);
        assert_eq!(b.open_reason(), None);
    }

    #[test]
    fn looking_does_not_take_the_trial() {
        let b = breaker();
        let t0 = Instant::now();
        assert_eq!(b.holding(t0), Permit::Go);
        for _ in 0..3 {
            b.failed(t0);
        }
        assert_eq!(b.holding(t0), Permit::Wait(t0 + Duration::from_secs(5)));
        let later = t0 + Duration::from_secs(5);
        // However many attempts look, the trial is still there for the one that calls.
        assert_eq!(b.holding(later), Permit::Go);
        assert_eq!(b.holding(later), Permit::Go);
        assert_eq!(b.permit(later), Permit::Go);
        assert_eq!(
            b.holding(later),
            Permit::Wait(later + Duration::from_secs(5)),
            "the trial is out"
        );
    }

    #[test]
    fn a_failed_trial_opens_it_again() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.failed(t0);
        }
        let later = t0 + Duration::from_secs(6);
        assert_eq!(b.permit(later), Permit::Go);
        assert!(b.failed(later));
        assert_eq!(
            b.permit(later),
            Permit::Wait(later + Duration::from_secs(5))
        );
    }

    #[test]
    fn success_resets_the_failure_count() {
        let b = breaker();
        let t0 = Instant::now();
        b.failed(t0);
        b.failed(t0);
        b.succeeded();
        assert!(!b.failed(t0));
        assert_eq!(b.permit(t0), Permit::Go);
    }

    #[test]
    fn trips_are_kept_for_the_database_until_taken() {
        let b = breaker();
        let now = Instant::now();
        for _ in 0..3 {
            b.failed(now);
        }
        b.token_rejected(now);
        let trips = b.take_trips();
        let reasons: Vec<_> = trips.iter().map(|(_, reason)| *reason).collect();
        assert_eq!(
            reasons,
            [TripReason::ProviderFailing, TripReason::TokenRejected]
        );
        assert!(b.take_trips().is_empty());
        b.return_trips(trips);
        assert_eq!(b.take_trips().len(), 2);
    }

    #[test]
    fn a_rejected_token_pauses_longer_and_is_reported() {
        let b = breaker();
        let t0 = Instant::now();
        b.token_rejected(t0);
        assert_eq!(b.open_reason(), Some(OpenReason::TokenRejected));
        assert_eq!(b.permit(t0), Permit::Wait(t0 + Duration::from_secs(30)));
        let later = t0 + Duration::from_secs(30);
        assert_eq!(b.permit(later), Permit::Go);
        b.token_rejected(later);
        assert_eq!(
            b.permit(later),
            Permit::Wait(later + Duration::from_secs(30))
        );
        let later = later + Duration::from_secs(30);
        assert_eq!(b.permit(later), Permit::Go);
        b.succeeded();
        assert_eq!(b.open_reason(), None);
    }
}
