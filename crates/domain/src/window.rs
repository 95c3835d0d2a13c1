//! Send windows: the daily interval of a client's local clock in which it may receive messages.

use crate::invalid::Invalid;
use crate::planning::first_instant_at_or_after;
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use std::fmt;

/// A daily interval `[start, end)` of local clock time. `start > end` crosses midnight
/// (`22:00`–`06:00` is open at night).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow {
    start: NaiveTime,
    end: NaiveTime,
}

/// Which bound of a window broke which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowInvalid {
    #[error("start {0}")]
    Start(Invalid),
    #[error("end {0}")]
    End(Invalid),
    #[error("{0}")]
    Window(Invalid),
}

impl SendWindow {
    pub fn parse(start: &str, end: &str) -> Result<Self, WindowInvalid> {
        let start = parse_clock(start).map_err(WindowInvalid::Start)?;
        let end = parse_clock(end).map_err(WindowInvalid::End)?;
        Self::new(start, end).map_err(WindowInvalid::Window)
    }

    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, Invalid> {
        let whole_minutes = |t: NaiveTime| t.second() == 0 && t.nanosecond() == 0;
        if !whole_minutes(start) || !whole_minutes(end) {
            return Err(Invalid::TimeOfDayFormat);
        }
        if start == end {
            return Err(Invalid::EmptyWindow);
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }

    /// `"HH:MM"` of the start, as the API shows it.
    pub fn start_hhmm(&self) -> String {
        self.start.format("%H:%M").to_string()
    }

    /// `"HH:MM"` of the end, as the API shows it.
    pub fn end_hhmm(&self) -> String {
        self.end.format("%H:%M").to_string()
    }

    pub fn crosses_midnight(&self) -> bool {
        self.start > self.end
    }

    /// Whether a local clock reading lies inside the window.
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.crosses_midnight() {
            local >= self.start || local < self.end
        } else {
            local >= self.start && local < self.end
        }
    }

    /// Whether the window is open in `tz` at `instant`.
    pub fn is_open(&self, tz: Tz, instant: DateTime<Utc>) -> bool {
        self.contains(instant.with_timezone(&tz).time())
    }

    /// The first instant at or after `from` at which the window is open in `tz`.
    ///
    /// A window whose opening falls into a DST gap opens when the clocks jump; a window lying
    /// wholly inside a gap does not open that day. `None` only if no opening exists within the
    /// next few days, which real zones never produce.
    pub fn next_open(&self, tz: Tz, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(tz, from) {
            return Some(from);
        }
        let mut date = from.with_timezone(&tz).date_naive();
        for _ in 0..4 {
            let opening = first_instant_at_or_after(tz, date.and_time(self.start));
            if opening > from && self.is_open(tz, opening) {
                return Some(opening);
            }
            date = date.succ_opt()?;
        }
        None
    }
}

impl fmt::Display for SendWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start_hhmm(), self.end_hhmm())
    }
}

