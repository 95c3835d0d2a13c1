//! Gathers every problem with an input while it is read into domain values, so one answer
//! lists them all instead of the first.

use crate::error::{ApiError, FieldError};
use mailing_domain::Invalid;

/// The problems found so far, each naming its field and rule.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// Keeps the value, or records why `field` was refused.
    pub fn check<T>(&mut self, field: impl Into<String>, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(rule) => {
                self.0.push(FieldError::invalid(field, &rule));
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Records `rule` against `field`.
    pub fn invalid(&mut self, field: impl Into<String>, rule: &Invalid) {
        self.0.push(FieldError::invalid(field, rule));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems recorded so far.
    pub fn details(&self) -> &[FieldError] {
        &self.0
    }

    /// Like [`Problems::finish`], for query parameters: problems make a 400.
    pub fn finish_query<T>(self, value: impl FnOnce() -> T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ApiError::invalid_query(self.0))
        }
    }

    /// `Ok(value)` when nothing was recorded. `value` is built lazily because it usually
    /// unwraps the options [`Problems::check`] returned.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}
