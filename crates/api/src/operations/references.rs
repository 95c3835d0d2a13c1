//! The operators and tags a request names, looked up together so that an answer can name every
//! one that does not exist beside the request's other problems.

use crate::error::{ApiError, FieldError};
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::{OperatorCode, TagValue};

/// What a request names, each with the field that names it.
#[derive(Debug, Default)]
pub struct References {
    operators: Vec<(String, OperatorCode)>,
    tags: Vec<(String, TagValue)>,
}

impl References {
    pub fn operator(&mut self, field: impl Into<String>, code: &OperatorCode) {
        self.operators.push((field.into(), code.clone()));
    }

    pub fn tag(&mut self, field: impl Into<String>, value: &TagValue) {
        self.tags.push((field.into(), value.clone()));
    }

    /// Records a problem for each operator or tag that does not exist.
    pub async fn check(self, state: &AppState, problems: &mut Problems) -> Result<(), ApiError> {
        if self.operators.is_empty() && self.tags.is_empty() {
            return Ok(());
        }
        let codes: Vec<OperatorCode> = self.operators.iter().map(|(_, c)| c.clone()).collect();
        let values: Vec<TagValue> = self.tags.iter().map(|(_, t)| t.clone()).collect();
        let (missing_codes, missing_tags) = state
            .run(move |s| Ok((s.missing_operators(&codes)?, s.missing_tags(&values)?)))
            .await?;
        for (field, code) in self.operators {
            if missing_codes.contains(&code) {
                problems.push(unknown_operator(field, &code));
            }
        }
        for (field, value) in self.tags {
            if missing_tags.contains(&value) {
                problems.push(unknown_tag(field, &value));
            }
        }
        Ok(())
    }
}

/// `field` names an operator that does not exist.
pub fn unknown_operator(field: impl Into<String>, code: &OperatorCode) -> FieldError {
    FieldError::new(
        field,
        "unknown_operator",
        format!(
            "no operator has the code \"{code}\"; create the operator first \
             (POST /api/v1/operators) or check the spelling"
        ),
    )
}

/// `field` names a tag that does not exist.
pub fn unknown_tag(field: impl Into<String>, value: &TagValue) -> FieldError {
    FieldError::new(
        field,
        "unknown_tag",
        format!(
            "no tag \"{value}\" exists, so the filter would match nobody through it; create \
             the tag first (POST /api/v1/tags) or check the spelling"
        ),
    )
}
