//! What to do with a claimed message, before and after an attempt: pure functions of the
//! message, the time and the attempt's result.

use chrono::{DateTime, Utc};
use mailing_domain::delivery::{Attempt, backoff};
use mailing_domain::store::{OutcomeKind, SendTask};
use mailing_domain::{
    ExpiryReason, FrequencyCap, MessageStatus, SendPlan, TimeZone, TooLate, plan_send,
};
use std::time::Duration;

/// An attempt is not started with less time than this left before the end: the request would
/// risk reaching the probe after it.
pub const MIN_TIME_LEFT: chrono::Duration = chrono::Duration::milliseconds(200);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Someone else settled this message already (redelivered job, reclaimed claim).
    Skip,
    /// Settle without calling the probe.
    Settle(OutcomeKind),
    /// Call the probe; nothing may reach it at or after `deadline`.
    Attempt { deadline: DateTime<Utc> },
}

/// Checks a message right before an attempt: still claimed by this job (`claimed_at`),
/// number not opted out, mailing active, client there, window open, end not come.
pub fn before_attempt(task: &SendTask, claimed_at: DateTime<Utc>, now: DateTime<Utc>) -> Before {
    if task.status != MessageStatus::Queued || task.queued_at != Some(claimed_at) {
        return Before::Skip;
    }
    if task.opted_out {
        // Whatever else holds: a number that opted out is never sent to.
        return Before::Settle(OutcomeKind::Suppressed);
    }
    let (Some(_), Some(zone)) = (&task.phone, task.time_zone) else {
        return Before::Settle(OutcomeKind::Cancelled);
    };
    if !task.mailing_active {
        return Before::Settle(OutcomeKind::Cancelled);
    }
    if task.mailing_paused {
        // Back to waiting, due at once: the claim passes it over until the mailing resumes.
        return Before::Settle(OutcomeKind::Deferred {
            next_attempt_at: now,
        });
    }
    match plan_send(&task.schedule, zone.tz(), now) {
        SendPlan::Expired(too_late) => Before::Settle(expired(task, too_late, zone)),
        SendPlan::At { send_at, .. } if send_at > now => Before::Settle(OutcomeKind::Deferred {
            next_attempt_at: send_at,
        }),
        SendPlan::At { expires_at, .. } if expires_at - now < MIN_TIME_LEFT => {
            Before::Settle(ended(task))
        }
        SendPlan::At { expires_at, .. } => Before::Attempt {
            deadline: expires_at,
        },
    }
}

/// What becomes of a message whose client's frequency cap is full until `until`: it waits,
/// or expires saying why when that is at or after `deadline` (its end, or too close to it).
pub fn capped(until: DateTime<Utc>, deadline: DateTime<Utc>, cap: FrequencyCap) -> OutcomeKind {
    if until + MIN_TIME_LEFT >= deadline {
        OutcomeKind::Expired {
            reason: ExpiryReason::FrequencyCapped { cap },
        }
    } else {
        OutcomeKind::Deferred {
            next_attempt_at: until,
        }
    }
}

/// The message expires without an attempt, since the mailing's end leaves no time for one.
pub fn ended(task: &SendTask) -> OutcomeKind {
    expired(
        task,
        TooLate::Ended,
        task.time_zone.unwrap_or_else(TimeZone::utc),
    )
}

fn expired(task: &SendTask, too_late: TooLate, zone: TimeZone) -> OutcomeKind {
    OutcomeKind::Expired {
        reason: ExpiryReason::planned(too_late, zone, task.last_error.as_deref()),
    }
}

/// How retries back off.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    /// How long to wait after the probe rejected the token.
    pub token_pause: Duration,
}

