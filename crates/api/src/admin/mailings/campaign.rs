//! What a mailing's pages say about its pauses and its rules, in plain words: why and since
//! when it is paused, each pause of its history with how long it lasted, how long it was
//! paused in all, how often it paused itself or made a client wait for the frequency cap, and
//! its own cap and auto-pause rule.

use crate::admin::view::Clock;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::campaign::{AutoPauseOverride, FailureShare, Pause, PauseReason};
use mailing_domain::store::Mailing;
use mailing_domain::{FrequencyCap, MailingStatus};

/// Why a mailing paused, as its pages say it.
pub fn reason_in_words(reason: PauseReason) -> &'static str {
    match reason {
        PauseReason::Manual => "Paused by hand",
        PauseReason::ProviderFailing => "Paused itself: the provider was failing",
    }
}

/// The pause a paused mailing is in.
pub struct PauseNotice {
    /// "Paused by hand" or "Paused itself: the provider was failing".
    pub reason: &'static str,
    pub since: String,
    /// For a pause the mailing made itself: what it saw ("48 of the last 50 attempts failed at
    /// the provider").
    pub detail: Option<String>,
    pub by_itself: bool,
}

/// One pause of a mailing's history.
pub struct PauseRow {
    pub began: String,
    /// When it ended, or "still paused".
    pub ended: String,
    pub lasted: String,
    pub why: &'static str,
    pub detail: String,
}

/// A mailing's pauses and counters as its page shows them.
pub struct Pauses {
    /// While the mailing is paused.
    pub notice: Option<PauseNotice>,
    /// Oldest first.
    pub history: Vec<PauseRow>,
    /// Time spent paused in all, the current pause included.
    pub paused_in_all: String,
    pub auto_pauses: u32,
    pub cap_deferrals: u64,
}

impl Pauses {
    /// `history` is the mailing's pauses, oldest first, as the store keeps them.
    pub fn new(mailing: &Mailing, history: &[Pause], clock: Clock, now: DateTime<Utc>) -> Self {
        let status = mailing.status(now);
        // A pause that outlasted the mailing ended with it: at its cancellation or its end.
        let over_at = matches!(status, MailingStatus::Cancelled | MailingStatus::Finished)
            .then(|| mailing.open_pause_until(now));
        let notice = (status == MailingStatus::Paused)
            .then_some(mailing.paused.as_ref())
            .flatten()
            .map(|paused| PauseNotice {
                reason: reason_in_words(paused.reason),
                since: clock.second(paused.since),
                detail: history
                    .iter()
                    .rev()
                    .find(|pause| pause.resumed_at.is_none())
                    .and_then(|pause| pause.detail.clone()),
                by_itself: paused.reason == PauseReason::ProviderFailing,
            });
        let history = history
            .iter()
            .map(|pause| {
                let (ended, until) = match (pause.resumed_at, over_at) {
                    (Some(at), _) => (clock.second(at), at),
                    (None, Some(at)) => (format!("with the mailing, {}", clock.second(at)), at),
                    (None, None) => ("still paused".to_owned(), now),
                };
                PauseRow {
                    began: clock.second(pause.paused_at),
                    ended,
                    lasted: span(until - pause.paused_at),
                    why: reason_in_words(pause.reason),
                    detail: pause.detail.clone().unwrap_or_default(),
                }
            })
            .collect();
        Self {
            notice,
            history,
            paused_in_all: span(mailing.paused_time(over_at.unwrap_or(now))),
            auto_pauses: mailing.auto_pauses,
            cap_deferrals: mailing.cap_deferrals,
        }
    }
}

