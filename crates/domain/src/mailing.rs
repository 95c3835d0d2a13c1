//! Mailings: their text, when they run, and what may change once they have started.

use crate::invalid::Invalid;
use crate::planning::first_instant_at_or_after;
use crate::window::SendWindow;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::fmt;

/// The text of a mailing: not blank, at most [`MailingText::MAX_CHARS`] characters; line
/// breaks and tabs are kept, other control characters are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MailingText(String);

impl MailingText {
    /// Ten 160-character SMS segments.
    pub const MAX_CHARS: usize = 1600;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Invalid::ControlCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The greatest offset east of UTC any zone uses (Pacific/Kiritimati).
const MAX_EAST_OFFSET: Duration = Duration::hours(14);
/// The greatest offset west of UTC any zone uses (Etc/GMT+12).
const MAX_WEST_OFFSET: Duration = Duration::hours(12);

/// When a mailing may deliver: its start and end, whether they are read on each client's own
/// clock, and the daily window.
///
/// With `local_time`, `start_at` and `end_at` hold wall-clock readings stored as if they were
/// UTC: a 10:00 start reaches Moscow at 10:00 Moscow time and Vladivostok at 10:00 Vladivostok
/// time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailingSchedule {
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    local_time: bool,
    send_window: Option<SendWindow>,
}

impl MailingSchedule {
    pub fn new(
        start_at: DateTime<Utc>,
        end_at: DateTime<Utc>,
        local_time: bool,
        send_window: Option<SendWindow>,
    ) -> Result<Self, Invalid> {
        if end_at <= start_at {
            return Err(Invalid::EndNotAfterStart);
        }
        Ok(Self {
            start_at,
            end_at,
            local_time,
            send_window,
        })
    }

    /// How a start or end written by an integrator is stored: the instant it names, or with
    /// `local_time` the wall-clock reading as written (its offset ignored), kept as UTC.
    ///
    /// Storage keeps microseconds, so finer digits are dropped here, where the end-after-start
    /// rule can still see the result; a leap second becomes the last microsecond before it.
    pub fn stored_instant(
        written: DateTime<FixedOffset>,
        local_time: bool,
    ) -> Result<DateTime<Utc>, Invalid> {
        let instant = if local_time {
            written.naive_local().and_utc()
        } else {
            written.with_timezone(&Utc)
        };
        let micros = (instant.nanosecond() / 1_000).min(999_999);
        let instant = instant
            .with_nanosecond(micros * 1_000)
            .ok_or(Invalid::OutOfRange)?;
        let earliest = DateTime::<Utc>::UNIX_EPOCH;
        let latest = NaiveDate::from_ymd_opt(10_000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or(Invalid::OutOfRange)?;
        if instant < earliest || instant >= latest {
            return Err(Invalid::OutOfRange);
        }
        Ok(instant)
    }

    pub fn start_at(&self) -> DateTime<Utc> {
        self.start_at
    }

    pub fn end_at(&self) -> DateTime<Utc> {
        self.end_at
    }

    pub fn local_time(&self) -> bool {
        self.local_time
    }

    pub fn send_window(&self) -> Option<SendWindow> {
        self.send_window
    }

    /// The instant the mailing starts for a client in `tz`.
    pub fn start_for(&self, tz: Tz) -> DateTime<Utc> {
        self.resolve(self.start_at, tz)
    }

    /// The instant from which nothing may be delivered to a client in `tz`.
    pub fn end_for(&self, tz: Tz) -> DateTime<Utc> {
        self.resolve(self.end_at, tz)
    }

    fn resolve(&self, instant: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.local_time {
            first_instant_at_or_after(tz, instant.naive_utc())
        } else {
            instant
        }
    }

    /// The first instant at which some client anywhere may be inside the mailing.
    pub fn earliest_start(&self) -> DateTime<Utc> {
        if self.local_time {
            self.start_at - MAX_EAST_OFFSET
        } else {
            self.start_at
        }
    }

    /// The instant after which no client anywhere is inside the mailing.
    pub fn latest_end(&self) -> DateTime<Utc> {
        if self.local_time {
            self.end_at + MAX_WEST_OFFSET
        } else {
            self.end_at
        }
    }

    /// The mailing's status at `now`, given whether it was cancelled and whether it is paused.
    /// A pause ends with the mailing: once it has ended everywhere it is finished.
    pub fn status(&self, now: DateTime<Utc>, cancelled: bool, paused: bool) -> MailingStatus {
        if cancelled {
            MailingStatus::Cancelled
        } else if paused && now < self.latest_end() {
            MailingStatus::Paused
        } else if now < self.earliest_start() {
            MailingStatus::Scheduled
        } else if now < self.latest_end() {
            MailingStatus::Running
        } else {
            MailingStatus::Finished
        }
    }
}

/// "Now" as the stored times of mailings are compared with it: a mailing read on the server's
/// clock has started when `start_at <= now` and ended when `end_at <= now`; one read on each
/// client's clock has started somewhere when `start_at <= local_now_east` and ended everywhere
/// when `end_at <= local_now_west`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockBounds {
    pub now: DateTime<Utc>,
    pub local_now_east: DateTime<Utc>,
    pub local_now_west: DateTime<Utc>,
}

