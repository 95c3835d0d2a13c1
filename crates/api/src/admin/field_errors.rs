//! Problems with a submitted form, each beside the field it concerns and the rest above the
//! form: the API's answer to the same input, sorted onto the form's fields and put in the
//! form's words ("End must be later than Start"), never the API's field paths or codes.

use super::error::AdminError;
use crate::error::{ApiError, FieldError};
use actix_web::http::StatusCode;
use std::collections::BTreeMap;

/// Problems with a submitted form: each beside the field it concerns, the rest above the form.
#[derive(Debug, Default)]
pub struct FieldErrors {
    by_field: BTreeMap<String, String>,
    pub general: Vec<String>,
}

/// A form's labels by field name, for the fields whose label is not their name in words
/// (`client_filter_id` is "Saved client filter"; `phone_number` is "Phone number" anyway).
pub type Labels = &'static [(&'static str, &'static str)];

impl FieldErrors {
    /// The problem with the field, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    /// Keeps the first problem found with a field.
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.by_field
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_empty()
    }

    /// Every problem, those above the form first.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.general
            .iter()
            .chain(self.by_field.values())
            .map(String::as_str)
    }

    /// A form shown again with problems answers 422, as the API does.
    pub fn status(&self) -> StatusCode {
        if self.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    /// Sorts the API's answer to input onto the form's fields, in the form's words. `field`
    /// names the form field for an API field path (`filter.tags[2]` → `tags`); `None` puts the
    /// problem above the form. `labels` are the form's labels where they differ from the
    /// field's name in words. Failures that are not about the input stay errors.
    pub fn from_api(
        error: ApiError,
        field: impl Fn(&str) -> Option<&'static str>,
        labels: Labels,
    ) -> Result<Self, AdminError> {
        let (message, details) = match error {
            ApiError::Validation(details) => (None, details),
            ApiError::BadRequest {
                message, details, ..
            }
            | ApiError::Conflict {
                message, details, ..
            } => (Some(message), details),
            other => return Err(other.into()),
        };
        let mut errors = Self::default();
        for detail in &details {
            let name = field(&detail.field);
            let label = match name {
                Some(name) => label_of(labels, name),
                None => in_words(base_field(&detail.field)),
            };
            let message = problem_in_words(detail, &label, labels);
            match name {
                Some(name) => errors.add(name, message),
                None => errors.general.push(message),
            }
        }
        if details.is_empty() {
            errors.general.extend(message.map(|m| sentence(&m)));
        }
        Ok(errors)
    }
}

/// The label of a form field: the form's own, or its name in words (`time_zone` → "Time
/// zone").
pub fn label_of(labels: Labels, field: &str) -> String {
    labels
        .iter()
        .find(|(name, _)| *name == field)
        .map_or_else(|| in_words(field), |(_, label)| (*label).to_owned())
}

/// A field name in words, capitalised: `phone_number` → "Phone number".
fn in_words(name: &str) -> String {
    capitalised(&name.replace(['_', '.'], " "))
}

/// One problem as the form says it, from the rule's stable code where the API's wording names
/// its own fields or formats, and otherwise from its message after the field's label:
/// "Text must not be empty", "Tags: entry 2 must be at most 64 characters long".
fn problem_in_words(detail: &FieldError, label: &str, labels: Labels) -> String {
    let said = match detail.code.as_str() {
        "phone_format" => "write 11 digits starting with 7, e.g. 79001234567".to_owned(),
        "unknown_time_zone" => "not a time zone name; pick one of the suggestions, such as \
                                Europe/Moscow, Asia/Vladivostok or UTC"
            .to_owned(),
        "end_not_after_start" => format!("must be later than {}", label_of(labels, "start_at")),
        "empty_window" => format!(
            "must differ from {}; leave both empty to send at any time",
            label_of(labels, "window_end")
        ),
        "locked_while_running" => "cannot change once the mailing has started".to_owned(),
        "unknown_operator" => "no operator has this code; create the operator first".to_owned(),
        "unknown_tag" => "no tag has this value; create the tag first".to_owned(),
        "unknown_client_filter" => "that saved filter no longer exists; pick another".to_owned(),
        "no_recipients" => "no message of the mailing ended so (or their clients were deleted \
                            since), so the resend would reach nobody; tick others"
            .to_owned(),
        _ => detail.message.clone(),
    };
    let entry = entry_number(&detail.field).map(|n| format!(": entry {n}"));
    let predicate = ["must ", "cannot ", "does ", "is "]
        .iter()
        .any(|verb| said.starts_with(verb));
    match (entry, predicate) {
        (Some(entry), _) => format!("{label}{entry} {said}"),
        (None, true) => format!("{label} {said}"),
        (None, false) => format!("{label}: {said}"),
    }
}

