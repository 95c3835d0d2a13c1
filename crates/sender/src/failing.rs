//! Watches each mailing's latest attempts at this sender and tells when a mailing should pause
//! itself because most of them failed (see [`mailing_domain::AutoPause`]).
//!
//! Each sender judges the attempts it made itself: with several senders a failing provider
//! pauses a mailing once one of them has seen enough, which takes at most the look-back at each.

use mailing_domain::{AutoPause, MailingId};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Mailings whose look-back was untouched this long are forgotten once the map grows.
const IDLE: Duration = Duration::from_secs(3600);
/// How many mailings the map holds before idle ones are looked for, at most once a minute.
const ROOM: usize = 1024;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The latest attempts of one mailing, newest last, and how many of them failed.
#[derive(Debug)]
struct Recent {
    failed: VecDeque<bool>,
    failures: u32,
    /// Attempts that started before this are not counted: they belong to the time before a
    /// pause, and say nothing of the provider once the mailing resumes.
    counts_from: Option<Instant>,
    /// The rule tripped and the pause is being written: nothing is counted meanwhile.
    pausing: bool,
    touched: Instant,
}

impl Recent {
    fn new(now: Instant) -> Self {
        Self {
            failed: VecDeque::new(),
            failures: 0,
            counts_from: None,
            pausing: false,
            touched: now,
        }
    }
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
struct Watched {
    mailings: HashMap<MailingId, Recent>,
    pruned: Option<Instant>,
}

impl Watched {
    /// Forgets mailings idle for long, when there are many, now and then.
    fn prune(&mut self, now: Instant) {
        if self.mailings.len() < ROOM
            || self
                .pruned
                .is_some_and(|at| now.duration_since(at) < PRUNE_EVERY)
        {
            return;
        }
        self.mailings
            .retain(|_, recent| now.duration_since(recent.touched) < IDLE);
        self.pruned = Some(now);
    }

    fn entry(&mut self, mailing: MailingId, now: Instant) -> &mut Recent {
        self.prune(now);
        let recent = self
            .mailings
            .entry(mailing)
            .or_insert_with(|| Recent::new(now));
        recent.touched = now;
        recent
    }
}

#[derive(Debug, Default)]
pub struct FailureWatch {
    watched: Mutex<Watched>,
}

impl FailureWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an attempt of `mailing` that started (read the mailing's state) at `started`,
    /// under its `rule`. Says when the rule calls for a pause; from then on nothing is counted
    /// until [`FailureWatch::restart`], which the pause's writer calls once it is written.
    pub fn record(
        &self,
        mailing: MailingId,
        started: Instant,
        failed: bool,
        rule: AutoPause,
    ) -> Option<Tripped> {
        let mut watched = self.lock();
        if !rule.enabled {
            watched.mailings.remove(&mailing);
            return None;
        }
        let recent = watched.entry(mailing, Instant::now());
        if recent.pausing || recent.counts_from.is_some_and(|from| started < from) {
            return None;
        }
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
        recent.failed.clear();
        recent.failures = 0;
        recent.pausing = true;
        Some(tripped)
    }

    /// Starts `mailing`'s look-back afresh, counting only attempts that start at `from` or
    /// later: once its pause is written (attempts that read its state before the pause are
    /// left out), or when an attempt finds it paused. After a resume it thus gets a full
    /// look-back of attempts made since.
    pub fn restart(&self, mailing: MailingId, from: Instant) {
        let mut watched = self.lock();
        let recent = watched.entry(mailing, Instant::now());
        recent.failed.clear();
        recent.failures = 0;
        recent.pausing = false;
        recent.counts_from = Some(recent.counts_from.map_or(from, |at| at.max(from)));
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
        let t0 = Instant::now();
        for _ in 0..9 {
            assert_eq!(watch.record(m, t0, true, rule(10, 0.8)), None);
        }
        assert_eq!(
            watch.record(m, t0, true, rule(10, 0.8)),
            Some(Tripped {
                failed: 10,
                attempts: 10
            })
        );
    }

    #[test]
    fn only_the_latest_attempts_count() {
        let watch = FailureWatch::default();
        let m = MailingId(1);
        let t0 = Instant::now();
        // 10 failures, then successes push them out of a look-back of 10.
        for _ in 0..5 {
            assert_eq!(watch.record(m, t0, false, rule(10, 0.5)), None);
        }
        for _ in 0..5 {
            assert_eq!(watch.record(m, t0, true, rule(10, 0.5)), None);
        }
        // Six failed of the last ten: more than half.
        assert!(watch.record(m, t0, true, rule(10, 0.5)).is_some());
        // Other mailings are judged apart.
        assert_eq!(
            watch
                .record(MailingId(2), t0, true, rule(1, 0.0))
                .map(|t| t.failed),
            Some(1)
        );
    }

    #[test]
    fn attempts_under_way_at_a_pause_do_not_count_after_it() {
        let watch = FailureWatch::default();
        let m = MailingId(1);
        let t0 = Instant::now();
        for _ in 0..9 {
            watch.record(m, t0, true, rule(10, 0.5));
        }
        assert!(watch.record(m, t0, true, rule(10, 0.5)).is_some());
        // The attempts in flight fail too while the pause is written: not counted.
        for _ in 0..10 {
            assert_eq!(watch.record(m, t0, true, rule(10, 0.5)), None);
        }
        // Written; attempts that started before the sender can see it still do not count.
        let visible = t0 + Duration::from_millis(100);
        watch.restart(m, visible);
        for _ in 0..10 {
            assert_eq!(watch.record(m, t0, true, rule(10, 0.5)), None);
        }
        // Resumed with the provider back: a fresh look-back, which the old failures do not
        // spoil.
        for _ in 0..10 {
            assert_eq!(watch.record(m, visible, false, rule(10, 0.5)), None);
        }
        for _ in 0..5 {
            assert_eq!(watch.record(m, visible, true, rule(10, 0.5)), None);
        }
        assert!(watch.record(m, visible, true, rule(10, 0.5)).is_some());
    }

    #[test]
    fn a_restart_never_moves_back() {
        let watch = FailureWatch::default();
        let m = MailingId(1);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        watch.restart(m, later);
        watch.restart(m, t0);
        assert_eq!(watch.record(m, t0, true, rule(1, 0.0)), None);
        assert!(watch.record(m, later, true, rule(1, 0.0)).is_some());
    }

    #[test]
    fn idle_mailings_are_forgotten_when_there_are_many() {
        let watch = FailureWatch::default();
        let t0 = Instant::now();
        let mut watched = watch.lock();
        for id in 0..ROOM as i64 {
            watched.entry(MailingId(id), t0);
        }
        // Too early: they were all touched just now.
        watched.entry(MailingId(-1), t0 + IDLE / 2);
        assert_eq!(watched.mailings.len(), ROOM + 1);
        // An hour after them (and a minute after the last look) the idle ones go, not the one
        // touched since.
        watched.pruned = None;
        watched.entry(MailingId(-2), t0 + IDLE);
        assert_eq!(watched.mailings.len(), 2);
    }

    #[test]
    fn a_rule_turned_off_never_trips() {
        let watch = FailureWatch::default();
        let off = AutoPause {
            enabled: false,
            ..rule(1, 0.0)
        };
        for _ in 0..10 {
            assert_eq!(watch.record(MailingId(1), Instant::now(), true, off), None);
        }
    }
}
