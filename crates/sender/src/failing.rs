//! Watches each mailing's latest attempts at this sender and tells when a mailing should pause
//! itself because most of them failed (see [`mailing_domain::AutoPause`]).
//!
//! Each sender judges the attempts it made itself: with several senders a failing provider
//! pauses a mailing once one of them has seen enough, which takes at most the look-back at each.

use mailing_domain::{AutoPause, MailingId};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The latest attempts of one mailing, newest last, and how many of them failed.
#[derive(Debug, Default)]
struct Recent {
    failed: VecDeque<bool>,
    failures: u32,
}

/// What tripped a mailing's auto-pause, in plain words for its pause history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tripped {
    pub failed: u32,
    pub attempts: u32,
}

impl Tripped {
    pub fn detail(&self) -> String {
        format!(
            "{} of the last {} attempts failed at the provider",
            self.failed, self.attempts
        )
    }
}

#[derive(Debug, Default)]
pub struct FailureWatch {
    mailings: Mutex<HashMap<MailingId, Recent>>,
}

impl FailureWatch {
    /// Records an attempt of `mailing` under its `rule`; says when the rule calls for a pause,
    /// and then starts over, so that after a resume the mailing gets a full look-back again.
    pub fn record(&self, mailing: MailingId, failed: bool, rule: AutoPause) -> Option<Tripped> {
        let mut mailings = self.mailings.lock().unwrap_or_else(|p| p.into_inner());
        if !rule.enabled {
            mailings.remove(&mailing);
            return None;
        }
        let recent = mailings.entry(mailing).or_default();
        recent.failed.push_back(failed);
        recent.failures += u32::from(failed);
        while recent.failed.len() > rule.attempts as usize {
            if recent.failed.pop_front() == Some(true) {
                recent.failures -= 1;
            }
        }
        let attempts = recent.failed.len() as u32;
        if !rule.trips(recent.failures, attempts) {
            return None;
        }
        let tripped = Tripped {
            failed: recent.failures,
            attempts,
        };
        mailings.remove(&mailing);
        Some(tripped)
    }

    /// Forgets a mailing, e.g. once it paused: its earlier attempts say nothing of the next.
    pub fn forget(&self, mailing: MailingId) {
        self.mailings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&mailing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailing_domain::campaign::FailureShare;

    fn rule(attempts: u32, share: f64) -> AutoPause {
        AutoPause {
            enabled: true,
            attempts,
            failure_share: FailureShare::new(share).unwrap(),
        }
    }

    #[test]
    fn trips_once_the_look_back_is_full_and_mostly_failed() {
        let watch = FailureWatch::default();
        let m = MailingId(1);
        for _ in 0..9 {
            assert_eq!(watch.record(m, true, rule(10, 0.8)), None);
        }
        assert_eq!(
            watch.record(m, true, rule(10, 0.8)),
            Some(Tripped {
                failed: 10,
                attempts: 10
            })
        );
        // It starts over after tripping.
        assert_eq!(watch.record(m, true, rule(10, 0.8)), None);
    }

    #[test]
    fn only_the_latest_attempts_count() {
        let watch = FailureWatch::default();
        let m = MailingId(1);
        // 10 failures, then successes push them out of a look-back of 10.
        for _ in 0..5 {
            assert_eq!(watch.record(m, false, rule(10, 0.5)), None);
        }
        for _ in 0..5 {
            assert_eq!(watch.record(m, true, rule(10, 0.5)), None);
        }
        // Six failed of the last ten: more than half.
        assert!(watch.record(m, true, rule(10, 0.5)).is_some());
        // Other mailings are judged apart.
        assert_eq!(
            watch
                .record(MailingId(2), true, rule(1, 0.0))
                .map(|t| t.failed),
            Some(1)
        );
    }

    #[test]
    fn a_rule_turned_off_never_trips() {
        let watch = FailureWatch::default();
        let off = AutoPause {
            enabled: false,
            ..rule(1, 0.0)
        };
        for _ in 0..10 {
            assert_eq!(watch.record(MailingId(1), true, off), None);
        }
    }
}
