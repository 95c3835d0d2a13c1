//! How a text travels as SMS: its encoding (GSM 03.38 when every character is in the GSM
//! alphabet, UCS-2 otherwise), its length counted the provider's way, and the paid parts it
//! is split into.
//!
//! One SMS carries 160 GSM characters or 70 UCS-2 units. A longer text is sent in parts that
//! each give up room to a header: 153 and 67. The GSM extension characters (`€ [ ] { } ^ ~ \ |`
//! and form feed) take two places, an escape and the character, and UCS-2 counts in UTF-16
//! units, so an emoji takes two; neither pair is ever split across parts.

use serde::Serialize;
use std::fmt;

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The GSM 03.38 7-bit alphabet.
    Gsm7,
    /// UTF-16 code units (UCS-2 as phones read it).
    Ucs2,
}

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::Gsm7, Encoding::Ucs2];

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }

    /// The places one SMS holds when the text fits in one.
    pub fn single_part(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }

    /// The places each part of a longer text holds.
    pub fn multi_part(self) -> usize {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }

    /// The places `c` takes in this encoding; `None` if GSM cannot carry it.
    fn width(self, c: char) -> Option<usize> {
        match self {
            Encoding::Gsm7 => gsm_width(c),
            Encoding::Ucs2 => Some(c.len_utf16()),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The GSM 03.38 basic character set, in table order (the escape at 0x1B left out).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM 03.38 extension table: each is sent as an escape and itself.
const GSM_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// The places `c` takes in GSM 03.38: one in the basic table, two in the extension table.
fn gsm_width(c: char) -> Option<usize> {
    // Letters, digits and spaces, most of any text, before searching the table.
    if c.is_ascii_alphanumeric() || c == ' ' || GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// What sending a text costs in SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segments {
    pub encoding: Encoding,
    /// The places the text takes: GSM characters with extension characters as two, or UTF-16
    /// units.
    pub characters: usize,
    /// The paid parts; an empty text is still one SMS.
    pub parts: usize,
    /// The characters GSM cannot carry, which made the text UCS-2, each once in order of
    /// first appearance.
    pub ucs2_characters: Vec<char>,
}

impl Segments {
    /// The most characters [`Segments::ucs2_characters`] lists.
    pub const MAX_LISTED: usize = 20;

    /// Counts `text`.
    pub fn of(text: &str) -> Self {
        let mut ucs2_characters: Vec<char> = Vec::new();
        for c in text.chars().filter(|&c| gsm_width(c).is_none()) {
            if !ucs2_characters.contains(&c) && ucs2_characters.len() < Self::MAX_LISTED {
                ucs2_characters.push(c);
            }
        }
        let encoding = if ucs2_characters.is_empty() {
            Encoding::Gsm7
        } else {
            Encoding::Ucs2
        };
        let widths = text.chars().map(|c| {
            encoding
                .width(c)
                .expect("the encoding was chosen to carry every character")
        });
        let characters: usize = widths.clone().sum();
        let parts = if characters <= encoding.single_part() {
            1
        } else {
            parts_of(widths, encoding.multi_part())
        };
        Self {
            encoding,
            characters,
            parts,
            ucs2_characters,
        }
    }
}

/// How many parts of `room` places hold characters of these widths in order, none split.
fn parts_of(widths: impl Iterator<Item = usize>, room: usize) -> usize {
    let mut parts = 1;
    let mut used = 0;
    for width in widths {
        if used + width > room {
            parts += 1;
            used = 0;
        }
        used += width;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;

    /// Texts whose counts were worked out by hand from GSM 03.38 and 3GPP TS 23.040, not from
    /// this module; the admin UI's browser tests check its counter against the same table.
    /// Each text is written as pieces repeated; a template counts with its fallbacks.
    const ORACLE: &str = include_str!("../../../fixtures/sms-parts.json");

    #[derive(serde::Deserialize)]
    struct Known {
        why: String,
        text: Vec<(String, usize)>,
        encoding: String,
        characters: usize,
        parts: usize,
    }

    #[test]
    fn counts_agree_with_the_hand_worked_table() {
        let table: Vec<Known> = serde_json::from_str(ORACLE).unwrap();
        assert!(table.len() >= 30);
        for known in table {
            let text: String = known
                .text
                .iter()
                .map(|(piece, times)| piece.repeat(*times))
                .collect();
            let counted = match Template::parse(&text) {
                Ok(template) => Segments::of(&template.with_fallbacks()),
                Err(_) => Segments::of(&text),
            };
            assert_eq!(
                (counted.encoding.as_str(), counted.characters, counted.parts),
                (known.encoding.as_str(), known.characters, known.parts),
                "{}: {text:?}",
                known.why
            );
        }
    }

    #[test]
    fn names_the_characters_that_forced_ucs2_once_each() {
        assert_eq!(
            Segments::of("Ça coûte, ça coûte").ucs2_characters,
            vec!['û', 'ç']
        );
        assert!(Segments::of("plain [GSM] €").ucs2_characters.is_empty());
        let many: String = ('а'..='я').collect();
        assert_eq!(
            Segments::of(&many).ucs2_characters.len(),
            Segments::MAX_LISTED
        );
    }

    #[test]
    fn the_whole_gsm_tables_are_gsm() {
        assert_eq!(GSM_BASIC.chars().count(), 127);
        assert_eq!(GSM_EXTENSION.chars().count(), 10);
        assert_eq!(Segments::of(GSM_BASIC).encoding, Encoding::Gsm7);
        assert_eq!(Segments::of(GSM_EXTENSION).characters, 20);
    }

    #[test]
    fn encodings_read_back_from_their_names() {
        for encoding in Encoding::ALL {
            assert_eq!(Encoding::parse(encoding.as_str()), Some(encoding));
        }
        assert_eq!(Encoding::parse("utf8"), None);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Characters from every class the count distinguishes.
        fn any_char() -> impl Strategy<Value = char> {
            prop_oneof![
                proptest::sample::select(GSM_BASIC.chars().collect::<Vec<_>>()),
                proptest::sample::select(GSM_EXTENSION.chars().collect::<Vec<_>>()),
                proptest::sample::select(vec!['ж', 'Я', 'û', 'ç', '\t', '中']),
                proptest::sample::select(vec!['😀', '🎉', '𝄞']),
            ]
        }

        proptest! {
            /// Splitting the text into the parts the count says, by the rules written out
            /// plainly here, never overfills a part and leaves no part empty.
            #[test]
            fn parts_hold_the_text_without_splitting_a_character(
                chars in proptest::collection::vec(any_char(), 0..400)
            ) {
                let text: String = chars.iter().collect();
                let counted = Segments::of(&text);
                let gsm = chars.iter().all(|c| GSM_BASIC.contains(*c) || GSM_EXTENSION.contains(*c));
                prop_assert_eq!(counted.encoding == Encoding::Gsm7, gsm);
                let width = |c: &char| if gsm {
                    if GSM_EXTENSION.contains(*c) { 2 } else { 1 }
                } else {
                    c.len_utf16()
                };
                let total: usize = chars.iter().map(width).sum();
                prop_assert_eq!(counted.characters, total);
                let (single, room) = if gsm { (160, 153) } else { (70, 67) };
                if total <= single {
                    prop_assert_eq!(counted.parts, 1);
                } else {
                    // Fill parts one character at a time, as a phone would.
                    let mut parts: Vec<usize> = vec![0];
                    for c in &chars {
                        let w = width(c);
                        if parts.last().copied().unwrap_or(0) + w > room {
                            parts.push(0);
                        }
                        *parts.last_mut().unwrap() += w;
                    }
                    prop_assert_eq!(counted.parts, parts.len());
                    prop_assert!(parts.iter().all(|&used| used > 0 && used <= room));
                    // At least as many parts as the places need, and at most one more per
                    // part for the pairs pushed over.
                    prop_assert!(counted.parts >= total.div_ceil(room));
                    prop_assert!(counted.parts <= total.div_ceil(room - 1));
                }
            }

            /// Adding a character never makes a text cheaper.
            #[test]
            fn a_longer_text_never_takes_fewer_parts(
                chars in proptest::collection::vec(any_char(), 0..300),
                extra in any_char()
            ) {
                let text: String = chars.iter().collect();
                let longer = format!("{text}{extra}");
                let (short, long) = (Segments::of(&text), Segments::of(&longer));
                if short.encoding == long.encoding {
                    prop_assert!(long.parts >= short.parts);
                }
                prop_assert!(long.characters > short.characters || long.encoding != short.encoding);
            }
        }
    }
}
