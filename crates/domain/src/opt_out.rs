//! Numbers that asked not to be texted, the replies through which people ask, and the keywords
//! those replies are read against.

use crate::client::PhoneNumber;
use crate::invalid::Invalid;
use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

/// What `last_error` says of a message that was never sent because its number opted out.
pub const SUPPRESSED_REASON: &str = "the number opted out";

/// Where an opt-out came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptOutSource {
    /// `POST /api/v1/opt-outs`.
    Api,
    /// A CSV import of opt-outs.
    Import,
    /// A reply the provider forwarded, holding an opt-out keyword.
    Inbound,
    /// The admin UI.
    Ui,
}

impl OptOutSource {
    pub const ALL: [OptOutSource; 4] = [
        OptOutSource::Api,
        OptOutSource::Import,
        OptOutSource::Inbound,
        OptOutSource::Ui,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OptOutSource::Api => "api",
            OptOutSource::Import => "import",
            OptOutSource::Inbound => "inbound",
            OptOutSource::Ui => "ui",
        }
    }
}

impl fmt::Display for OptOutSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not an opt-out source name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of api, import, inbound, ui")]
pub struct UnknownSource;

impl FromStr for OptOutSource {
    type Err = UnknownSource;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == raw)
            .ok_or(UnknownSource)
    }
}

/// Why a number opted out, in the words of whoever recorded it: 1 to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutReason(String);

impl OptOutReason {
    pub const MAX_CHARS: usize = 500;

    /// Surrounding whitespace is dropped; what is left must be 1 to 500 characters with no
    /// control characters but line breaks and tabs.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Invalid::ControlCharacters);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A number that must never be texted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOut {
    pub phone: PhoneNumber,
    pub source: OptOutSource,
    pub reason: Option<OptOutReason>,
    pub created_at: DateTime<Utc>,
}

/// An opt-out to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOptOut {
    pub phone: PhoneNumber,
    pub source: OptOutSource,
    pub reason: Option<OptOutReason>,
}

/// What adding an opt-out did. A number opts out once: adding it again keeps the first entry
/// (its source, reason and time) and answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutAdded {
    pub opt_out: OptOut,
    /// False when the number had opted out already.
    pub created: bool,
    /// Waiting messages to the number that this call suppressed.
    pub suppressed: u64,
}

/// Which opt-outs a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptOutQuery {
    /// Only this number.
    pub phone: Option<PhoneNumber>,
    /// Only numbers starting with these digits.
    pub phone_prefix: Option<String>,
}

/// What a reply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboundAction {
    /// It held an opt-out keyword: the number opted out.
    OptOut,
    /// It held an opt-in keyword: the number's opt-out was removed.
    OptIn,
    /// Neither: it is only kept.
    None,
}

impl InboundAction {
    pub const ALL: [InboundAction; 3] = [
        InboundAction::OptOut,
        InboundAction::OptIn,
        InboundAction::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboundAction::OptOut => "opt_out",
            InboundAction::OptIn => "opt_in",
            InboundAction::None => "none",
        }
    }
}

impl fmt::Display for InboundAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not an inbound action name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of opt_out, opt_in, none")]
pub struct UnknownAction;

impl FromStr for InboundAction {
    type Err = UnknownAction;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == raw)
            .ok_or(UnknownAction)
    }
}

/// The text of a reply: at most 1,600 characters (ten concatenated SMS), kept as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundText(String);

impl InboundText {
    pub const MAX_CHARS: usize = 1600;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A reply the provider forwarded, and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub id: i64,
    pub phone: PhoneNumber,
    pub text: InboundText,
    pub action: InboundAction,
    pub received_at: DateTime<Utc>,
}

/// A reply to record, and the action its text calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboundMessage {
    pub phone: PhoneNumber,
    pub text: InboundText,
    pub action: InboundAction,
}

/// What recording a reply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecorded {
    pub message: InboundMessage,
    /// For an opt-out, the number's opt-out (new or the one it had); `None` otherwise.
    pub opt_out: Option<OptOutAdded>,
    /// For an opt-in, whether the number had an opt-out to remove.
    pub opted_in: bool,
}

/// The words that opt a number out or back in when a reply is exactly one of them.
///
/// A reply matches a keyword when they are equal once both are trimmed, lower-cased (Unicode:
/// `стоп` matches `СТОП`) and stripped of trailing punctuation (`.`, `!`, `?`, `,`, `;`, `:`,
/// `…`). "STOP please" matches nothing: a keyword must be the whole reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
}

