//! Who may use the service, for admins: the accounts with their roles (create, change a role,
//! disable, delete), the integrators' API keys (create, shown once; revoke) and the audit log
//! with its filters. Every page saves through the same [`crate::operations`] as `/api/v1/users`,
//! `/api/v1/api-keys` and `/api/v1/audit-log`.

mod api_keys;
mod audit_log;
mod users;

use super::catalog::Choice;
use super::error::AdminError;
use crate::audit;
use crate::auth::Caller;
use crate::operations::paging::{MAX_PAGE_SIZE, Paging};
use actix_web::{HttpMessage as _, HttpRequest, web};
use mailing_domain::Role;

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(users::page))
        .route("/users", web::post().to(users::create))
        .route("/users/{id}/role", web::post().to(users::change_role))
        .route("/users/{id}/disable", web::post().to(users::disable))
        .route("/users/{id}/enable", web::post().to(users::enable))
        .route("/users/{id}/delete", web::post().to(users::delete))
        .route("/api-keys", web::get().to(api_keys::page))
        .route("/api-keys", web::post().to(api_keys::create))
        .route("/api-keys/{id}/delete", web::post().to(api_keys::delete))
        .route("/audit-log", web::get().to(audit_log::page));
}

pub(super) fn role_choices(selected: &str) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|role| Choice {
            value: role.as_str().to_owned(),
            label: role.as_str().to_owned(),
            checked: role.as_str() == selected,
        })
        .collect()
}

pub(super) fn everyone() -> Paging {
    Paging {
        page: 1,
        page_size: MAX_PAGE_SIZE,
    }
}

/// Tells the audit log which record a create made.
pub(super) fn created(req: &HttpRequest, id: i64) {
    req.extensions_mut().insert(audit::Created(id.to_string()));
}

/// The viewer as the operations' caller.
pub(super) fn caller(req: &HttpRequest) -> Result<Caller, AdminError> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| AdminError::Internal("the caller is unknown".into()))
}
