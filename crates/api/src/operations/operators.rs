//! Mobile operators: what a body may say about one, and creating, changing and deleting them.

use crate::error::ApiError;
use crate::operations::input::{Change, Field, Required, UnknownFields};
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::store::{NewOperator, Operator, OperatorPatch};
use mailing_domain::{OperatorCode, OperatorId, OperatorName, Price};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct OperatorInput {
    /// 1 to 32 characters: lowercase latin letters, digits, `-`, `_`. Unique.
    pub code: Required<String>,
    /// 1 to 100 characters.
    pub name: Required<String>,
    /// What one SMS part costs at this operator, as a decimal string with at most 6 digits
    /// after the point, e.g. `"0.45"`; previews estimate a mailing's cost from it.
    pub price_per_segment: Field<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A merge patch: a field left out keeps its value; neither field may be `null`.
#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct OperatorPatchInput {
    pub code: Field<String>,
    pub name: Field<String>,
    /// `null` removes the price.
    pub price_per_segment: Field<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl OperatorPatchInput {
    fn parse(self) -> Result<OperatorPatch, ApiError> {
        let mut problems = Problems::default();
        let code = self
            .code
            .set_only("code", &mut problems)
            .and_then(|raw| problems.check("code", OperatorCode::parse(&raw)));
        let name = self
            .name
            .set_only("name", &mut problems)
            .and_then(|raw| problems.check("name", OperatorName::parse(&raw)));
        let price_per_segment = match self
            .price_per_segment
            .change("price_per_segment", &mut problems)
        {
            Change::Keep => None,
            Change::Clear => Some(None),
            Change::Set(raw) => problems
                .check("price_per_segment", Price::parse(&raw))
                .map(Some),
        };
        self.unknown.report("", &mut problems);
        problems.finish(|| OperatorPatch {
            code,
            name,
            price_per_segment,
        })
    }
}

impl OperatorInput {
    fn parse(self) -> Result<NewOperator, ApiError> {
        let mut problems = Problems::default();
        let code = self
            .code
            .require("code", &mut problems)
            .and_then(|raw| problems.check("code", OperatorCode::parse(&raw)));
        let name = self
            .name
            .require("name", &mut problems)
            .and_then(|raw| problems.check("name", OperatorName::parse(&raw)));
        let price_per_segment = self
            .price_per_segment
            .optional("price_per_segment", &mut problems)
            .and_then(|raw| problems.check("price_per_segment", Price::parse(&raw)));
        self.unknown.report("", &mut problems);
        problems.finish(|| NewOperator {
            code: code.expect("checked"),
            name: name.expect("checked"),
            price_per_segment,
        })
    }
}

pub async fn create(state: &AppState, input: OperatorInput) -> Result<Operator, ApiError> {
    let new = input.parse()?;
    state.run(move |s| s.create_operator(&new)).await
}

/// Sets every field (a price left out is removed). Changing the code of an operator that clients use is refused.
pub async fn replace(
    state: &AppState,
    id: OperatorId,
    input: OperatorInput,
) -> Result<Operator, ApiError> {
    let new = input.parse()?;
    let patch = OperatorPatch {
        code: Some(new.code),
        name: Some(new.name),
        price_per_segment: Some(new.price_per_segment),
    };
    state.run(move |s| s.update_operator(id, &patch)).await
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
