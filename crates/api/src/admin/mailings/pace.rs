//! How soon a page that shows mailings should look again. Pages that show a mailing which can
//! still change (running, upcoming, or with messages still waiting) refresh their live parts by
//! themselves: every [`FAST_MS`] while messages are being sent or something starts or ends
//! within a minute, every [`SLOW_MS`] while they only wait, and not at all once every mailing
//! shown has finished or was cancelled and its messages are settled.

use crate::admin::progress::still_waiting;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::MailingStatus;
use mailing_domain::store::{Mailing, StatusCounts};

/// Milliseconds between refreshes while something happens, or is about to.
pub const FAST_MS: u32 = 2_000;
/// Milliseconds between refreshes while mailings only wait for their start or end.
pub const SLOW_MS: u32 = 15_000;

/// How close a start or end must be for a page to watch it closely. Longer than [`SLOW_MS`],
/// so a page that refreshes slowly turns fast before the moment comes.
const SOON: Duration = Duration::minutes(1);

/// How soon to look again; the earlier of two paces is [`Ord::min`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pace {
    Fast,
    Slow,
    /// Nothing shown can change any more.
    Still,
}

impl Pace {
    /// The pace one mailing needs, from its status and its messages' counts.
    pub fn of(mailing: &Mailing, counts: &StatusCounts, now: DateTime<Utc>) -> Self {
        let waiting = still_waiting(counts) > 0;
        let schedule = &mailing.schedule;
        let near = |instant: DateTime<Utc>| (instant - now).abs() < SOON;
        match mailing.status(now) {
            MailingStatus::Scheduled if near(schedule.earliest_start()) => Pace::Fast,
            MailingStatus::Scheduled => Pace::Slow,
            // Messages are made when it starts and sent from then on.
            MailingStatus::Running
                if waiting || near(schedule.earliest_start()) || near(schedule.latest_end()) =>
            {
                Pace::Fast
            }
            MailingStatus::Running => Pace::Slow,
            // Nothing new is sent; the end may still come, or someone resume it.
            MailingStatus::Paused if near(schedule.latest_end()) => Pace::Fast,
            MailingStatus::Paused => Pace::Slow,
            // Messages still waiting are settled soon after (cancelled or expired).
            MailingStatus::Finished | MailingStatus::Cancelled if waiting => Pace::Slow,
            MailingStatus::Finished | MailingStatus::Cancelled => Pace::Still,
        }
    }

    /// The pace a page showing these mailings needs: the earliest any of them needs.
    pub fn of_all<'a>(
        shown: impl IntoIterator<Item = (&'a Mailing, StatusCounts)>,
        now: DateTime<Utc>,
    ) -> Self {
        shown
            .into_iter()
            .map(|(mailing, counts)| Self::of(mailing, &counts, now))
            .min()
            .unwrap_or(Pace::Still)
    }

