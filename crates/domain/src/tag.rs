//! Tags: free-form labels attached to clients and used by filters.

use crate::invalid::{Invalid, bounded_label};
use serde::Serialize;
use std::fmt;

/// A tag's value: trimmed, non-empty, one line. Compared exactly (case matters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TagValue(String);

impl TagValue {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        bounded_label(raw, Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_bounded() {
        assert_eq!(
            TagValue::parse("  Another Tag ").unwrap().as_str(),
            "Another Tag"
        );
        assert_eq!(TagValue::parse(" \t "), Err(Invalid::Empty));
        assert_eq!(TagValue::parse("a\u{0}b"), Err(Invalid::ControlCharacters));
        assert!(TagValue::parse(&"é".repeat(64)).is_ok());
        assert_eq!(
            TagValue::parse(&"é".repeat(65)),
            Err(Invalid::TooLong { max: 64 })
        );
    }
}
