//! The audit log page.

use crate::admin::error::AdminError;
use crate::admin::field_errors::FieldErrors;
use crate::admin::form::Form;
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout, Pager};
use crate::operations::audit_log::AuditLogQuery;
use crate::operations::input::QueryValue;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

struct AuditRow {
    time: String,
    actor: String,
    signed_in_with: String,
    interface: String,
    action: String,
    resource: String,
    changes: String,
    request_id: String,
    client_address: String,
}

#[derive(Template)]
#[template(path = "admin/audit_log.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<AuditRow>,
    pager: Pager,
    actor: String,
    resource: String,
    resource_id: String,
    errors: FieldErrors,
}

pub(super) async fn page(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let form = Form::parse(req.query_string().as_bytes());
    let layout = Layout::new(&viewer, "audit-log", "Audit log");
    let clock = Clock(viewer.zone);
    let text = |name: &str| form.value(name).trim().to_owned();
    let (actor, resource, resource_id) = (text("actor"), text("resource"), text("resource_id"));
    let nonempty = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    let parsed = AuditLogQuery {
        page: Some(QueryValue::of(form.page())),
        page_size: Some(QueryValue::of(Pager::PAGE_SIZE)),
        actor: nonempty(&actor),
        resource: nonempty(&resource),
        resource_id: nonempty(&resource_id),
        since: None,
        until: None,
    }
    .parse();
    let (query, paging) = parsed?;
    let page = state
        .run(move |s| s.list_audit(&query, paging.request()))
        .await?;
    let rows = page
        .items
        .into_iter()
        .map(|entry| {
            let e = entry.entry;
            AuditRow {
                time: clock.second(e.at),
                actor: match e.actor_kind {
                    mailing_domain::store::ActorKind::User => e.actor,
                    mailing_domain::store::ActorKind::ApiKey => format!("API key {}", e.actor),
                },
                signed_in_with: e.signed_in_with.as_str().replace('_', " "),
                interface: match e.interface.as_str() {
                    "admin_ui" => "admin UI".to_owned(),
                    _ => "API".to_owned(),
                },
                action: e.action.replace('_', " "),
                resource: match e.resource_id {
                    Some(id) => format!("{} #{id}", e.resource),
                    None => e.resource,
                },
                changes: match &e.changes {
                    serde_json::Value::Object(members) if members.is_empty() => String::new(),
                    other => other.to_string(),
                },
                request_id: e.request_id,
                client_address: e.client_address,
            }
        })
        .collect();
    view::render_ok(&AuditPage {
        layout,
        rows,
        pager: Pager::new(
            form.page(),
            page.total,
            &[
                ("actor", &actor),
                ("resource", &resource),
                ("resource_id", &resource_id),
            ],
        ),
        actor,
        resource,
        resource_id,
        errors: FieldErrors::default(),
    })
}
