//! Clients: the directory mailings are sent to.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::clients::{self, ClientInput, ClientListQuery, ClientPatchInput};
use crate::operations::paging::Paging;
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
    /// Facts to filter by, e.g. `{"city": "Kazan", "vip": true, "age": 30}`; `{}` when none.
    pub attributes: serde_json::Value,
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
            attributes: client.attributes.to_json(),
            created_at: client.created_at,
            updated_at: client.updated_at,
        }
    }
}

/// One page of clients. Unlike other lists, it can be walked with a cursor, and its total of a
/// long list is estimated.
#[derive(Serialize, Apiv2Schema)]
pub struct ClientPage {
    pub items: Vec<ClientBody>,
    /// The page returned, from 1; a page reached by `cursor` counts as 1.
    pub page: u32,
    pub page_size: u32,
    /// Clients in the whole list, over all pages: exact up to 1,000; beyond, when
    /// `total_estimated` is true, an estimate extrapolated from the first 1,001 matches
    /// (close when matches are spread evenly over the clients' age).
    pub total: u64,
    pub total_estimated: bool,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl ClientPage {
    pub fn new(page: mailing_domain::store::ClientPage, paging: Paging) -> Self {
        let next_cursor = page
            .more
            .then(|| {
                page.items
                    .last()
                    .map(|client| clients::cursor_of(client.id))
            })
            .flatten();
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            page: paging.page,
            page_size: paging.page_size,
            total: page.total,
            total_estimated: page.total_estimated,
            next_cursor,
        }
    }
}

/// List clients
///
/// Filter by operator code, tag, phone prefix and attribute values (`attr.<key>=<value>`); all
/// given conditions must hold. Walk long lists with `cursor`: each page answers a
/// `next_cursor`, and a page reached by it costs the same however deep. `page` still works but
/// gets slower the deeper it goes. `total` is exact up to 1,000 clients and estimated beyond,
/// which `total_estimated` says.
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
