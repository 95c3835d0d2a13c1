//! When may a message be sent: the mailing's start and end (on the client's clock with
//! `local_time`), the client's send window, and DST.

use crate::mailing::MailingSchedule;
use crate::window::SendWindow;
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone as _, Timelike, Utc};
use chrono_tz::Tz;

/// The outcome of planning one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPlan {
    /// Send at this instant (or as soon after it as possible); deliverable until `expires_at`.
    At {
        send_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// No instant before the mailing's end is allowed: the message expires.
    Expired(TooLate),
}

/// Why no instant before the mailing's end is left for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLate {
    /// The mailing has ended on the client's clock.
    Ended,
    /// The client's send window does not open again before the mailing's end.
    WindowClosed(SendWindow),
}

/// Plans a message for a client in `tz`, not earlier than `not_before` (now, or the time a
/// retry's backoff allows).
pub fn plan_send(schedule: &MailingSchedule, tz: Tz, not_before: DateTime<Utc>) -> SendPlan {
    let expires_at = schedule.end_for(tz);
    let earliest = not_before.max(schedule.start_for(tz));
    if earliest >= expires_at {
        return SendPlan::Expired(TooLate::Ended);
    }
    let send_at = match schedule.send_window() {
        None => Some(earliest),
        Some(window) => window.next_open(tz, earliest),
    };
    match (send_at, schedule.send_window()) {
        (Some(send_at), _) if send_at < expires_at => SendPlan::At {
            send_at,
            expires_at,
        },
        (_, Some(window)) => SendPlan::Expired(TooLate::WindowClosed(window)),
        (_, None) => SendPlan::Expired(TooLate::Ended),
    }
}