/// Turns an attempt's result into the message's outcome. `random` is uniform in `[0, 1)`.
///
/// A retry waits out its backoff and any `Retry-After` the probe sent (counted from `now`, the
/// reply's arrival), then for the send window; a wait that reaches the client's end of the
/// mailing expires the message, the failed attempt (and the wait it asked for) in the reason.
pub fn after_attempt(
    task: &SendTask,
    attempt: Attempt,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    random: f64,
) -> OutcomeKind {
    match attempt {
        Attempt::Delivered => OutcomeKind::Sent { at: now },
        Attempt::Permanent(error) => OutcomeKind::Failed { error },
        Attempt::TokenRejected => OutcomeKind::Deferred {
            next_attempt_at: now + to_chrono(policy.token_pause),
        },
        Attempt::Retryable {
            mut error,
            retry_after,
        } => {
            let delay = backoff(task.attempts + 1, policy.base, policy.cap, random);
            let Some(zone) = task.time_zone else {
                return OutcomeKind::Cancelled;
            };
            let mut not_before = now + to_chrono(delay);
            // The probe's own wait, if it asked for one still ahead, is a floor on the backoff.
            if let Some(until) = retry_after.and_then(|wait| wait.until(now)) {
                error = format!(
                    "{error} and asked to wait {} s (Retry-After)",
                    whole_seconds(until - now)
                );
                if until >= task.schedule.end_for(zone.tz()) {
                    return no_retry_fits(error);
                }
                not_before = not_before.max(until);
            }
            // The retry, too, must fall inside the window and before the end.
            match plan_send(&task.schedule, zone.tz(), not_before) {
                SendPlan::At { send_at, .. } => OutcomeKind::Retry {
                    error,
                    next_attempt_at: send_at,
                },
                SendPlan::Expired(_) => no_retry_fits(error),
            }
        }
    }
}

