//! People's accounts and their roles (admins only).

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::paging::ListQuery;
use crate::operations::users::{self, UserInput, UserPatchInput};
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::UserId;
use mailing_domain::store::User;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/users/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

#[derive(Serialize, Apiv2Schema)]
pub struct UserBody {
    pub id: i64,
    pub username: String,
    /// `admin`, `manager` or `viewer`.
    pub role: String,
    /// A disabled account cannot sign in; its sessions and tokens ended when it was disabled.
    pub disabled: bool,
    /// Whether the account has a password.
    pub has_password: bool,
    /// Whether the OpenID provider created the account; its role follows the provider's
    /// groups at every sign-in.
    pub single_sign_on: bool,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            username: user.username,
            role: user.role.as_str().to_owned(),
            disabled: user.disabled,
            has_password: user.password_hash.is_some(),
            single_sign_on: user.oidc.is_some(),
            created_at: user.created_at,
            last_sign_in_at: user.last_sign_in_at,
        }
    }
}

page_of!(UserPage, UserBody);

/// List accounts
#[api_v2_operation(operation_id = "listUsers", tags(Access))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    let paging = query.0.paging()?;
    let found = users::list(&state, paging).await?;
    Ok(web::Json(UserPage::new(found, paging)))
}

/// Create an account
///
/// With a password, the account signs in with it; without one, only through single sign-on.
#[api_v2_operation(operation_id = "createUser", tags(Access))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<UserInput>,
) -> Result<CreatedJson<UserBody>, ApiError> {
    let user = users::create(&state, body.0).await?;
    Ok(CreatedJson(user.into()))
}

/// Get an account
#[api_v2_operation(operation_id = "getUser", tags(Access))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<UserBody>, ApiError> {
    let user = users::get(&state, UserId(id.into_inner())).await?;
    Ok(web::Json(user.into()))
}

/// Change an account's role, password or whether it is disabled
///
/// Disabling ends the account's sessions and tokens at once. The configured admin account, and
/// one's own role and access, cannot be changed here (409).
#[api_v2_operation(operation_id = "updateUser", tags(Access))]
pub async fn patch(
    auth: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UserPatchInput>,
) -> Result<web::Json<UserBody>, ApiError> {
    let user = users::change(&state, &auth.caller, UserId(id.into_inner()), body.0).await?;
    Ok(web::Json(user.into()))
}

/// Delete an account
///
/// Ends its sessions and tokens at once. The audit log keeps its entries.
#[api_v2_operation(operation_id = "deleteUser", tags(Access))]
pub async fn delete(
    auth: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    users::delete(&state, &auth.caller, UserId(id.into_inner())).await?;
    Ok(NoContent)
}
