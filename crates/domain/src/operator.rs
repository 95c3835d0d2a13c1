//! Mobile operators: a display name and the short code clients refer to.

use crate::invalid::{Invalid, bounded_label};
use serde::Serialize;
use std::fmt;

/// A mobile operator's code, e.g. `bln`: lowercase latin letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OperatorCode(String);

impl OperatorCode {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let code = raw.trim();
        if code.is_empty() {
            return Err(Invalid::Empty);
        }
        let well_formed = code.len() <= Self::MAX_LEN
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && code
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        if !well_formed {
            return Err(Invalid::OperatorCodeFormat { max: Self::MAX_LEN });
        }
        Ok(Self(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OperatorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An operator's display name, e.g. "Beeline".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OperatorName(String);

impl OperatorName {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        bounded_label(raw, Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What one SMS part costs at an operator, as a decimal with at most six places after the
/// point, kept in millionths so sums are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Price {
    micros: u64,
}

impl Price {
    /// Places after the point a price may have.
    pub const SCALE: u32 = 6;
    const ONE: u64 = 10u64.pow(Self::SCALE);
    /// The greatest price per part: a million.
    pub const MAX_UNITS: u64 = 1_000_000;

    /// Reads a decimal written as `0.45`, `3` or `12.500000`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        let well_formed = !whole.is_empty()
            && whole.len() <= 7
            && digits(whole)
            && digits(fraction)
            && fraction.len() <= Self::SCALE as usize
            && !(raw.contains('.') && fraction.is_empty());
        if !well_formed {
            return Err(Invalid::PriceFormat);
        }
        let units: u64 = whole.parse().map_err(|_| Invalid::PriceFormat)?;
        let padded = format!("{fraction:0<6}");
        let fraction: u64 = padded.parse().map_err(|_| Invalid::PriceFormat)?;
        let micros = units * Self::ONE + fraction;
        if micros > Self::MAX_UNITS * Self::ONE {
            return Err(Invalid::PriceFormat);
        }
        Ok(Self { micros })
    }

    pub fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    pub fn micros(self) -> u64 {
        self.micros
    }

    /// The price of `parts` parts.
    pub fn times(self, parts: u64) -> Self {
        Self {
            micros: self.micros.saturating_mul(parts),
        }
    }
}

impl std::ops::Add for Price {
    type Output = Price;

    fn add(self, other: Price) -> Price {
        Price {
            micros: self.micros.saturating_add(other.micros),
        }
    }
}

impl std::iter::Sum for Price {
    fn sum<I: Iterator<Item = Price>>(prices: I) -> Price {
        prices.fold(Price::default(), |sum, price| sum + price)
    }
}

/// Written with at least two places after the point and no trailing zeros beyond them:
/// `0.45`, `3.00`, `0.000125`.
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.micros / Self::ONE;
        let fraction = format!("{:06}", self.micros % Self::ONE);
        let kept = fraction.trim_end_matches('0');
        let kept = if kept.len() < 2 { &fraction[..2] } else { kept };
        write!(f, "{whole}.{kept}")
    }
}

impl Serialize for Price {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_exact_decimals() {
        assert_eq!(Price::parse("0.45").unwrap().micros(), 450_000);
        assert_eq!(Price::parse("3").unwrap().to_string(), "3.00");
        assert_eq!(Price::parse("12.500000").unwrap().to_string(), "12.50");
        assert_eq!(Price::parse("0.000125").unwrap().to_string(), "0.000125");
        assert_eq!(Price::parse("1000000").unwrap().to_string(), "1000000.00");
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "1,5",
            "0.1234567",
            "1e3",
            " 1",
            "1000000.01",
            "abc",
            "1.2.3",
        ] {
            assert_eq!(Price::parse(bad), Err(Invalid::PriceFormat), "{bad}");
        }
        let price = Price::parse("0.45").unwrap();
        assert_eq!(price.times(3).to_string(), "1.35");
        assert_eq!(
            [price.times(3), Price::parse("0.1").unwrap()]
                .into_iter()
                .sum::<Price>()
                .to_string(),
            "1.45"
        );
    }

    #[test]
    fn codes_are_short_lowercase_identifiers() {
        assert_eq!(OperatorCode::parse(" bln ").unwrap().as_str(), "bln");
        assert!(OperatorCode::parse("mts-2_x").is_ok());
        assert!(OperatorCode::parse("985").is_ok());
        assert_eq!(OperatorCode::parse("  "), Err(Invalid::Empty));
        for bad in ["BLN", "b ln", "-bln", "бил", "a/b", &"x".repeat(33)] {
            assert_eq!(
                OperatorCode::parse(bad),
                Err(Invalid::OperatorCodeFormat { max: 32 }),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_trimmed_single_line_labels() {
        assert_eq!(
            OperatorName::parse(" Beeline ").unwrap().as_str(),
            "Beeline"
        );
        assert_eq!(OperatorName::parse(""), Err(Invalid::Empty));
        assert_eq!(OperatorName::parse("a\nb"), Err(Invalid::ControlCharacters));
        assert_eq!(
            OperatorName::parse(&"n".repeat(101)),
            Err(Invalid::TooLong { max: 100 })
        );
    }
}
