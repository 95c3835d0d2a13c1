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

#[cfg(test)]
mod tests {
    use super::*;

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
