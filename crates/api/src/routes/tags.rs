//! Tags: free-form labels on clients.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::paging::ListQuery;
use crate::operations::tags::{self, TagDeleteQuery, TagInput, TagPatchInput};
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::TagId;
use mailing_domain::store::Tag;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tags")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/tags/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

#[derive(Serialize, Apiv2Schema)]
pub struct TagBody {
    pub id: i64,
    pub value: String,
    pub created_at: DateTime<Utc>,
}

impl From<Tag> for TagBody {
    fn from(tag: Tag) -> Self {
        Self {
            id: tag.id.0,
            value: tag.value.as_str().to_owned(),
            created_at: tag.created_at,
        }
    }
}

page_of!(TagPage, TagBody);

/// List tags
#[api_v2_operation(operation_id = "listTags", tags(Tags))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<TagPage>, ApiError> {
    let paging = query.0.paging()?;
    let page = state.run(move |s| s.list_tags(paging.request())).await?;
    Ok(web::Json(TagPage::new(page, paging)))
}

/// Create a tag
#[api_v2_operation(operation_id = "createTag", tags(Tags))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<TagInput>,
) -> Result<CreatedJson<TagBody>, ApiError> {
    let tag = tags::create(&state, body.0).await?;
    Ok(CreatedJson(tag.into()))
}

/// Get a tag
#[api_v2_operation(operation_id = "getTag", tags(Tags))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<TagBody>, ApiError> {
    let id = TagId(id.into_inner());
    let tag = tags::get(&state, id).await?;
    Ok(web::Json(tag.into()))
}

/// Rename a tag
///
/// Clients carrying the tag carry the new value.
#[api_v2_operation(operation_id = "replaceTag", tags(Tags))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<TagInput>,
) -> Result<web::Json<TagBody>, ApiError> {
    let tag = tags::rename(&state, TagId(id.into_inner()), body.0).await?;
    Ok(web::Json(tag.into()))
}

/// Update some fields of a tag
#[api_v2_operation(operation_id = "updateTag", tags(Tags))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<TagPatchInput>,
) -> Result<web::Json<TagBody>, ApiError> {
    let tag = tags::patch(&state, TagId(id.into_inner()), body.0).await?;
    Ok(web::Json(tag.into()))
}

/// Delete a tag
///
/// Refused (409 `tag_in_use`) while clients carry the tag; `?detach=true` takes it off them and
/// deletes it. Refused either way while a saved client filter, or a mailing that has not
/// started, names the tag: the message names them, to change first.
#[api_v2_operation(operation_id = "deleteTag", tags(Tags))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: QueryParams<TagDeleteQuery>,
) -> Result<NoContent, ApiError> {
    let detach = query.0.detach.unwrap_or(false);
    tags::delete(&state, TagId(id.into_inner()), detach).await?;
    Ok(NoContent)
}