/// The first instant at which the clock in `tz` reads `local` or later.
///
/// In a DST overlap that is the first of the two readings; in a gap (a reading that never
/// appears) it is the instant the clocks jump past it.
pub fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        LocalResult::None => {
            // Real gaps start and end on whole minutes, so stepping minute by minute from the
            // start of the minute finds the first reading after the gap exactly.
            let mut probe = local
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(local);
            for _ in 0..(48 * 60) {
                probe += Duration::minutes(1);
                if let Some(at) = tz.from_local_datetime(&probe).earliest() {
                    return at.with_timezone(&Utc);
                }
            }
            unreachable!("no time zone has a gap longer than two days")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::SendWindow;
    use chrono::NaiveDate;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn schedule(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        local_time: bool,
        window: Option<(&str, &str)>,
    ) -> MailingSchedule {
        let window = window.map(|(s, e)| SendWindow::parse(s, e).unwrap());
        MailingSchedule::new(start, end, local_time, window).unwrap()
    }

    fn at(send_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> SendPlan {
        SendPlan::At {
            send_at,
            expires_at,
        }
    }

    #[test]
    fn immediate_mailing_sends_now() {
        let s = schedule(utc(2026, 5, 1, 9, 0), utc(2026, 5, 1, 18, 0), false, None);
        let now = utc(2026, 5, 1, 10, 0);
        assert_eq!(
            plan_send(&s, chrono_tz::UTC, now),
            at(now, utc(2026, 5, 1, 18, 0))
        );
    }

    #[test]
    fn future_mailing_waits_for_its_start() {
        let s = schedule(utc(2026, 5, 1, 9, 0), utc(2026, 5, 1, 18, 0), false, None);
        let plan = plan_send(&s, chrono_tz::Asia::Vladivostok, utc(2026, 4, 30, 0, 0));
        assert_eq!(plan, at(utc(2026, 5, 1, 9, 0), utc(2026, 5, 1, 18, 0)));
    }

    #[test]
    fn nothing_is_planned_at_or_after_the_end() {
        let s = schedule(utc(2026, 5, 1, 9, 0), utc(2026, 5, 1, 18, 0), false, None);
        assert_eq!(
            plan_send(&s, chrono_tz::UTC, utc(2026, 5, 1, 18, 0)),
            SendPlan::Expired(TooLate::Ended)
        );
        assert_eq!(
            plan_send(&s, chrono_tz::UTC, utc(2026, 6, 1, 0, 0)),
            SendPlan::Expired(TooLate::Ended)
        );
    }

    #[test]
    fn window_holds_the_message_in_the_clients_zone() {
        // 09:00-21:00 local. At 04:00 UTC it is 07:00 in Moscow (held until 06:00 UTC) and
        // 14:00 in Vladivostok (open).
        let s = schedule(
            utc(2026, 5, 1, 0, 0),
            utc(2026, 5, 3, 0, 0),
            false,
            Some(("09:00", "21:00")),
        );
        let now = utc(2026, 5, 1, 4, 0);
        assert_eq!(
            plan_send(&s, chrono_tz::Europe::Moscow, now),
            at(utc(2026, 5, 1, 6, 0), utc(2026, 5, 3, 0, 0))
        );
        assert_eq!(
            plan_send(&s, chrono_tz::Asia::Vladivostok, now),
            at(now, utc(2026, 5, 3, 0, 0))
        );
    }

    #[test]
    fn window_opening_after_the_end_expires_the_message() {
        let s = schedule(
            utc(2026, 5, 1, 0, 0),
            utc(2026, 5, 1, 6, 0),
            false,
            Some(("09:00", "21:00")),
        );
        assert_eq!(
            plan_send(&s, chrono_tz::Europe::Moscow, utc(2026, 5, 1, 0, 0)),
            SendPlan::Expired(TooLate::WindowClosed(s.send_window().unwrap()))
        );
    }

    #[test]
    fn night_window_crossing_midnight() {
        let s = schedule(
            utc(2026, 5, 1, 0, 0),
            utc(2026, 5, 5, 0, 0),
            false,
            Some(("22:00", "06:00")),
        );
        // 12:00 UTC: closed in UTC until 22:00.
        assert_eq!(
            plan_send(&s, chrono_tz::UTC, utc(2026, 5, 1, 12, 0)),
            at(utc(2026, 5, 1, 22, 0), utc(2026, 5, 5, 0, 0))
        );
        // 03:00 UTC: open.
        assert_eq!(
            plan_send(&s, chrono_tz::UTC, utc(2026, 5, 2, 3, 0)),
            at(utc(2026, 5, 2, 3, 0), utc(2026, 5, 5, 0, 0))
        );
    }

    #[test]
    fn local_time_reads_start_and_end_on_each_clients_clock() {
        let s = schedule(utc(2026, 5, 1, 10, 0), utc(2026, 5, 1, 12, 0), true, None);
        let early = utc(2026, 4, 30, 0, 0);
        assert_eq!(
            plan_send(&s, chrono_tz::Europe::Moscow, early),
            at(utc(2026, 5, 1, 7, 0), utc(2026, 5, 1, 9, 0))
        );
        assert_eq!(
            plan_send(&s, chrono_tz::Asia::Vladivostok, early),
            at(utc(2026, 5, 1, 0, 0), utc(2026, 5, 1, 2, 0))
        );
        // 08:00 UTC: Vladivostok (18:00) is past its end, Moscow (11:00) is inside.
        let now = utc(2026, 5, 1, 8, 0);
        assert_eq!(
            plan_send(&s, chrono_tz::Asia::Vladivostok, now),
            SendPlan::Expired(TooLate::Ended)
        );
        assert_eq!(
            plan_send(&s, chrono_tz::Europe::Moscow, now),
            at(now, utc(2026, 5, 1, 9, 0))
        );
    }

    #[test]
    fn local_start_inside_a_spring_forward_gap_starts_when_clocks_jump() {
        // America/New_York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
        let s = schedule(utc(2026, 3, 8, 2, 30), utc(2026, 3, 8, 5, 0), true, None);
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            plan_send(&s, ny, utc(2026, 3, 1, 0, 0)),
            at(utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 9, 0))
        );
    }

    #[test]
    fn local_end_inside_a_fall_back_overlap_ends_at_its_first_reading() {
        // America/New_York falls back on 2026-11-01: 01:00-02:00 happens at EDT (05:00-06:00
        // UTC) and again at EST (06:00-07:00 UTC). An end of 01:30 ends at the first 01:30.
        let s = schedule(utc(2026, 11, 1, 0, 0), utc(2026, 11, 1, 1, 30), true, None);
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            plan_send(&s, ny, utc(2026, 10, 1, 0, 0)),
            at(utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 5, 30))
        );
        assert_eq!(
            plan_send(&s, ny, utc(2026, 11, 1, 6, 15)),
            SendPlan::Expired(TooLate::Ended)
        );
    }

    #[test]
    fn gap_resolution_lands_on_the_transition() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            first_instant_at_or_after(berlin, naive(2026, 3, 29, 2, 0)),
            utc(2026, 3, 29, 1, 0)
        );
        assert_eq!(
            first_instant_at_or_after(berlin, naive(2026, 3, 29, 2, 59)),
            utc(2026, 3, 29, 1, 0)
        );
        assert_eq!(
            first_instant_at_or_after(berlin, naive(2026, 3, 29, 3, 0)),
            utc(2026, 3, 29, 1, 0)
        );
        // Australia/Lord_Howe moves by half an hour: 02:00 (+10:30) -> 02:30 (+11:00) on
        // 2026-10-04, at 15:30 UTC.
        assert_eq!(
            first_instant_at_or_after(chrono_tz::Australia::Lord_Howe, naive(2026, 10, 4, 2, 15)),
            utc(2026, 10, 3, 15, 30)
        );
    }

    #[test]
    fn retries_are_replanned_into_the_window() {
        let s = schedule(
            utc(2026, 5, 1, 0, 0),
            utc(2026, 5, 3, 0, 0),
            false,
            Some(("09:00", "21:00")),
        );
        // A retry due at 21:30 UTC waits for 09:00 UTC the next morning.
        assert_eq!(
            plan_send(&s, chrono_tz::UTC, utc(2026, 5, 1, 21, 30)),
            at(utc(2026, 5, 2, 9, 0), utc(2026, 5, 3, 0, 0))
        );
    }
}
