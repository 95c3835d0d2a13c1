//! Saved client filters, for mailings to reuse.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::client_filters::{self, ClientFilterInput, ClientFilterPatchInput};
use crate::operations::paging::ListQuery;
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::SavedFilter;
use mailing_domain::{ClientFilter, ClientFilterId};
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/client-filters")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/client-filters/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

/// Which clients a mailing reaches. A client matches when (no operator codes are given OR its
/// operator code is listed) AND (no tags are given OR it has at least one listed tag) AND it
/// holds every attribute value given.
#[derive(Debug, Clone, Serialize, Apiv2Schema)]
pub struct FilterBody {
    pub operator_codes: Vec<String>,
    pub tags: Vec<String>,
    /// Attribute values a client must hold, all of them; `{}` when attributes do not matter.
    pub attributes: serde_json::Value,
}

impl From<&ClientFilter> for FilterBody {
    fn from(filter: &ClientFilter) -> Self {
        Self {
            operator_codes: filter
                .operator_codes()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: filter.tags().map(|t| t.as_str().to_owned()).collect(),
            attributes: filter.attributes().to_json(),
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct ClientFilterBody {
    pub id: i64,
    pub name: Option<String>,
    pub operator_codes: Vec<String>,
    pub tags: Vec<String>,
    /// Attribute values a client must hold, all of them; `{}` when attributes do not matter.
    pub attributes: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SavedFilter> for ClientFilterBody {
    fn from(saved: SavedFilter) -> Self {
        let FilterBody {
            operator_codes,
            tags,
            attributes,
        } = FilterBody::from(&saved.filter);
        Self {
            id: saved.id.0,
            name: saved.name,
            operator_codes,
            tags,
            attributes,
            created_at: saved.created_at,
            updated_at: saved.updated_at,
        }
    }
}

page_of!(ClientFilterPage, ClientFilterBody);

/// List saved client filters
#[api_v2_operation(operation_id = "listClientFilters", tags(ClientFilters))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<ClientFilterPage>, ApiError> {
    let paging = query.0.paging()?;
    let page = state
        .run(move |s| s.list_client_filters(paging.request()))
        .await?;
    Ok(web::Json(ClientFilterPage::new(page, paging)))
}

/// Save a client filter
#[api_v2_operation(operation_id = "createClientFilter", tags(ClientFilters))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<ClientFilterInput>,
) -> Result<CreatedJson<ClientFilterBody>, ApiError> {
    let saved = client_filters::create(&state, body.0).await?;
    Ok(CreatedJson(saved.into()))
}

/// Get a saved client filter
#[api_v2_operation(operation_id = "getClientFilter", tags(ClientFilters))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ClientFilterBody>, ApiError> {
    let id = ClientFilterId(id.into_inner());
    let saved = client_filters::get(&state, id).await?;
    Ok(web::Json(saved.into()))
}

/// Replace a saved client filter
///
/// Mailings created from it keep the copy they took.
#[api_v2_operation(operation_id = "replaceClientFilter", tags(ClientFilters))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientFilterInput>,
) -> Result<web::Json<ClientFilterBody>, ApiError> {
    let saved = client_filters::replace(&state, ClientFilterId(id.into_inner()), body.0).await?;
    Ok(web::Json(saved.into()))
}

/// Update some fields of a saved client filter
///
/// Mailings created from it keep the copy they took.
#[api_v2_operation(operation_id = "updateClientFilter", tags(ClientFilters))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientFilterPatchInput>,
) -> Result<web::Json<ClientFilterBody>, ApiError> {
    let saved = client_filters::patch(&state, ClientFilterId(id.into_inner()), body.0).await?;
    Ok(web::Json(saved.into()))
}

/// Delete a saved client filter
///
/// Mailings created from it keep their copy of the filter.
#[api_v2_operation(operation_id = "deleteClientFilter", tags(ClientFilters))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    client_filters::delete(&state, ClientFilterId(id.into_inner())).await?;
    Ok(NoContent)
}
