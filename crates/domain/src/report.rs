//! The daily report's calendar: which day a report covers, the instants that day spans in the
//! report's time zone, and when its e-mail is due.
//!
//! A day is a calendar day in one zone, so it lasts 23, 24 or 25 hours around DST changes. The
//! report at the configured local time covers the day before it (a morning digest), or the
//! day it is sent on (an evening one, up to that time).

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;

/// Which day the report sent at the configured time covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportDay {
    /// The whole day before: a morning digest.
    Previous,
    /// The day it is sent on, until then: an evening summary.
    Current,
}

impl ReportDay {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "previous" => Some(Self::Previous),
            "current" => Some(Self::Current),
            _ => None,
        }
    }
}

/// When the report goes out and which day it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportCalendar {
    /// The local time of day it is sent at.
    pub time: NaiveTime,
    pub zone: Tz,
    pub day: ReportDay,
}

/// The report of one day, due at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueReport {
    /// The day it covers.
    pub date: NaiveDate,
    /// When it is sent: the configured time on the day it is sent on.
    pub due_at: DateTime<Utc>,
}

impl ReportCalendar {
    /// The local date at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.zone).date_naive()
    }

    /// Today's report: the day it covers and when it is due. A report whose time has passed
    /// is still today's report until midnight, so a start after the time sends it late rather
    /// than never; the day after brings the next one.
    pub fn todays_report(&self, now: DateTime<Utc>) -> DueReport {
        let today = self.today(now);
        let date = match self.day {
            ReportDay::Previous => today.checked_sub_days(Days::new(1)).unwrap_or(today),
            ReportDay::Current => today,
        };
        DueReport {
            date,
            due_at: local_instant(self.zone, today, self.time),
        }
    }

    /// When the scheduled report of `date` is due: at the configured time on the day after it
    /// (a morning digest), or on the day itself (an evening summary).
    pub fn due_at(&self, date: NaiveDate) -> DateTime<Utc> {
        let sent_on = match self.day {
            ReportDay::Previous => date.checked_add_days(Days::new(1)).unwrap_or(date),
            ReportDay::Current => date,
        };
        local_instant(self.zone, sent_on, self.time)
    }

    /// The day a report is asked for when no date is given: the one the latest report covers,
    /// or today's if its time has not come yet.
    pub fn default_date(&self, now: DateTime<Utc>) -> NaiveDate {
        self.todays_report(now).date
    }
}

/// The instants `date` spans in `zone`: from its first moment up to the next day's.
pub fn day_span(date: NaiveDate, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    (
        local_instant(zone, date, NaiveTime::MIN),
        local_instant(zone, next, NaiveTime::MIN),
    )
}

/// The instant the wall clock of `zone` shows `time` on `date`. A time a DST change skips is
/// taken as the first instant after the gap; a time it repeats as its first occurrence.
pub fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps last at most a few hours; step forward a minute at a time to the far side.
            (1..=24 * 60)
                .find_map(|minutes| {
                    let later = local.checked_add_signed(chrono::Duration::minutes(minutes))?;
                    zone.from_local_datetime(&later).earliest()
                })
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or_else(|| local.and_utc())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    fn calendar(time: &str, zone: &str, day: ReportDay) -> ReportCalendar {
        ReportCalendar {
            time: time.parse().unwrap(),
            zone: zone.parse().unwrap(),
            day,
        }
    }

    #[test]
    fn a_morning_report_covers_the_day_before_in_its_zone() {
        let cal = calendar("08:00:00", "Europe/Moscow", ReportDay::Previous);
        // 23:30 UTC on the 6th is 02:30 on the 7th in Moscow.
        let due = cal.todays_report(at("2026-12-06T23:30:00Z"));
        assert_eq!(due.date, "2026-12-06".parse::<NaiveDate>().unwrap());
        assert_eq!(due.due_at, at("2026-12-07T05:00:00Z"));
    }

    #[test]
    fn an_evening_report_covers_its_own_day() {
        let cal = calendar("21:00:00", "UTC", ReportDay::Current);
        let due = cal.todays_report(at("2026-12-07T22:00:00Z"));
        assert_eq!(due.date, "2026-12-07".parse::<NaiveDate>().unwrap());
        assert_eq!(due.due_at, at("2026-12-07T21:00:00Z"));
    }

    #[test]
    fn a_days_report_is_due_when_todays_report_of_it_would_be() {
        let now = at("2026-12-07T09:30:00Z");
        for day in [ReportDay::Previous, ReportDay::Current] {
            let cal = calendar("08:00:00", "UTC", day);
            let due = cal.todays_report(now);
            assert_eq!(cal.due_at(due.date), due.due_at, "{day:?}");
        }
        let morning = calendar("08:00:00", "UTC", ReportDay::Previous);
        assert_eq!(
            morning.due_at("2026-12-07".parse().unwrap()),
            at("2026-12-08T08:00:00Z"),
            "today's digest comes tomorrow morning"
        );
    }

    #[test]
    fn a_day_spans_its_local_midnights_across_a_dst_change() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let (from, to) = day_span("2026-03-29".parse().unwrap(), zone);
        assert_eq!(from, at("2026-03-28T23:00:00Z"));
        assert_eq!(to, at("2026-03-29T22:00:00Z"));
        assert_eq!((to - from).num_hours(), 23);
    }

    #[test]
    fn a_skipped_time_is_taken_after_the_gap() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let due = local_instant(
            zone,
            "2026-03-29".parse().unwrap(),
            "02:30:00".parse().unwrap(),
        );
        assert_eq!(due, at("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn day_names_are_read_exactly() {
        assert_eq!(ReportDay::parse("previous"), Some(ReportDay::Previous));
        assert_eq!(ReportDay::parse("current"), Some(ReportDay::Current));
        assert_eq!(ReportDay::parse("yesterday"), None);
    }
}
