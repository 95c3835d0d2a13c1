//! What identifies and locates a client: its phone number and its time zone.

use crate::invalid::Invalid;
use serde::Serialize;
use std::fmt;

/// A phone number as the probe expects it: exactly 11 digits, the first one `7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let well_formed =
            raw.len() == 11 && raw.starts_with('7') && raw.bytes().all(|b| b.is_ascii_digit());
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::PhoneFormat)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as the probe's JSON integer `phone`.
    pub fn as_u64(&self) -> u64 {
        self.0
            .parse()
            .expect("a parsed phone number is 11 ASCII digits")
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IANA time zone such as `Europe/Moscow`; abbreviations and offsets are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        raw.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| Invalid::UnknownTimeZone)
    }

    pub fn utc() -> Self {
        Self(chrono_tz::UTC)
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_eleven_digits_starting_with_seven() {
        let phone = PhoneNumber::parse("79854456670").unwrap();
        assert_eq!(phone.as_u64(), 79_854_456_670);
        for bad in [
            "",
            "7985445667",
            "798544566700",
            "89854456670",
            "+79854456670",
            "7985445667a",
            " 79854456670",
            "７9854456670",
        ] {
            assert_eq!(
                PhoneNumber::parse(bad),
                Err(Invalid::PhoneFormat),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        for good in [
            "Europe/Moscow",
            "Asia/Vladivostok",
            "UTC",
            "America/New_York",
        ] {
            assert_eq!(TimeZone::parse(good).unwrap().name(), good);
        }
        for bad in ["", "Moscow", "+03:00", "europe/moscow", "Mars/Olympus"] {
            assert_eq!(
                TimeZone::parse(bad),
                Err(Invalid::UnknownTimeZone),
                "{bad:?}"
            );
        }
    }
}