/// A mailing's status, derived from its times, "now" and whether it was cancelled or paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailingStatus {
    Scheduled,
    Running,
    /// Paused by hand or by itself, before its end: nothing new is sent until it is resumed.
    Paused,
    Finished,
    Cancelled,
}

impl MailingStatus {
    pub const ALL: [MailingStatus; 5] = [
        MailingStatus::Scheduled,
        MailingStatus::Running,
        MailingStatus::Paused,
        MailingStatus::Finished,
        MailingStatus::Cancelled,
    ];

    /// The status named `raw` (`"running"`), or the list of names in words.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!("must be one of {}, not {raw:?}", names.join(", "))
            })
    }

    /// The instants a mailing's stored `start_at` and `end_at` are compared with to be in this
    /// status at `now`, for the mailings read on the server's clock and for those read on each
    /// client's clock (`local_time`): see [`MailingSchedule::status`].
    pub fn clock_bounds(now: DateTime<Utc>) -> ClockBounds {
        ClockBounds {
            now,
            local_now_east: now + MAX_EAST_OFFSET,
            local_now_west: now - MAX_WEST_OFFSET,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MailingStatus::Scheduled => "scheduled",
            MailingStatus::Running => "running",
            MailingStatus::Paused => "paused",
            MailingStatus::Finished => "finished",
            MailingStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for MailingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts of a mailing an update can touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailingField {
    Text,
    StartAt,
    EndAt,
    LocalTime,
    SendWindow,
    Filter,
    FrequencyCap,
    AutoPause,
}

impl MailingField {
    pub const ALL: [MailingField; 8] = [
        MailingField::Text,
        MailingField::StartAt,
        MailingField::EndAt,
        MailingField::LocalTime,
        MailingField::SendWindow,
        MailingField::Filter,
        MailingField::FrequencyCap,
        MailingField::AutoPause,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MailingField::Text => "text",
            MailingField::StartAt => "start_at",
            MailingField::EndAt => "end_at",
            MailingField::LocalTime => "local_time",
            MailingField::SendWindow => "send_window",
            MailingField::Filter => "filter",
            MailingField::FrequencyCap => "frequency_cap",
            MailingField::AutoPause => "auto_pause",
        }
    }

    /// Whether the field may still change once the mailing runs: the end, the window, the
    /// text of messages not yet sent and the rules checked before each attempt are safe; who
    /// receives it and when it started are not.
    pub fn editable_while_running(self) -> bool {
        matches!(
            self,
            MailingField::Text
                | MailingField::EndAt
                | MailingField::SendWindow
                | MailingField::FrequencyCap
                | MailingField::AutoPause
        )
    }
}

/// Why an update of a mailing was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateRefused {
    #[error("a {0} mailing can no longer be changed")]
    NotEditable(MailingStatus),
    #[error(
        "a running mailing only accepts changes to text, end_at, send_window, frequency_cap and \
         auto_pause"
    )]
    RunningFieldsLocked(Vec<MailingField>),
}

