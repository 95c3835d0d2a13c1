//! Campaign control: why a mailing is paused, when a failing provider pauses it by itself, and
//! how many messages a client may receive in a span of hours (the frequency cap).

use crate::invalid::Invalid;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::fmt;

/// Why a mailing is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// Someone paused it through the API or the admin UI.
    Manual,
    /// Most of its recent attempts failed, so it paused itself (see [`AutoPause`]).
    ProviderFailing,
}

impl PauseReason {
    pub const ALL: [PauseReason; 2] = [PauseReason::Manual, PauseReason::ProviderFailing];

    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Manual => "manual",
            PauseReason::ProviderFailing => "provider_failing",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == raw)
    }
}

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mailing's current pause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    pub since: DateTime<Utc>,
    pub reason: PauseReason,
}

/// One pause in a mailing's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub reason: PauseReason,
    /// For a pause the service made: what it saw, in plain words.
    pub detail: Option<String>,
    pub paused_at: DateTime<Utc>,
    /// `None` while the pause lasts.
    pub resumed_at: Option<DateTime<Utc>>,
}

/// A share of attempts, kept in thousandths so that it compares exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FailureShare(u16);

impl FailureShare {
    /// A share from 0 (any failure pauses) to below 1 (1 would never pause: use `enabled:
    /// false` for that), rounded to thousandths.
    pub fn new(share: f64) -> Result<Self, Invalid> {
        if !share.is_finite() || !(0.0..1.0).contains(&share) {
            return Err(Invalid::ShareRange);
        }
        Ok(Self((share * 1000.0).round().min(999.0) as u16))
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 1000.0
    }

    /// Whether `failed` of `attempts` is more than this share.
    pub fn exceeded_by(self, failed: u32, attempts: u32) -> bool {
        u64::from(failed) * 1000 > u64::from(self.0) * u64::from(attempts)
    }
}

/// When a mailing pauses itself: once at least `attempts` attempts were made and more than
/// `failure_share` of the last `attempts` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoPause {
    pub enabled: bool,
    pub attempts: u32,
    pub failure_share: FailureShare,
}

impl AutoPause {
    pub const MAX_ATTEMPTS: u32 = 100_000;

    /// The number of attempts a rule looks back over: 1 to [`AutoPause::MAX_ATTEMPTS`].
    pub fn check_attempts(attempts: u32) -> Result<u32, Invalid> {
        if (1..=Self::MAX_ATTEMPTS).contains(&attempts) {
            Ok(attempts)
        } else {
            Err(Invalid::Range {
                min: 1,
                max: u64::from(Self::MAX_ATTEMPTS),
            })
        }
    }

    /// Whether `failed` of the last `attempts` attempts (a full look-back, or fewer before
    /// that many were made) call for a pause.
    pub fn trips(&self, failed: u32, attempts: u32) -> bool {
        self.enabled
            && attempts >= self.attempts
            && self.failure_share.exceeded_by(failed, attempts)
    }
}

/// What a mailing says about auto-pause; what it leaves out comes from the deployment's rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AutoPauseOverride {
    pub enabled: Option<bool>,
    pub attempts: Option<u32>,
    pub failure_share: Option<FailureShare>,
}

impl AutoPauseOverride {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The rule that applies, given the deployment's.
    pub fn resolve(&self, deployment: AutoPause) -> AutoPause {
        AutoPause {
            enabled: self.enabled.unwrap_or(deployment.enabled),
            attempts: self.attempts.unwrap_or(deployment.attempts),
            failure_share: self.failure_share.unwrap_or(deployment.failure_share),
        }
    }
}

/// At most `max` messages per client in any `per_hours` hours, from all mailings together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrequencyCap {
    max: u32,
    per_hours: u32,
}

/// What a frequency cap allows for one message right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapVerdict {
    Allowed,
    /// Not before this instant.
    WaitUntil(DateTime<Utc>),
}

impl FrequencyCap {
    pub const MAX_MESSAGES: u32 = 1_000;
    /// A year.
    pub const MAX_HOURS: u32 = 8_760;
    /// How long a message waits when the cap is full only because of messages on their way
    /// to the provider right now, whose outcome will tell whether they count.
    pub const IN_FLIGHT_WAIT: Duration = Duration::seconds(30);

