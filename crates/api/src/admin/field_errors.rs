//! Problems with a submitted form, each beside the field it concerns and the rest above the
//! form: the API's answer to the same input, sorted onto the form's fields.

use super::error::AdminError;
use crate::error::ApiError;
use actix_web::http::StatusCode;
use std::collections::BTreeMap;

/// Problems with a submitted form: each beside the field it concerns, the rest above the form.
#[derive(Debug, Default)]
pub struct FieldErrors {
    by_field: BTreeMap<String, String>,
    pub general: Vec<String>,
}

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

    /// A form shown again with problems answers 422, as the API does.
    pub fn status(&self) -> StatusCode {
        if self.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    /// Sorts the API's answer to input onto the form's fields. `field` names the form field
    /// for an API field path (`filter.tags[2]` → `tags`); `None` puts the problem above the
    /// form. Failures that are not about the input stay errors.
    pub fn from_api(
        error: ApiError,
        field: impl Fn(&str) -> Option<&'static str>,
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
            let message = detail.message.clone();
            match field(&detail.field) {
                Some(name) => errors.add(name, entry_message(&detail.field, message)),
                None => errors.general.push(format!("{}: {message}", detail.field)),
            }
        }
        if details.is_empty() {
            errors.general.extend(message);
        }
        Ok(errors)
    }
}

/// A problem with one entry of a list names the entry: "entry 2 must not be empty".
fn entry_message(path: &str, message: String) -> String {
    let index = path
        .rsplit_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok());
    match index {
        Some(i) => format!("entry {}: {message}", i + 1),
        None => message,
    }
}

/// The field a top-level API path refers to, without its list index.
pub fn base_field(path: &str) -> &str {
    path.split(['[', '.']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;

    #[test]
    fn api_problems_land_beside_their_fields() {
        let error = ApiError::Validation(vec![
            FieldError::new("phone_number", "phone_format", "must be 11 digits"),
            FieldError::new("tags[1]", "empty", "must not be empty"),
            FieldError::new("mystery", "x", "is odd"),
        ]);
        let errors = FieldErrors::from_api(error, |path| match base_field(path) {
            "phone_number" => Some("phone_number"),
            "tags" => Some("tags"),
            _ => None,
        })
        .unwrap();
        assert_eq!(errors.get("phone_number"), Some("must be 11 digits"));
        assert_eq!(errors.get("tags"), Some("entry 2: must not be empty"));
        assert_eq!(errors.general, ["mystery: is odd"]);
    }

    #[test]
    fn a_conflict_without_fields_goes_above_the_form() {
        let error = ApiError::Conflict {
            code: "operator_in_use",
            message: "the operator is used by clients".into(),
            details: vec![],
        };
        let errors = FieldErrors::from_api(error, |_| None).unwrap();
        assert_eq!(errors.general, ["the operator is used by clients"]);
        assert!(FieldErrors::from_api(ApiError::Unavailable, |_| None).is_err());
    }
}
