//! Tags, the free-form labels on clients: what a body may say about one, and creating,
//! renaming and deleting them.

use crate::error::ApiError;
use crate::operations::input::{Field, Required, UnknownFields};
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::store::{NewTag, Tag};
use mailing_domain::{TagId, TagValue};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct TagInput {
    /// 1 to 64 characters, trimmed; unique.
    pub value: Required<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A merge patch: `value` left out changes nothing; it may not be `null`.
#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct TagPatchInput {
    pub value: Field<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl TagInput {
    fn parse(self) -> Result<NewTag, ApiError> {
        let mut problems = Problems::default();
        let value = self
            .value
            .require("value", &mut problems)
            .and_then(|raw| problems.check("value", TagValue::parse(&raw)));
        self.unknown.report("", &mut problems);
        problems.finish(|| NewTag {
            value: value.expect("checked"),
        })
    }
}

impl TagPatchInput {
    /// The new value, if the patch gives one.
    fn parse(self) -> Result<Option<NewTag>, ApiError> {
        let mut problems = Problems::default();
        let value = self
            .value
            .set_only("value", &mut problems)
            .and_then(|raw| problems.check("value", TagValue::parse(&raw)));
        self.unknown.report("", &mut problems);
        problems.finish(|| value.map(|value| NewTag { value }))
    }
}

pub async fn create(state: &AppState, input: TagInput) -> Result<Tag, ApiError> {
    let new = input.parse()?;
    state.run(move |s| s.create_tag(&new)).await
}

/// Clients carrying the tag carry the new value.
pub async fn rename(state: &AppState, id: TagId, input: TagInput) -> Result<Tag, ApiError> {
    let new = input.parse()?;
    state.run(move |s| s.update_tag(id, &new)).await
}

/// A patch without a value changes nothing and answers the tag as it is.
pub async fn patch(state: &AppState, id: TagId, input: TagPatchInput) -> Result<Tag, ApiError> {
    match input.parse()? {
        Some(new) => state.run(move |s| s.update_tag(id, &new)).await,
        None => get(state, id).await,
    }
}

/// The tag is taken off every client.
pub async fn delete(state: &AppState, id: TagId) -> Result<(), ApiError> {
    state.run(move |s| s.delete_tag(id)).await
}

pub async fn get(state: &AppState, id: TagId) -> Result<Tag, ApiError> {
    state.run(move |s| s.get_tag(id)).await
}