    /// Milliseconds until the page looks again, or `None` when it need not.
    pub fn every_ms(self) -> Option<u32> {
        match self {
            Pace::Fast => Some(FAST_MS),
            Pace::Slow => Some(SLOW_MS),
            Pace::Still => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use mailing_domain::store::{Mailing, StatusCounts};
    use mailing_domain::{ClientFilter, MailingId, MailingSchedule, MailingText, MessageStatus};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
    }

    /// A mailing from `start` to `end` seconds from now.
    fn mailing(start: i64, end: i64, cancelled: bool) -> Mailing {
        paused_mailing(start, end, cancelled, false)
    }

    /// A mailing from `start` to `end` seconds from now, paused a minute ago if `paused`.
    fn paused_mailing(start: i64, end: i64, cancelled: bool, paused: bool) -> Mailing {
        let at = |seconds| now() + Duration::seconds(seconds);
        Mailing {
            id: MailingId(1),
            text: MailingText::parse("hi").unwrap(),
            schedule: MailingSchedule::new(at(start), at(end), false, None).unwrap(),
            filter: ClientFilter::default(),
            client_filter_id: None,
            created_at: at(-6000),
            updated_at: at(-6000),
            cancelled_at: cancelled.then(|| at(-60)),
            paused: paused.then(|| mailing_domain::campaign::Paused {
                since: at(-60),
                reason: mailing_domain::PauseReason::Manual,
            }),
            paused_before: Duration::zero(),
            auto_pauses: 0,
            cap_deferrals: 0,
            resend_of: None,
            frequency_cap: None,
            auto_pause: Default::default(),
        }
    }

    fn counts(pairs: &[(MessageStatus, u64)]) -> StatusCounts {
        pairs.iter().copied().collect()
    }

    #[test]
    fn upcoming_mailings_are_watched_slowly_until_their_start_is_near() {
        let none = StatusCounts::default();
        assert_eq!(
            Pace::of(&mailing(1800, 5400, false), &none, now()),
            Pace::Slow
        );
        assert_eq!(
            Pace::of(&mailing(30, 5400, false), &none, now()),
            Pace::Fast
        );
    }

    #[test]
    fn a_running_mailing_is_watched_closely_while_messages_wait() {
        let sending = counts(&[(MessageStatus::Queued, 2), (MessageStatus::Sent, 3)]);
        let settled = counts(&[(MessageStatus::Sent, 5)]);
        let running = mailing(-1800, 5400, false);
        assert_eq!(Pace::of(&running, &sending, now()), Pace::Fast);
        assert_eq!(Pace::of(&running, &settled, now()), Pace::Slow);
        // Just started: its messages may not be made yet.
        let started = mailing(0, 5400, false);
        assert_eq!(
            Pace::of(&started, &StatusCounts::default(), now()),
            Pace::Fast
        );
    }

    #[test]
    fn finished_and_cancelled_mailings_stop_once_their_messages_settled() {
        let settled = counts(&[(MessageStatus::Sent, 5)]);
        let waiting = counts(&[(MessageStatus::Retrying, 1)]);
        assert_eq!(
            Pace::of(&mailing(-5400, -1800, false), &settled, now()),
            Pace::Still
        );
        assert_eq!(
            Pace::of(&mailing(-1800, 5400, true), &settled, now()),
            Pace::Still
        );
        assert_eq!(
            Pace::of(&mailing(-1800, 5400, true), &waiting, now()),
            Pace::Slow
        );
    }

    #[test]
    fn a_paused_mailing_is_watched_slowly_until_its_end_is_near_then_stops() {
        // Messages wait while it is paused; they are not sent, so nothing hurries.
        let waiting = counts(&[(MessageStatus::Scheduled, 3), (MessageStatus::Sent, 2)]);
        assert_eq!(
            Pace::of(&paused_mailing(-1800, 5400, false, true), &waiting, now()),
            Pace::Slow
        );
        // Its end overtakes what waits: watched closely.
        assert_eq!(
            Pace::of(&paused_mailing(-1800, 30, false, true), &waiting, now()),
            Pace::Fast
        );
        // Ended paused: finished, and still once its messages are settled.
        let settled = counts(&[(MessageStatus::Expired, 3), (MessageStatus::Sent, 2)]);
        assert_eq!(
            Pace::of(&paused_mailing(-5400, -1800, false, true), &settled, now()),
            Pace::Still
        );
    }

    #[test]
    fn a_page_takes_the_earliest_pace_and_an_empty_one_stays_still() {
        let finished = mailing(-5400, -1800, false);
        let upcoming = mailing(1800, 5400, false);
        let none = StatusCounts::default();
        assert_eq!(Pace::of_all([], now()), Pace::Still);
        assert_eq!(
            Pace::of_all([(&finished, none), (&upcoming, none)], now()),
            Pace::Slow
        );
        assert_eq!(Pace::Fast.every_ms(), Some(FAST_MS));
        assert_eq!(Pace::Still.every_ms(), None);
    }
}