/// Parses a strict `"HH:MM"`: two digits, a colon, two digits.
fn parse_clock(raw: &str) -> Result<NaiveTime, Invalid> {
    let bytes = raw.as_bytes();
    let shaped = bytes.len() == 5
        && bytes[2] == b':'
        && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit());
    if !shaped {
        return Err(Invalid::TimeOfDayFormat);
    }
    let hours: u32 = raw[0..2].parse().map_err(|_| Invalid::TimeOfDayFormat)?;
    let minutes: u32 = raw[3..5].parse().map_err(|_| Invalid::TimeOfDayFormat)?;
    NaiveTime::from_hms_opt(hours, minutes, 0).ok_or(Invalid::TimeOfDayFormat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn window(start: &str, end: &str) -> SendWindow {
        SendWindow::parse(start, end).unwrap()
    }

    fn clock(raw: &str) -> NaiveTime {
        parse_clock(raw).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn parses_strict_hh_mm() {
        let w = window("09:00", "21:30");
        assert_eq!(w.to_string(), "09:00-21:30");
        for bad in [
            "9:00", "24:00", "12:60", "12:00:00", "", "ab:cd", "12-00", "+1:00",
        ] {
            assert_eq!(
                SendWindow::parse(bad, "10:00"),
                Err(WindowInvalid::Start(Invalid::TimeOfDayFormat)),
                "{bad:?}"
            );
        }
        assert_eq!(
            SendWindow::parse("10:00", "10:00"),
            Err(WindowInvalid::Window(Invalid::EmptyWindow))
        );
        assert_eq!(
            SendWindow::parse("10:00", "1000"),
            Err(WindowInvalid::End(Invalid::TimeOfDayFormat))
        );
    }

    #[test]
    fn daytime_window_is_half_open() {
        let w = window("09:00", "21:00");
        assert!(!w.contains(clock("08:59")));
        assert!(w.contains(clock("09:00")));
        assert!(w.contains(clock("20:59")));
        assert!(!w.contains(clock("21:00")));
    }

    #[test]
    fn window_may_cross_midnight() {
        let w = window("22:00", "06:00");
        assert!(w.crosses_midnight());
        assert!(w.contains(clock("23:30")));
        assert!(w.contains(clock("00:00")));
        assert!(w.contains(clock("05:59")));
        assert!(!w.contains(clock("06:00")));
        assert!(!w.contains(clock("12:00")));
    }

    #[test]
    fn next_open_is_now_inside_and_the_next_start_outside() {
        let moscow = chrono_tz::Europe::Moscow; // UTC+3, no DST
        let w = window("09:00", "21:00");
        // 12:00 Moscow: open now.
        assert_eq!(
            w.next_open(moscow, utc(2026, 3, 1, 9, 0)),
            Some(utc(2026, 3, 1, 9, 0))
        );
        // 07:00 Moscow: opens at 09:00 Moscow the same day.
        assert_eq!(
            w.next_open(moscow, utc(2026, 3, 1, 4, 0)),
            Some(utc(2026, 3, 1, 6, 0))
        );
        // 22:00 Moscow: opens at 09:00 Moscow the next day.
        assert_eq!(
            w.next_open(moscow, utc(2026, 3, 1, 19, 0)),
            Some(utc(2026, 3, 2, 6, 0))
        );
    }

    #[test]
    fn opening_inside_a_dst_gap_is_when_the_clocks_jump() {
        // Europe/Berlin springs forward on 2026-03-29 from 02:00 CET to 03:00 CEST (01:00 UTC).
        let berlin = chrono_tz::Europe::Berlin;
        let w = window("02:30", "04:00");
        assert_eq!(
            w.next_open(berlin, utc(2026, 3, 28, 23, 0)),
            Some(utc(2026, 3, 29, 1, 0))
        );
    }

    #[test]
    fn window_wholly_inside_a_dst_gap_opens_the_next_day() {
        let berlin = chrono_tz::Europe::Berlin;
        let w = window("02:10", "02:40");
        // 2026-03-30 02:10 CEST is 00:10 UTC.
        assert_eq!(
            w.next_open(berlin, utc(2026, 3, 28, 23, 0)),
            Some(utc(2026, 3, 30, 0, 10))
        );
    }

    #[test]
    fn opening_inside_a_dst_overlap_uses_the_first_pass() {
        // Europe/Berlin falls back on 2026-10-25: 02:00-03:00 local happens twice, first at
        // UTC+2 (00:00-01:00 UTC), then at UTC+1 (01:00-02:00 UTC).
        let berlin = chrono_tz::Europe::Berlin;
        let w = window("02:30", "05:00");
        assert_eq!(
            w.next_open(berlin, utc(2026, 10, 24, 22, 0)),
            Some(utc(2026, 10, 25, 0, 30))
        );
        // During the second pass the local clock again reads 02:xx: the window is open.
        assert!(w.is_open(berlin, utc(2026, 10, 25, 1, 40)));
    }
}
