//! Integrators' API keys (admins only).

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::api_keys::{self, ApiKeyInput};
use crate::operations::paging::ListQuery;
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::ApiKeyId;
use mailing_domain::store::ApiKey;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api-keys")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/api-keys/{id}").route(web::delete().to(delete)));
}

#[derive(Serialize, Apiv2Schema)]
pub struct ApiKeyBody {
    pub id: i64,
    pub name: String,
    /// The key's first 12 characters, to recognise it by.
    pub prefix: String,
    /// `admin`, `manager` or `viewer`.
    pub role: String,
    /// The account that created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// `null`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// To the minute; `null`: never used.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyBody {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.0,
            name: key.name,
            prefix: key.prefix,
            role: key.role.as_str().to_owned(),
            created_by: key.created_by,
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct CreatedApiKey {
    /// The key itself, to send as `Authorization: Bearer <key>`. Shown only now: only its hash
    /// is stored.
    pub key: String,
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

page_of!(ApiKeyPage, ApiKeyBody);

/// List API keys
#[api_v2_operation(operation_id = "listApiKeys", tags(Access))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<ApiKeyPage>, ApiError> {
    let paging = query.0.paging()?;
    let found = api_keys::list(&state, paging).await?;
    Ok(web::Json(ApiKeyPage::new(found, paging)))
}

/// Create an API key
///
/// The answer carries the key once; store it where the integration keeps its secrets.
#[api_v2_operation(operation_id = "createApiKey", tags(Access))]
pub async fn create(
    auth: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<ApiKeyInput>,
) -> Result<CreatedJson<CreatedApiKey>, ApiError> {
    let created = api_keys::create(&state, &auth.caller, body.0).await?;
    let key = created.key;
    Ok(CreatedJson(CreatedApiKey {
        key: created.secret,
        id: key.id.0,
        name: key.name,
        prefix: key.prefix,
        role: key.role.as_str().to_owned(),
        created_by: key.created_by,
        created_at: key.created_at,
        expires_at: key.expires_at,
    }))
}

/// Revoke an API key
///
/// The key is refused from the next request on, by every replica.
#[api_v2_operation(operation_id = "deleteApiKey", tags(Access))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    api_keys::delete(&state, ApiKeyId(id.into_inner())).await?;
    Ok(NoContent)
}