/// The entry of a list a path points into, counted from 1: `tags[1]` → 2.
fn entry_number(path: &str) -> Option<usize> {
    path.rsplit_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok())
        .map(|i| i + 1)
}

/// A message as a sentence: capitalised, with a full stop.
pub fn sentence(message: &str) -> String {
    let mut text = capitalised(message);
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// The text with its first letter in upper case and nothing else changed.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The field a top-level API path refers to, without its list index.
pub fn base_field(path: &str) -> &str {
    path.split(['[', '.']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailing_domain::Invalid;

    const LABELS: Labels = &[
        ("start_at", "Start"),
        ("end_at", "End"),
        ("window_start", "Window from"),
        ("window_end", "Window until"),
    ];

    fn sorted(error: ApiError) -> FieldErrors {
        FieldErrors::from_api(
            error,
            |path| match base_field(path) {
                "phone_number" => Some("phone_number"),
                "tags" => Some("tags"),
                "time_zone" => Some("time_zone"),
                "end_at" => Some("end_at"),
                "text" => Some("text"),
                "send_window" => Some("window_start"),
                _ => None,
            },
            LABELS,
        )
        .unwrap()
    }

    #[test]
    fn problems_land_beside_their_fields_in_the_forms_words() {
        let errors = sorted(ApiError::Validation(vec![
            FieldError::invalid("phone_number", &Invalid::PhoneFormat),
            FieldError::invalid("tags[1]", &Invalid::TooLong { max: 64 }),
            FieldError::invalid("time_zone", &Invalid::UnknownTimeZone),
            FieldError::invalid("end_at", &Invalid::EndNotAfterStart),
            FieldError::invalid("text", &Invalid::Empty),
            FieldError::invalid("send_window", &Invalid::EmptyWindow),
            FieldError::new("mystery_field", "x", "is odd"),
        ]));
        assert_eq!(
            errors.get("phone_number"),
            Some("Phone number: write 11 digits starting with 7, e.g. 79001234567")
        );
        assert_eq!(
            errors.get("tags"),
            Some("Tags: entry 2 must be at most 64 characters long")
        );
        assert!(
            errors
                .get("time_zone")
                .unwrap()
                .starts_with("Time zone: not a time zone name; pick one of the suggestions")
        );
        assert_eq!(errors.get("end_at"), Some("End must be later than Start"));
        assert_eq!(errors.get("text"), Some("Text must not be empty"));
        assert_eq!(
            errors.get("window_start"),
            Some("Window from must differ from Window until; leave both empty to send at any time")
        );
        assert_eq!(errors.general, ["Mystery field is odd"]);
        for message in errors.by_field.values().chain(&errors.general) {
            assert!(
                !message.contains('_') && !message.contains("start_at"),
                "{message}"
            );
        }
    }

    #[test]
    fn the_first_problem_with_a_field_is_kept() {
        let errors = sorted(ApiError::Validation(vec![
            FieldError::invalid("text", &Invalid::Empty),
            FieldError::invalid("text", &Invalid::ControlCharacters),
        ]));
        assert_eq!(errors.get("text"), Some("Text must not be empty"));
    }

    #[test]
    fn a_conflict_without_fields_goes_above_the_form_as_a_sentence() {
        let error = ApiError::Conflict {
            code: "operator_in_use",
            message: "the operator is used by clients".into(),
            details: vec![],
        };
        let errors = FieldErrors::from_api(error, |_| None, &[]).unwrap();
        assert_eq!(errors.general, ["The operator is used by clients."]);
        assert!(FieldErrors::from_api(ApiError::Unavailable, |_| None, &[]).is_err());
    }

    #[test]
    fn a_resend_that_would_reach_nobody_says_so_beside_the_statuses() {
        let error = ApiError::from(mailing_domain::store::Rejection::NoResendRecipients);
        let labels: Labels = &[("resend_statuses", "Statuses")];
        let field = |path: &str| (base_field(path) == "statuses").then_some("resend_statuses");
        let errors = FieldErrors::from_api(error, field, labels).unwrap();
        assert_eq!(
            errors.get("resend_statuses"),
            Some(
                "Statuses: no message of the mailing ended so (or their clients were deleted \
                 since), so the resend would reach nobody; tick others"
            )
        );
    }

    #[test]
    fn labels_are_the_forms_or_the_names_in_words() {
        assert_eq!(label_of(LABELS, "start_at"), "Start");
        assert_eq!(label_of(LABELS, "time_zone"), "Time zone");
        assert_eq!(label_of(&[], "phone"), "Phone");
    }
}
