//! What to do with a claimed message, before and after an attempt: pure functions of the
//! message, the time and the attempt's result.

use chrono::{DateTime, Utc};
use mailing_domain::delivery::{Attempt, backoff};
use mailing_domain::store::{OutcomeKind, SendTask};
use mailing_domain::{MessageStatus, SendPlan, plan_send};
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
/// mailing active, client there, window open, end not come.
pub fn before_attempt(task: &SendTask, claimed_at: DateTime<Utc>, now: DateTime<Utc>) -> Before {
    if task.status != MessageStatus::Queued || task.queued_at != Some(claimed_at) {
        return Before::Skip;
    }
    let (Some(_), Some(zone)) = (&task.phone, task.time_zone) else {
        return Before::Settle(OutcomeKind::Cancelled);
    };
    if !task.mailing_active {
        return Before::Settle(OutcomeKind::Cancelled);
    }
    match plan_send(&task.schedule, zone.tz(), now) {
        SendPlan::Expired => Before::Settle(OutcomeKind::Expired { last_error: None }),
        SendPlan::At { send_at, .. } if send_at > now => Before::Settle(OutcomeKind::Deferred {
            next_attempt_at: send_at,
        }),
        SendPlan::At { expires_at, .. } if expires_at - now < MIN_TIME_LEFT => {
            Before::Settle(OutcomeKind::Expired { last_error: None })
        }
        SendPlan::At { expires_at, .. } => Before::Attempt {
            deadline: expires_at,
        },
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
        Attempt::Retryable(error) => {
            let delay = backoff(task.attempts + 1, policy.base, policy.cap, random);
            let Some(zone) = task.time_zone else {
                return OutcomeKind::Cancelled;
            };
            // The retry, too, must fall inside the window and before the end.
            match plan_send(&task.schedule, zone.tz(), now + to_chrono(delay)) {
                SendPlan::At { send_at, .. } => OutcomeKind::Retry {
                    error,
                    next_attempt_at: send_at,
                },
                SendPlan::Expired => OutcomeKind::Expired {
                    last_error: Some(error),
                },
            }
        }
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use mailing_domain::{
        ClientId, MailingId, MailingSchedule, MailingText, MessageId, PhoneNumber, SendWindow,
        TimeZone,
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
            phone: Some(PhoneNumber::parse("79001234567").unwrap()),
            time_zone: Some(TimeZone::utc()),
            text: MailingText::parse("hi").unwrap(),
            schedule: MailingSchedule::new(utc(0, 0), utc(18, 0), false, window).unwrap(),
            mailing_active: true,
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
        assert_eq!(
            check(&task(None), utc(18, 0)),
            Before::Settle(OutcomeKind::Expired { last_error: None })
        );
        let almost = utc(18, 0) - chrono::Duration::milliseconds(100);
        assert_eq!(
            check(&task(None), almost),
            Before::Settle(OutcomeKind::Expired { last_error: None })
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
            after_attempt(&t, Attempt::Retryable("500".into()), now, &POLICY, 0.0),
            OutcomeKind::Retry {
                error: "500".into(),
                next_attempt_at: now + chrono::Duration::seconds(30)
            }
        );
    }

    #[test]
    fn retries_respect_the_window_and_the_end() {
        let t = task(Some(("09:00", "17:00")));
        // At 16:59:50 a retry 30 s later falls after the window closes: the next opening is
        // the next day, after the end, so the message expires with its error.
        let late = utc(16, 59) + chrono::Duration::seconds(50);
        assert_eq!(
            after_attempt(&t, Attempt::Retryable("500".into()), late, &POLICY, 0.0),
            OutcomeKind::Expired {
                last_error: Some("500".into())
            }
        );
    }
}
