//! Mobile operators: what a body may say about one, and creating, changing and deleting them.

use crate::error::ApiError;
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::store::{NewOperator, Operator, OperatorPatch};
use mailing_domain::{OperatorCode, OperatorId, OperatorName};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct OperatorInput {
    /// 1 to 32 characters: lowercase latin letters, digits, `-`, `_`. Unique.
    pub code: String,
    /// 1 to 100 characters.
    pub name: String,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct OperatorPatchInput {
    pub code: Option<String>,
    pub name: Option<String>,
}

impl OperatorPatchInput {
    fn parse(self) -> Result<OperatorPatch, ApiError> {
        let mut problems = Problems::default();
        let code = self
            .code
            .map(|raw| problems.check("code", OperatorCode::parse(&raw)));
        let name = self
            .name
            .map(|raw| problems.check("name", OperatorName::parse(&raw)));
        problems.finish(|| OperatorPatch {
            code: code.flatten(),
            name: name.flatten(),
        })
    }
}

impl OperatorInput {
    /// The input as a patch that sets every field.
    fn into_full_patch(self) -> OperatorPatchInput {
        OperatorPatchInput {
            code: Some(self.code),
            name: Some(self.name),
        }
    }

    fn parse(self) -> Result<NewOperator, ApiError> {
        let patch = self.into_full_patch().parse()?;
        Ok(NewOperator {
            code: patch.code.expect("given"),
            name: patch.name.expect("given"),
        })
    }
}

pub async fn create(state: &AppState, input: OperatorInput) -> Result<Operator, ApiError> {
    let new = input.parse()?;
    state.run(move |s| s.create_operator(&new)).await
}

/// Sets both fields. Changing the code of an operator that clients use is refused.
pub async fn replace(
    state: &AppState,
    id: OperatorId,
    input: OperatorInput,
) -> Result<Operator, ApiError> {
    patch(state, id, input.into_full_patch()).await
}

/// Sets the fields given. Changing the code of an operator that clients use is refused.
pub async fn patch(
    state: &AppState,
    id: OperatorId,
    input: OperatorPatchInput,
) -> Result<Operator, ApiError> {
    let patch = input.parse()?;
    state.run(move |s| s.update_operator(id, &patch)).await
}

/// Refused while clients use the operator.
pub async fn delete(state: &AppState, id: OperatorId) -> Result<(), ApiError> {
    state.run(move |s| s.delete_operator(id)).await
}

pub async fn get(state: &AppState, id: OperatorId) -> Result<Operator, ApiError> {
    state.run(move |s| s.get_operator(id)).await
}
