//! Clients: the directory mailings are sent to.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::clients::{self, ClientInput, ClientListQuery, ClientPatchInput};
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::ClientId;
use mailing_domain::store::Client;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/clients")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/clients/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

#[derive(Serialize, Apiv2Schema)]
pub struct ClientBody {
    pub id: i64,
    /// `7XXXXXXXXXX`.
    pub phone_number: String,
    pub operator_code: String,
    pub tags: Vec<String>,
    /// IANA time zone name.
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Client> for ClientBody {
    fn from(client: Client) -> Self {
        Self {
            id: client.id.0,
            phone_number: client.phone.as_str().to_owned(),
            operator_code: client.operator_code.as_str().to_owned(),
            tags: client.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            time_zone: client.time_zone.name().to_owned(),
            created_at: client.created_at,
            updated_at: client.updated_at,
        }
    }
}

page_of!(ClientPage, ClientBody);

/// List clients
///
/// Filter by operator code, tag and phone prefix; all given conditions must hold.
#[api_v2_operation(operation_id = "listClients", tags(Clients))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ClientListQuery>,
) -> Result<web::Json<ClientPage>, ApiError> {
    let (filter, paging) = query.0.parse()?;
    let page = state
        .run(move |s| s.list_clients(&filter, paging.request()))
        .await?;
    Ok(web::Json(ClientPage::new(page, paging)))
}

/// Create a client
#[api_v2_operation(operation_id = "createClient", tags(Clients))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<ClientInput>,
) -> Result<CreatedJson<ClientBody>, ApiError> {
    let client = clients::create(&state, body.0).await?;
    Ok(CreatedJson(client.into()))
}

/// Get a client
#[api_v2_operation(operation_id = "getClient", tags(Clients))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ClientBody>, ApiError> {
    let id = ClientId(id.into_inner());
    let client = clients::get(&state, id).await?;
    Ok(web::Json(client.into()))
}

/// Replace a client
#[api_v2_operation(operation_id = "replaceClient", tags(Clients))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientInput>,
) -> Result<web::Json<ClientBody>, ApiError> {
    let client = clients::replace(&state, ClientId(id.into_inner()), body.0).await?;
    Ok(web::Json(client.into()))
}

/// Update some fields of a client
#[api_v2_operation(operation_id = "updateClient", tags(Clients))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientPatchInput>,
) -> Result<web::Json<ClientBody>, ApiError> {
    let client = clients::patch(&state, ClientId(id.into_inner()), body.0).await?;
    Ok(web::Json(client.into()))
}

/// Delete a client
///
/// The client's unsent messages are cancelled; sent ones stay in the statistics.
#[api_v2_operation(operation_id = "deleteClient", tags(Clients))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    clients::delete(&state, ClientId(id.into_inner())).await?;
    Ok(NoContent)
}