/// Checks that a mailing in `status` may have `changed` fields changed. `status` is the one its
/// clock gives (see [`MailingSchedule::status`] without a pause): a paused mailing follows the
/// rules of a scheduled or running one.
pub fn check_update(status: MailingStatus, changed: &[MailingField]) -> Result<(), UpdateRefused> {
    if changed.is_empty() {
        return Ok(());
    }
    match status {
        MailingStatus::Scheduled => Ok(()),
        MailingStatus::Running | MailingStatus::Paused => {
            let locked: Vec<_> = changed
                .iter()
                .copied()
                .filter(|field| !field.editable_while_running())
                .collect();
            if locked.is_empty() {
                Ok(())
            } else {
                Err(UpdateRefused::RunningFieldsLocked(locked))
            }
        }
        MailingStatus::Finished | MailingStatus::Cancelled => {
            Err(UpdateRefused::NotEditable(status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn all_lists_every_status_once() {
        let position = |status: MailingStatus| match status {
            // A new status fails to compile here until it is given a place in ALL.
            MailingStatus::Scheduled => 0,
            MailingStatus::Running => 1,
            MailingStatus::Paused => 2,
            MailingStatus::Finished => 3,
            MailingStatus::Cancelled => 4,
        };
        for (i, status) in MailingStatus::ALL.into_iter().enumerate() {
            assert_eq!(position(status), i, "{status}");
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
    }

    #[test]
    fn text_is_bounded_and_not_blank() {
        assert!(MailingText::parse("Hello,\nworld\t!").is_ok());
        assert_eq!(MailingText::parse(" \n "), Err(Invalid::Empty));
        assert_eq!(
            MailingText::parse("a\u{7}"),
            Err(Invalid::ControlCharacters)
        );
        assert!(MailingText::parse(&"ж".repeat(1600)).is_ok());
        assert_eq!(
            MailingText::parse(&"ж".repeat(1601)),
            Err(Invalid::TooLong { max: 1600 })
        );
    }

    #[test]
    fn end_must_follow_start() {
        let t = utc(2026, 1, 1, 10, 0);
        assert_eq!(
            MailingSchedule::new(t, t, false, None),
            Err(Invalid::EndNotAfterStart)
        );
        assert!(MailingSchedule::new(t, t + Duration::seconds(1), false, None).is_ok());
    }

    #[test]
    fn written_times_keep_their_clock_with_local_time() {
        let written = DateTime::parse_from_rfc3339("2026-01-01T10:00:00+03:00").unwrap();
        assert_eq!(
            MailingSchedule::stored_instant(written, false),
            Ok(utc(2026, 1, 1, 7, 0))
        );
        assert_eq!(
            MailingSchedule::stored_instant(written, true),
            Ok(utc(2026, 1, 1, 10, 0))
        );
    }

    #[test]
    fn written_times_keep_what_storage_can_hold() {
        let stored = |raw: &str| {
            MailingSchedule::stored_instant(DateTime::parse_from_rfc3339(raw).unwrap(), false)
        };
        assert_eq!(
            stored("2030-01-01T10:00:00.0000009Z"),
            stored("2030-01-01T10:00:00Z")
        );
        let leap = stored("2030-06-30T23:59:60Z").unwrap();
        assert_eq!(leap.to_rfc3339(), "2030-06-30T23:59:59.999999+00:00");
        assert!(leap < utc(2030, 7, 1, 0, 0));
        assert_eq!(stored("1969-12-31T23:59:59Z"), Err(Invalid::OutOfRange));
        assert_eq!(stored("0000-01-01T00:00:00Z"), Err(Invalid::OutOfRange));
        assert!(stored("9999-12-31T23:59:59Z").is_ok());
    }

    #[test]
    fn status_follows_the_clock() {
        let s = MailingSchedule::new(utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 12, 0), false, None)
            .unwrap();
        assert_eq!(
            s.status(utc(2026, 1, 1, 9, 59), false, false),
            MailingStatus::Scheduled
        );
        assert_eq!(
            s.status(utc(2026, 1, 1, 10, 0), false, false),
            MailingStatus::Running
        );
        assert_eq!(
            s.status(utc(2026, 1, 1, 12, 0), false, false),
            MailingStatus::Finished
        );
        assert_eq!(
            s.status(utc(2026, 1, 1, 11, 0), true, false),
            MailingStatus::Cancelled
        );
        // Paused until its end, then finished; a cancel wins over a pause.
        assert_eq!(
            s.status(utc(2026, 1, 1, 9, 0), false, true),
            MailingStatus::Paused
        );
        assert_eq!(
            s.status(utc(2026, 1, 1, 11, 0), false, true),
            MailingStatus::Paused
        );
        assert_eq!(
            s.status(utc(2026, 1, 1, 12, 0), false, true),
            MailingStatus::Finished
        );
        assert_eq!(
            s.status(utc(2026, 1, 1, 11, 0), true, true),
            MailingStatus::Cancelled
        );
    }

    #[test]
    fn local_time_starts_each_zone_on_its_own_clock() {
        let s = MailingSchedule::new(utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 12, 0), true, None)
            .unwrap();
        assert_eq!(
            s.start_for(chrono_tz::Europe::Moscow),
            utc(2026, 1, 1, 7, 0)
        );
        assert_eq!(
            s.start_for(chrono_tz::Asia::Vladivostok),
            utc(2026, 1, 1, 0, 0)
        );
        assert_eq!(s.end_for(chrono_tz::UTC), utc(2026, 1, 1, 12, 0));
        // Running as soon as the easternmost zone reaches 10:00, until the westernmost passes 12:00.
        assert_eq!(
            s.status(utc(2025, 12, 31, 20, 0), false, false),
            MailingStatus::Running
        );
        assert_eq!(
            s.status(utc(2025, 12, 31, 19, 59), false, false),
            MailingStatus::Scheduled
        );
        assert_eq!(
            s.status(utc(2026, 1, 1, 23, 59), false, false),
            MailingStatus::Running
        );
        assert_eq!(
            s.status(utc(2026, 1, 2, 0, 0), false, false),
            MailingStatus::Finished
        );
    }

    #[test]
    fn running_mailings_accept_only_safe_changes() {
        use MailingField::*;
        assert_eq!(
            check_update(MailingStatus::Scheduled, &[StartAt, Filter]),
            Ok(())
        );
        assert_eq!(
            check_update(MailingStatus::Running, &[Text, EndAt, SendWindow]),
            Ok(())
        );
        assert_eq!(
            check_update(MailingStatus::Running, &[Text, Filter, StartAt]),
            Err(UpdateRefused::RunningFieldsLocked(vec![Filter, StartAt]))
        );
        assert_eq!(
            check_update(MailingStatus::Finished, &[Text]),
            Err(UpdateRefused::NotEditable(MailingStatus::Finished))
        );
        assert_eq!(check_update(MailingStatus::Cancelled, &[]), Ok(()));
    }
}