fn no_retry_fits(last_error: String) -> OutcomeKind {
    OutcomeKind::Expired {
        reason: ExpiryReason::NoRetryFits { last_error },
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// A positive wait in whole seconds, a started second counted as one.
fn whole_seconds(wait: chrono::Duration) -> i64 {
    wait.num_seconds() + i64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use mailing_domain::delivery::RetryAfter;
    use mailing_domain::{
        ClientId, MailingId, MailingSchedule, MailingText, MessageId, OperatorCode, PhoneNumber,
        SendWindow, TimeZone,
    };

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, h, m, 0).unwrap()
    }

    fn claim() -> DateTime<Utc> {
        utc(9, 59)
    }

    fn check(task: &SendTask, now: DateTime<Utc>) -> Before {
        before_attempt(task, claim(), now)
    }

    fn task(window: Option<(&str, &str)>) -> SendTask {
        let window = window.map(|(s, e)| SendWindow::parse(s, e).unwrap());
        SendTask {
            message_id: MessageId(1),
            mailing_id: MailingId(1),
            client_id: Some(ClientId(1)),
            status: MessageStatus::Queued,
            queued_at: Some(claim()),
            attempts: 0,
            last_error: None,
            phone: Some(PhoneNumber::parse("79001234567").unwrap()),
            opted_out: false,
            time_zone: Some(TimeZone::utc()),
            operator_code: Some(OperatorCode::parse("mts").unwrap()),
            attributes: Default::default(),
            text: MailingText::parse("hi").unwrap(),
            sent_text: None,
            schedule: MailingSchedule::new(utc(0, 0), utc(18, 0), false, window).unwrap(),
            mailing_active: true,
            mailing_paused: false,
            frequency_cap: None,
            auto_pause: Default::default(),
        }
    }

    const POLICY: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(60),
        cap: Duration::from_secs(3600),
        token_pause: Duration::from_secs(30),
    };

    #[test]
    fn a_live_message_is_attempted_with_the_end_as_deadline() {
        assert_eq!(
            check(&task(None), utc(10, 0)),
            Before::Attempt {
                deadline: utc(18, 0)
            }
        );
    }

    #[test]
    fn a_number_that_opted_out_is_suppressed_whatever_else_holds() {
        let mut opted_out = task(None);
        opted_out.opted_out = true;
        assert_eq!(
            check(&opted_out, utc(10, 0)),
            Before::Settle(OutcomeKind::Suppressed)
        );
        // Even in a paused mailing or after its end: waiting would only delay the same answer.
        opted_out.mailing_paused = true;
        assert_eq!(
            check(&opted_out, utc(19, 0)),
            Before::Settle(OutcomeKind::Suppressed)
        );
        // A message settled elsewhere is left alone.
        opted_out.status = MessageStatus::Sent;
        assert_eq!(check(&opted_out, utc(10, 0)), Before::Skip);
    }

    #[test]
    fn settled_cancelled_and_late_messages_are_not_attempted() {
        let mut sent = task(None);
        sent.status = MessageStatus::Sent;
        assert_eq!(check(&sent, utc(10, 0)), Before::Skip);
        let mut claimed_again = task(None);
        claimed_again.queued_at = Some(utc(10, 5));
        assert_eq!(check(&claimed_again, utc(10, 6)), Before::Skip);
        let mut stopped = task(None);
        stopped.mailing_active = false;
        assert_eq!(
            check(&stopped, utc(10, 0)),
            Before::Settle(OutcomeKind::Cancelled)
        );
        let mut orphan = task(None);
        orphan.phone = None;
        orphan.time_zone = None;
        assert_eq!(
            check(&orphan, utc(10, 0)),
            Before::Settle(OutcomeKind::Cancelled)
        );
        let turn_never_came = Before::Settle(OutcomeKind::Expired {
            reason: ExpiryReason::EndedBeforeTurn,
        });
        assert_eq!(check(&task(None), utc(18, 0)), turn_never_came);
        let almost = utc(18, 0) - chrono::Duration::milliseconds(100);
        assert_eq!(check(&task(None), almost), turn_never_came);
        // A message whose last attempt failed says so.
        let mut failing = task(None);
        failing.last_error = Some("probe answered 500".into());
        assert_eq!(
            check(&failing, almost),
            Before::Settle(OutcomeKind::Expired {
                reason: ExpiryReason::EndedWhileFailing {
                    last_error: "probe answered 500".into()
                }
            })
        );
    }

    #[test]
    fn a_paused_mailing_sends_nothing_and_waits_unclaimed() {
        let mut paused = task(None);
        paused.mailing_paused = true;
        assert_eq!(
            check(&paused, utc(10, 0)),
            Before::Settle(OutcomeKind::Deferred {
                next_attempt_at: utc(10, 0)
            })
        );
        // Its end still applies: the claim never hands it out again, and the end expires it.
        paused.mailing_active = false;
        assert_eq!(
            check(&paused, utc(10, 0)),
            Before::Settle(OutcomeKind::Cancelled)
        );
    }

    #[test]
    fn a_full_cap_waits_or_expires_at_the_end() {
        let cap = FrequencyCap::new(1, 24).unwrap();
        assert_eq!(
            capped(utc(12, 0), utc(18, 0), cap),
            OutcomeKind::Deferred {
                next_attempt_at: utc(12, 0)
            }
        );
        for until in [
            utc(18, 0),
            utc(19, 0),
            utc(18, 0) - chrono::Duration::milliseconds(100),
        ] {
            assert_eq!(
                capped(until, utc(18, 0), cap),
                OutcomeKind::Expired {
                    reason: ExpiryReason::FrequencyCapped { cap }
                }
            );
        }
    }

    #[test]
    fn a_window_that_never_opens_again_before_the_end_expires_the_message() {
        // 07:00-08:00 in Moscow; at 10:00 UTC it is 13:00 there, and the window opens again
        // the next morning, after the mailing's end at 18:00 UTC. The reason names the window
        // and the zone.
        let mut t = task(Some(("07:00", "08:00")));
        t.time_zone = Some(TimeZone::parse("Europe/Moscow").unwrap());
        assert_eq!(
            check(&t, utc(10, 0)),
            Before::Settle(OutcomeKind::Expired {
                reason: ExpiryReason::WindowClosed {
                    window: SendWindow::parse("07:00", "08:00").unwrap(),
                    zone: TimeZone::parse("Europe/Moscow").unwrap(),
                }
            })
        );
        assert_eq!(
            ended(&t),
            OutcomeKind::Expired {
                reason: ExpiryReason::EndedBeforeTurn
            }
        );
    }

    #[test]
    fn a_closed_window_defers_to_its_opening() {
        assert_eq!(
            check(&task(Some(("12:00", "14:00"))), utc(10, 0)),
            Before::Settle(OutcomeKind::Deferred {
                next_attempt_at: utc(12, 0)
            })
        );
    }

    #[test]
    fn outcomes_follow_the_attempt() {
        let t = task(Some(("09:00", "17:00")));
        let now = utc(10, 0);
        assert_eq!(
            after_attempt(&t, Attempt::Delivered, now, &POLICY, 0.5),
            OutcomeKind::Sent { at: now }
        );
        assert_eq!(
            after_attempt(&t, Attempt::Permanent("bad".into()), now, &POLICY, 0.5),
            OutcomeKind::Failed {
                error: "bad".into()
            }
        );
        assert_eq!(
            after_attempt(&t, Attempt::TokenRejected, now, &POLICY, 0.5),
            OutcomeKind::Deferred {
                next_attempt_at: now + chrono::Duration::seconds(30)
            }
        );
        // First retry: between 30 and 60 s later.
        assert_eq!(
            after_attempt(&t, Attempt::retryable("500"), now, &POLICY, 0.0),
            OutcomeKind::Retry {
                error: "500".into(),
                next_attempt_at: now + chrono::Duration::seconds(30)
            }
        );
    }

    fn asked(status: u16, wait: RetryAfter) -> Attempt {
        Attempt::Retryable {
            error: format!("probe answered {status}"),
            retry_after: Some(wait),
        }
    }

    fn retry(error: &str, next_attempt_at: DateTime<Utc>) -> OutcomeKind {
        OutcomeKind::Retry {
            error: error.into(),
            next_attempt_at,
        }
    }

    fn expired(error: &str) -> OutcomeKind {
        OutcomeKind::Expired {
            reason: ExpiryReason::NoRetryFits {
                last_error: error.into(),
            },
        }
    }

    #[test]
    fn a_wait_the_probe_asks_for_delays_the_retry() {
        let t = task(None);
        let now = utc(10, 0);
        // Longer than the backoff (30 s here): the wait decides.
        assert_eq!(
            after_attempt(&t, asked(429, RetryAfter::Seconds(600)), now, &POLICY, 0.0),
            retry(
                "probe answered 429 and asked to wait 600 s (Retry-After)",
                utc(10, 10)
            )
        );
        assert_eq!(
            after_attempt(
                &t,
                asked(503, RetryAfter::Date(utc(10, 5))),
                now,
                &POLICY,
                0.0
            ),
            retry(
                "probe answered 503 and asked to wait 300 s (Retry-After)",
                utc(10, 5)
            )
        );
        // A started second counts as a whole one in the reason.
        let between = now + chrono::Duration::milliseconds(400);
        assert!(matches!(
            after_attempt(&t, asked(503, RetryAfter::Date(utc(10, 5))), between, &POLICY, 0.0),
            OutcomeKind::Retry { error, next_attempt_at }
                if error.contains("wait 300 s") && next_attempt_at == utc(10, 5)
        ));
        // Shorter than the backoff: the backoff decides.
        assert_eq!(
            after_attempt(&t, asked(429, RetryAfter::Seconds(5)), now, &POLICY, 0.0),
            retry(
                "probe answered 429 and asked to wait 5 s (Retry-After)",
                now + chrono::Duration::seconds(30)
            )
        );
    }

    #[test]
    fn a_wait_already_over_is_ignored() {
        let t = task(None);
        let now = utc(10, 0);
        let backoff_only = retry("probe answered 503", now + chrono::Duration::seconds(30));
        for wait in [RetryAfter::Seconds(0), RetryAfter::Date(utc(9, 0))] {
            assert_eq!(
                after_attempt(&t, asked(503, wait), now, &POLICY, 0.0),
                backoff_only
            );
        }
    }

    #[test]
    fn a_wait_reaching_the_end_expires_the_message_with_the_reason() {
        let an_hour = |task: &SendTask, now| {
            after_attempt(
                task,
                asked(429, RetryAfter::Seconds(3600)),
                now,
                &POLICY,
                0.0,
            )
        };
        let reason = "probe answered 429 and asked to wait 3600 s (Retry-After)";
        // Exactly at the end is too late already.
        assert_eq!(an_hour(&task(None), utc(17, 0)), expired(reason));
        assert!(matches!(
            after_attempt(&task(None), asked(429, RetryAfter::Seconds(u64::MAX)), utc(10, 0), &POLICY, 0.0),
            OutcomeKind::Expired { reason: ExpiryReason::NoRetryFits { last_error } }
                if last_error.ends_with("(Retry-After)")
        ));
        // With local_time the end is the client's: 18:00 in Moscow is 15:00 UTC.
        let mut moscow = task(None);
        moscow.schedule = MailingSchedule::new(utc(0, 0), utc(18, 0), true, None).unwrap();
        moscow.time_zone = Some(TimeZone::parse("Europe/Moscow").unwrap());
        assert_eq!(an_hour(&moscow, utc(14, 0)), expired(reason));
        assert!(matches!(
            an_hour(&moscow, utc(13, 0)),
            OutcomeKind::Retry { next_attempt_at, .. } if next_attempt_at == utc(14, 0)
        ));
    }

    #[test]
    fn a_wait_into_a_closed_window_retries_at_its_next_opening() {
        // 09:00-17:00 over two days: a wait from 16:59 past 17:00 goes to 09:00 the next day.
        let mut t = task(Some(("09:00", "17:00")));
        let window = SendWindow::parse("09:00", "17:00").unwrap();
        let next_day = utc(18, 0) + chrono::Duration::days(1);
        t.schedule = MailingSchedule::new(utc(0, 0), next_day, false, Some(window)).unwrap();
        let wait = asked(429, RetryAfter::Seconds(120));
        assert_eq!(
            after_attempt(&t, wait.clone(), utc(16, 59), &POLICY, 0.0),
            retry(
                "probe answered 429 and asked to wait 120 s (Retry-After)",
                utc(9, 0) + chrono::Duration::days(1)
            )
        );
        // The same day's end comes before the next opening: expired, the wait as the error.
        assert_eq!(
            after_attempt(
                &task(Some(("09:00", "17:00"))),
                wait,
                utc(16, 59),
                &POLICY,
                0.0
            ),
            expired("probe answered 429 and asked to wait 120 s (Retry-After)")
        );
    }

    #[test]
    fn retries_respect_the_window_and_the_end() {
        let t = task(Some(("09:00", "17:00")));
        // At 16:59:50 a retry 30 s later falls after the window closes: the next opening is
        // the next day, after the end, so the message expires with its error.
        let late = utc(16, 59) + chrono::Duration::seconds(50);
        let outcome = after_attempt(&t, Attempt::retryable("500"), late, &POLICY, 0.0);
        assert_eq!(outcome, expired("500"));
        // It was attempted, which the expiry counts.
        assert!(outcome.attempted());
        assert_eq!(
            match outcome {
                OutcomeKind::Expired { reason } => reason.to_string(),
                other => panic!("{other:?}"),
            },
            "no retry fits before the mailing's end; last attempt: 500"
        );
    }
}
