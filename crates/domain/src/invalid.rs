//! Why a value was refused: one variant per rule, each with a stable machine-readable code.

use thiserror::Error;

/// A rule a value broke. The API shows [`Invalid::code`] and the message next to the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Invalid {
    #[error("must be exactly 11 digits starting with 7, e.g. 79001234567")]
    PhoneFormat,
    #[error("must be an IANA time zone name such as Europe/Moscow, Asia/Vladivostok or UTC")]
    UnknownTimeZone,
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error(
        "must be 1 to {max} characters: lowercase latin letters, digits, '-' or '_', starting with a letter or digit"
    )]
    OperatorCodeFormat { max: usize },
    #[error("must be a time of day as \"HH:MM\" (00:00 to 23:59)")]
    TimeOfDayFormat,
    #[error("the window must not start and end at the same time; omit it to allow any time")]
    EmptyWindow,
    #[error("must be later than start_at")]
    EndNotAfterStart,
    #[error("must list at most {max} entries")]
    TooMany { max: usize },
    #[error("must be in the future")]
    InPast,
    #[error("must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z")]
    OutOfRange,
    #[error("must be a whole number from {min} to {max}")]
    Range { min: u64, max: u64 },
    #[error("must be a number from 0 up to but not including 1, such as 0.8")]
    ShareRange,
    #[error(
        "cannot change: a resend reaches the clients fixed when it was made; create a new \
         mailing to reach others"
    )]
    FixedRecipients,
    #[error("must be 1 to {max} characters: lowercase latin letters, digits or '_', e.g. city")]
    AttributeKeyFormat { max: usize },
    #[error("must be a string, a number or a boolean, e.g. \"Kazan\", 30 or true")]
    AttributeValueType,
    #[error("must be an object of attribute names and values, e.g. {{\"city\": \"Kazan\"}}")]
    AttributesObject,
    #[error("must take at most {max_bytes} bytes written as JSON")]
    TooLarge { max_bytes: usize },
    #[error(
        "must be a Russian mobile number: 11 digits starting with 7 or 8, or 10 starting with 9, \
         with any spaces, dashes, dots, brackets or a leading +, e.g. +7 (900) 123-45-67"
    )]
    PhoneUnrecognised,
    #[error(
        "must be a decimal number from 0 to 1000000 with at most 6 digits after the point, \
         written as a string, e.g. \"0.45\""
    )]
    PriceFormat,
    #[error(
        "must be 1 to {max} characters: latin letters, digits, '.', '_', '@' or '-', e.g. ann.smith"
    )]
    UsernameFormat { max: usize },
    #[error("must be one of admin, manager or viewer")]
    UnknownRole,
    #[error("must be {min} to {max} characters long")]
    PasswordLength { min: usize, max: usize },
}

impl Invalid {
    /// Stable code for clients to branch on; never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::PhoneFormat => "phone_format",
            Invalid::UnknownTimeZone => "unknown_time_zone",
            Invalid::Empty => "empty",
            Invalid::TooLong { .. } => "too_long",
            Invalid::ControlCharacters => "control_characters",
            Invalid::OperatorCodeFormat { .. } => "operator_code_format",
            Invalid::TimeOfDayFormat => "time_of_day_format",
            Invalid::EmptyWindow => "empty_window",
            Invalid::EndNotAfterStart => "end_not_after_start",
            Invalid::TooMany { .. } => "too_many",
            Invalid::InPast => "in_past",
            Invalid::OutOfRange => "out_of_range",
            Invalid::Range { .. } => "out_of_range",
            Invalid::ShareRange => "out_of_range",
            Invalid::FixedRecipients => "fixed_recipients",
            Invalid::AttributeKeyFormat { .. } => "attribute_key_format",
            Invalid::AttributeValueType => "attribute_value_type",
            Invalid::AttributesObject => "attributes_object",
            Invalid::TooLarge { .. } => "too_large",
            Invalid::PhoneUnrecognised => "phone_format",
            Invalid::PriceFormat => "price_format",
            Invalid::UsernameFormat { .. } => "username_format",
            Invalid::UnknownRole => "unknown_role",
            Invalid::PasswordLength { .. } => "password_length",
        }
    }
}

/// Trims `raw` and checks it is a non-empty, single-line text of at most `max` characters.
pub(crate) fn bounded_label(raw: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Invalid::Empty);
    }
    if trimmed.chars().count() > max {
        return Err(Invalid::TooLong { max });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::ControlCharacters);
    }
    Ok(trimmed.to_owned())
}