    pub fn new(max: u32, per_hours: u32) -> Result<Self, (&'static str, Invalid)> {
        if !(1..=Self::MAX_MESSAGES).contains(&max) {
            return Err((
                "max",
                Invalid::Range {
                    min: 1,
                    max: u64::from(Self::MAX_MESSAGES),
                },
            ));
        }
        if !(1..=Self::MAX_HOURS).contains(&per_hours) {
            return Err((
                "per_hours",
                Invalid::Range {
                    min: 1,
                    max: u64::from(Self::MAX_HOURS),
                },
            ));
        }
        Ok(Self { max, per_hours })
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn per_hours(&self) -> u32 {
        self.per_hours
    }

    pub fn span(&self) -> Duration {
        Duration::hours(i64::from(self.per_hours))
    }

    /// Whether one more message may go to a client now. `sent` holds when the client's
    /// messages were delivered within the last [`FrequencyCap::span`] (any order; only the
    /// latest `max` matter) and `in_flight` how many of its messages a cap let go to the
    /// provider and whose outcome is not known yet: those count as received.
    pub fn verdict(
        &self,
        sent: &[DateTime<Utc>],
        in_flight: u64,
        now: DateTime<Utc>,
    ) -> CapVerdict {
        let since = now - self.span();
        let mut recent: Vec<DateTime<Utc>> =
            sent.iter().copied().filter(|at| *at > since).collect();
        let max = self.max as usize;
        if (recent.len() as u64).saturating_add(in_flight) < u64::from(self.max) {
            return CapVerdict::Allowed;
        }
        if recent.len() < max {
            // Full only with messages in flight: look again once their outcomes are in.
            return CapVerdict::WaitUntil(now + Self::IN_FLIGHT_WAIT);
        }
        // One more may go once the oldest of the latest `max` deliveries (minus the in-flight
        // ones, which take places of their own) leaves the span.
        recent.sort_unstable_by(|a, b| b.cmp(a));
        let places = max.saturating_sub(in_flight as usize).max(1);
        let leaving = recent[places - 1];
        CapVerdict::WaitUntil(leaving + self.span())
    }
}

impl fmt::Display for FrequencyCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages = if self.max == 1 { "message" } else { "messages" };
        let hours = if self.per_hours == 1 { "hour" } else { "hours" };
        write!(f, "{} {messages} per {} {hours}", self.max, self.per_hours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, h, m, 0).unwrap()
    }

    #[test]
    fn reasons_round_trip() {
        for reason in PauseReason::ALL {
            assert_eq!(PauseReason::parse(reason.as_str()), Some(reason));
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
        assert_eq!(PauseReason::parse("Manual"), None);
    }

    #[test]
    fn failure_shares_are_below_one() {
        assert_eq!(FailureShare::new(0.8).unwrap().as_f64(), 0.8);
        assert_eq!(FailureShare::new(0.0).unwrap().as_f64(), 0.0);
        for wrong in [1.0, -0.1, f64::NAN, f64::INFINITY] {
            assert_eq!(FailureShare::new(wrong), Err(Invalid::ShareRange));
        }
        // Rounded to thousandths, never up to one.
        assert_eq!(FailureShare::new(0.9996).unwrap().as_f64(), 0.999);
    }

    #[test]
    fn auto_pause_needs_a_full_look_back_and_more_than_the_share() {
        let rule = AutoPause {
            enabled: true,
            attempts: 10,
            failure_share: FailureShare::new(0.8).unwrap(),
        };
        assert!(!rule.trips(9, 9), "fewer attempts than the look-back");
        assert!(!rule.trips(8, 10), "exactly the share does not pass it");
        assert!(rule.trips(9, 10));
        assert!(rule.trips(10, 10));
        let off = AutoPause {
            enabled: false,
            ..rule
        };
        assert!(!off.trips(10, 10));
        let any = AutoPause {
            failure_share: FailureShare::new(0.0).unwrap(),
            ..rule
        };
        assert!(any.trips(1, 10));
        assert!(!any.trips(0, 10));
    }

    #[test]
    fn overrides_keep_the_deployment_rule_for_what_they_leave_out() {
        let deployment = AutoPause {
            enabled: true,
            attempts: 50,
            failure_share: FailureShare::new(0.8).unwrap(),
        };
        assert_eq!(AutoPauseOverride::default().resolve(deployment), deployment);
        let own = AutoPauseOverride {
            attempts: Some(5),
            ..AutoPauseOverride::default()
        };
        assert_eq!(
            own.resolve(deployment),
            AutoPause {
                attempts: 5,
                ..deployment
            }
        );
    }

    #[test]
    fn caps_are_bounded() {
        assert!(FrequencyCap::new(1, 1).is_ok());
        assert!(FrequencyCap::new(1000, 8760).is_ok());
        assert_eq!(FrequencyCap::new(0, 24).unwrap_err().0, "max");
        assert_eq!(FrequencyCap::new(3, 0).unwrap_err().0, "per_hours");
        assert_eq!(FrequencyCap::new(3, 8761).unwrap_err().0, "per_hours");
        assert_eq!(
            FrequencyCap::new(2, 24).unwrap().to_string(),
            "2 messages per 24 hours"
        );
        assert_eq!(
            FrequencyCap::new(1, 1).unwrap().to_string(),
            "1 message per 1 hour"
        );
    }

    #[test]
    fn a_cap_allows_until_full_then_waits_for_the_oldest_to_leave() {
        let cap = FrequencyCap::new(2, 24).unwrap();
        let now = at(12, 0);
        assert_eq!(cap.verdict(&[], 0, now), CapVerdict::Allowed);
        assert_eq!(cap.verdict(&[at(9, 0)], 0, now), CapVerdict::Allowed);
        // Two within the last 24 hours: the next may go when the older leaves the span.
        assert_eq!(
            cap.verdict(&[at(11, 0), at(9, 0)], 0, now),
            CapVerdict::WaitUntil(at(9, 0) + Duration::hours(24))
        );
        // Older deliveries do not count.
        let yesterday = at(11, 0) - Duration::hours(25);
        assert_eq!(
            cap.verdict(&[yesterday, at(9, 0)], 0, now),
            CapVerdict::Allowed
        );
    }

    #[test]
    fn messages_in_flight_count_as_received() {
        let cap = FrequencyCap::new(2, 24).unwrap();
        let now = at(12, 0);
        assert_eq!(cap.verdict(&[], 1, now), CapVerdict::Allowed);
        // Full only with in-flight ones: look again soon.
        assert_eq!(
            cap.verdict(&[at(9, 0)], 1, now),
            CapVerdict::WaitUntil(now + FrequencyCap::IN_FLIGHT_WAIT)
        );
        // Three deliveries of which the in-flight one takes a place: the second latest leaves
        // first.
        assert_eq!(
            cap.verdict(&[at(8, 0), at(11, 0), at(9, 0)], 1, now),
            CapVerdict::WaitUntil(at(11, 0) + Duration::hours(24))
        );
    }
}
