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

    /// Reads a number as people write it: `+7 (900) 123-45-67`, `8 900 123 45 67`,
    /// `9001234567` and `79001234567` are all `79001234567`. Spaces, dashes, dots and brackets
    /// are dropped, as is one leading `+` before a 7; a leading 8 (the domestic trunk prefix)
    /// becomes 7, and ten digits starting with 9 (a mobile number without its prefix) get a 7.
    pub fn normalise(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(11);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(Invalid::PhoneUnrecognised),
            }
        }
        let national = match (digits.len(), digits.as_bytes().first()) {
            (11, Some(b'7')) => digits,
            (11, Some(b'8')) if !plus => format!("7{}", &digits[1..]),
            (10, Some(b'9')) if !plus => format!("7{digits}"),
            _ => return Err(Invalid::PhoneUnrecognised),
        };
        Self::parse(&national).map_err(|_| Invalid::PhoneUnrecognised)
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
    fn written_numbers_normalise_to_eleven_digits() {
        for written in [
            "79001234567",
            "+79001234567",
            "+7 (900) 123-45-67",
            "8 900 123 45 67",
            "8(900)123-45-67",
            "89001234567",
            "9001234567",
            "900 123.45.67",
            " 7 900 123 45 67 ",
        ] {
            assert_eq!(
                PhoneNumber::normalise(written).map(|p| p.to_string()),
                Ok("79001234567".to_owned()),
                "{written:?}"
            );
        }
        for bad in [
            "",
            "+8 900 123 45 67",
            "+9001234567",
            "7900123456",
            "790012345678",
            "69001234567",
            "8001234567",
            "7900123456x",
            "++79001234567",
            "79001234567 ext 1",
        ] {
            assert_eq!(
                PhoneNumber::normalise(bad),
                Err(Invalid::PhoneUnrecognised),
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
