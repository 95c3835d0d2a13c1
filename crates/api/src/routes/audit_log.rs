//! The audit log (admins only).

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::operations::audit_log::AuditLogQuery;
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::AuditEntry;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit-log").route(web::get().to(list)));
}

#[derive(Serialize, Apiv2Schema)]
pub struct AuditActor {
    /// `user` or `api_key`.
    pub kind: String,
    /// The username or the key's name.
    pub name: String,
    pub id: i64,
    /// `password`, `oidc` or `api_key`.
    pub signed_in_with: String,
}

#[derive(Serialize, Apiv2Schema)]
pub struct AuditEntryBody {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: AuditActor,
    /// `api` or `admin_ui`.
    pub interface: String,
    /// `create`, `update`, `replace`, `delete`, `pause`, `sign_in`, ...
    pub action: String,
    /// As the API's path names it: `mailings`, `clients`, `users`, `session`, ...
    pub resource: String,
    pub resource_id: Option<String>,
    /// The fields the request sent, secrets masked.
    pub changes: serde_json::Value,
    /// The request's `X-Request-Id`, as its log lines carry it.
    pub request_id: String,
    pub client_address: String,
}

impl From<AuditEntry> for AuditEntryBody {
    fn from(entry: AuditEntry) -> Self {
        let AuditEntry { id, entry } = entry;
        Self {
            id,
            at: entry.at,
            actor: AuditActor {
                kind: entry.actor_kind.as_str().to_owned(),
                name: entry.actor,
                id: entry.actor_id,
                signed_in_with: entry.signed_in_with.as_str().to_owned(),
            },
            interface: entry.interface,
            action: entry.action,
            resource: entry.resource,
            resource_id: entry.resource_id,
            changes: entry.changes,
            request_id: entry.request_id,
            client_address: entry.client_address,
        }
    }
}

page_of!(AuditLogPage, AuditEntryBody);

/// Read the audit log
///
/// Every change made through the API or the admin UI, and every sign-in and sign-out, newest
/// first. Nothing can change or remove an entry.
#[api_v2_operation(operation_id = "listAuditLog", tags(Access))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<AuditLogQuery>,
) -> Result<web::Json<AuditLogPage>, ApiError> {
    let (query, paging) = query.0.parse()?;
    let page = state
        .run(move |s| s.list_audit(&query, paging.request()))
        .await?;
    Ok(web::Json(AuditLogPage::new(page, paging)))
}
