//! Tags, the free-form labels on clients: what a body may say about one, and creating,
//! renaming and deleting them.

use crate::error::ApiError;
use crate::operations::input::{Field, Required, UnknownFields};
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::store::{NewTag, Rejection, StoreError, Tag, TagUse};
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

/// The query of a tag's deletion.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct TagDeleteQuery {
    /// `true` takes the tag off the clients that carry it, then deletes it. Without it, a tag
    /// clients carry is not deleted (409 `tag_in_use`).
    pub detach: Option<bool>,
}

/// Deletes a tag nothing uses, or with `detach` one that clients carry, taking it off them.
/// Refused (`tag_in_use`) while clients carry it without `detach`, and while a saved filter or
/// a mailing yet to start names it: they name tags by value, so they must drop it first.
pub async fn delete(state: &AppState, id: TagId, detach: bool) -> Result<(), ApiError> {
    try_delete(state, id, detach)
        .await?
        .map_err(|usage| Rejection::TagInUse(usage).into())
}

/// As [`delete`], with what keeps the tag, if anything does, for a face that offers a way on.
pub async fn try_delete(
    state: &AppState,
    id: TagId,
    detach: bool,
) -> Result<Result<(), TagUse>, ApiError> {
    state
        .run(move |s| match s.delete_tag(id, detach) {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::Rejected(Rejection::TagInUse(usage))) => Ok(Err(usage)),
            Err(error) => Err(error),
        })
        .await
}

pub async fn get(state: &AppState, id: TagId) -> Result<Tag, ApiError> {
    state.run(move |s| s.get_tag(id)).await
}