/// A length of time to the second, in its two largest units: "2 h 5 min", "3 min 4 s", "0 s".
pub fn span(length: Duration) -> String {
    let seconds = length.num_seconds().max(0);
    let (days, hours, minutes, seconds) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    let units = [(days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")];
    let first = units.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    units[first..]
        .iter()
        .take(2)
        .filter(|(n, _)| *n > 0 || first == 3)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The mailing's own frequency cap, or what applies without one.
pub fn describe_cap(cap: Option<FrequencyCap>) -> String {
    match cap {
        Some(cap) => format!("{cap} to each client, from all mailings together"),
        None => "The deployment's, if it sets one".to_owned(),
    }
}

/// What the mailing changes of the deployment's auto-pause rule.
pub fn describe_auto_pause(rule: AutoPauseOverride) -> String {
    if rule.is_empty() {
        return "As the deployment says".to_owned();
    }
    if rule.enabled == Some(false) {
        return "Off: it never pauses itself".to_owned();
    }
    let on = if rule.enabled == Some(true) {
        "On"
    } else {
        "As the deployment says"
    };
    let share = rule
        .failure_share
        .map_or_else(|| "the deployment's share".to_owned(), percent);
    let attempts = rule.attempts.map_or_else(
        || "its latest attempts (as many as the deployment judges)".to_owned(),
        |n| format!("its latest {n} attempts"),
    );
    format!("{on}; it pauses itself when more than {share} of {attempts} failed")
}

/// A share as a percentage: "80 %", "33.3 %".
fn percent(share: FailureShare) -> String {
    let tenths = (share.as_f64() * 1000.0).round() as u32;
    if tenths.is_multiple_of(10) {
        format!("{} %", tenths / 10)
    } else {
        format!("{}.{} %", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use mailing_domain::campaign::Paused;
    use mailing_domain::{ClientFilter, MailingId, MailingSchedule, MailingText};

    fn at(minute: u32, second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, minute, second)
            .unwrap()
    }

    /// A mailing from 12:00 to 12:30, cancelled at `cancelled` if given.
    fn mailing(paused: Option<Paused>, cancelled: Option<DateTime<Utc>>) -> Mailing {
        Mailing {
            id: MailingId(7),
            text: MailingText::parse("hi").unwrap(),
            schedule: MailingSchedule::new(at(0, 0), at(30, 0), false, None).unwrap(),
            filter: ClientFilter::default(),
            client_filter_id: None,
            created_at: at(0, 0),
            updated_at: at(0, 0),
            cancelled_at: cancelled,
            paused,
            paused_before: Duration::seconds(65),
            auto_pauses: 1,
            cap_deferrals: 4,
            resend_of: None,
            frequency_cap: None,
            auto_pause: AutoPauseOverride::default(),
        }
    }

    fn history() -> Vec<Pause> {
        vec![
            Pause {
                reason: PauseReason::Manual,
                detail: None,
                paused_at: at(1, 0),
                resumed_at: Some(at(2, 5)),
            },
            Pause {
                reason: PauseReason::ProviderFailing,
                detail: Some("48 of the last 50 attempts failed at the provider".to_owned()),
                paused_at: at(10, 0),
                resumed_at: None,
            },
        ]
    }

    fn auto_paused() -> Option<Paused> {
        Some(Paused {
            since: at(10, 0),
            reason: PauseReason::ProviderFailing,
        })
    }

    #[test]
    fn a_mailing_that_paused_itself_says_so_with_what_it_saw() {
        let clock = Clock(chrono_tz::UTC);
        let pauses = Pauses::new(&mailing(auto_paused(), None), &history(), clock, at(12, 0));
        let notice = pauses.notice.expect("paused");
        assert_eq!(notice.reason, "Paused itself: the provider was failing");
        assert_eq!(notice.since, "2030-01-01 12:10:00");
        assert_eq!(
            notice.detail.as_deref(),
            Some("48 of the last 50 attempts failed at the provider")
        );
        assert!(notice.by_itself);
        let rows: Vec<_> = pauses
            .history
            .iter()
            .map(|row| (row.ended.as_str(), row.lasted.as_str(), row.why))
            .collect();
        assert_eq!(
            rows,
            [
                ("2030-01-01 12:02:05", "1 min 5 s", "Paused by hand"),
                (
                    "still paused",
                    "2 min",
                    "Paused itself: the provider was failing"
                ),
            ]
        );
        assert_eq!(pauses.paused_in_all, "3 min 5 s");
        assert_eq!((pauses.auto_pauses, pauses.cap_deferrals), (1, 4));
    }

    #[test]
    fn a_pause_that_outlasted_the_mailing_ended_with_it() {
        let clock = Clock(chrono_tz::UTC);
        // Cancelled at 12:15 while paused since 12:10, looked at later.
        let cancelled = mailing(auto_paused(), Some(at(15, 0)));
        let pauses = Pauses::new(&cancelled, &history(), clock, at(40, 0));
        assert!(pauses.notice.is_none());
        assert_eq!(
            pauses.history[1].ended,
            "with the mailing, 2030-01-01 12:15:00"
        );
        assert_eq!(pauses.history[1].lasted, "5 min");
        assert_eq!(pauses.paused_in_all, "6 min 5 s");
        // Not cancelled: the pause ends with the mailing's end, 12:30.
        let finished = mailing(auto_paused(), None);
        let pauses = Pauses::new(&finished, &history(), clock, at(40, 0));
        assert_eq!(
            pauses.history[1].ended,
            "with the mailing, 2030-01-01 12:30:00"
        );
        assert_eq!(pauses.history[1].lasted, "20 min");
    }

    #[test]
    fn spans_show_their_two_largest_units() {
        assert_eq!(span(Duration::zero()), "0 s");
        assert_eq!(span(Duration::milliseconds(-5)), "0 s");
        assert_eq!(span(Duration::seconds(59)), "59 s");
        assert_eq!(span(Duration::seconds(3_600)), "1 h");
        assert_eq!(span(Duration::seconds(3_601)), "1 h");
        assert_eq!(span(Duration::seconds(7_500)), "2 h 5 min");
        assert_eq!(span(Duration::seconds(90_000)), "1 d 1 h");
    }

    #[test]
    fn rules_are_told_in_words() {
        assert_eq!(describe_cap(None), "The deployment's, if it sets one");
        assert_eq!(
            describe_cap(Some(FrequencyCap::new(2, 24).unwrap())),
            "2 messages per 24 hours to each client, from all mailings together"
        );
        assert_eq!(
            describe_auto_pause(AutoPauseOverride::default()),
            "As the deployment says"
        );
        let off = AutoPauseOverride {
            enabled: Some(false),
            attempts: Some(3),
            ..AutoPauseOverride::default()
        };
        assert_eq!(describe_auto_pause(off), "Off: it never pauses itself");
        let own = AutoPauseOverride {
            enabled: Some(true),
            attempts: Some(3),
            failure_share: Some(FailureShare::new(0.5).unwrap()),
        };
        assert_eq!(
            describe_auto_pause(own),
            "On; it pauses itself when more than 50 % of its latest 3 attempts failed"
        );
        let share = AutoPauseOverride {
            failure_share: Some(FailureShare::new(0.333).unwrap()),
            ..AutoPauseOverride::default()
        };
        assert!(describe_auto_pause(share).contains("more than 33.3 % of its latest attempts"));
    }
}