impl Keywords {
    pub const DEFAULT_OPT_OUT: [&'static str; 4] = ["STOP", "СТОП", "ОТПИСКА", "UNSUBSCRIBE"];
    pub const DEFAULT_OPT_IN: [&'static str; 2] = ["START", "СТАРТ"];

    /// Keywords as configured; empty entries are ignored. A word in both lists opts out, the
    /// safer reading.
    pub fn new<O: AsRef<str>, I: AsRef<str>>(opt_out: &[O], opt_in: &[I]) -> Self {
        let fold = |words: &[&str]| -> Vec<String> {
            words
                .iter()
                .map(|word| fold(word))
                .filter(|word| !word.is_empty())
                .collect()
        };
        let out: Vec<&str> = opt_out.iter().map(AsRef::as_ref).collect();
        let back: Vec<&str> = opt_in.iter().map(AsRef::as_ref).collect();
        Self {
            opt_out: fold(&out),
            opt_in: fold(&back),
        }
    }

    /// The action a reply's text calls for.
    pub fn action(&self, text: &str) -> InboundAction {
        let folded = fold(text);
        if folded.is_empty() {
            return InboundAction::None;
        }
        if self.opt_out.contains(&folded) {
            InboundAction::OptOut
        } else if self.opt_in.contains(&folded) {
            InboundAction::OptIn
        } else {
            InboundAction::None
        }
    }
}

impl Default for Keywords {
    fn default() -> Self {
        Self::new(&Self::DEFAULT_OPT_OUT, &Self::DEFAULT_OPT_IN)
    }
}

/// A text as keywords compare: trimmed, trailing punctuation dropped, lower-cased.
fn fold(text: &str) -> String {
    text.trim()
        .trim_end_matches(['.', '!', '?', ',', ';', ':', '…'])
        .trim_end()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_match_keywords_whatever_their_case_space_and_final_punctuation() {
        let keywords = Keywords::default();
        for text in [
            "STOP",
            "stop",
            " Stop!\n",
            "стоп",
            "СТОП.",
            "Отписка",
            "unsubscribe!!",
        ] {
            assert_eq!(keywords.action(text), InboundAction::OptOut, "{text:?}");
        }
        for text in ["START", "start", "Старт!", " старт "] {
            assert_eq!(keywords.action(text), InboundAction::OptIn, "{text:?}");
        }
        for text in ["", "  ", "!", "STOP please", "stopp", "не стоп", "ST OP"] {
            assert_eq!(keywords.action(text), InboundAction::None, "{text:?}");
        }
    }

    #[test]
    fn configured_keywords_replace_the_defaults_and_opting_out_wins() {
        let keywords = Keywords::new(&["Halt", "both", " "], &["Go", "BOTH"]);
        assert_eq!(keywords.action("halt"), InboundAction::OptOut);
        assert_eq!(keywords.action("GO."), InboundAction::OptIn);
        assert_eq!(keywords.action("both"), InboundAction::OptOut);
        assert_eq!(keywords.action("stop"), InboundAction::None);
        assert_eq!(keywords.action(""), InboundAction::None);
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(
            OptOutReason::parse("  asked by phone ").unwrap().as_str(),
            "asked by phone"
        );
        assert_eq!(OptOutReason::parse(" "), Err(Invalid::Empty));
        assert_eq!(
            OptOutReason::parse(&"ы".repeat(501)),
            Err(Invalid::TooLong { max: 500 })
        );
        assert!(OptOutReason::parse(&"ы".repeat(500)).is_ok());
        assert_eq!(
            OptOutReason::parse("a\u{7}"),
            Err(Invalid::ControlCharacters)
        );
        assert_eq!(
            InboundText::parse(&"x".repeat(1601)),
            Err(Invalid::TooLong { max: 1600 })
        );
    }

    #[test]
    fn names_round_trip() {
        for source in OptOutSource::ALL {
            assert_eq!(source.as_str().parse(), Ok(source));
        }
        for action in InboundAction::ALL {
            assert_eq!(action.as_str().parse(), Ok(action));
        }
        assert_eq!("web".parse::<OptOutSource>(), Err(UnknownSource));
    }
}
