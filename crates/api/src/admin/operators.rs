//! Operators: list, create, edit, delete.

use super::error::AdminError;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, FieldErrors, Layout, Pager, base_field};
use crate::operations::operators::{self, OperatorInput};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use mailing_domain::OperatorId;
use mailing_domain::store::Operator;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/operators", web::get().to(list))
        .route("/operators", web::post().to(create))
        .route("/operators/new", web::get().to(new))
        .route("/operators/{id}", web::post().to(update))
        .route("/operators/{id}/edit", web::get().to(edit))
        .route("/operators/{id}/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "admin/operators.html")]
struct ListPage {
    layout: Layout,
    operators: Vec<Operator>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "admin/operator_form.html")]
struct FormPage {
    layout: Layout,
    /// Where the form posts.
    action: String,
    code: String,
    name: String,
    errors: FieldErrors,
}

async fn list(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    list_page(&viewer, &state, &req, None).await
}

/// The list, with `alert` above it when an action on it was refused.
async fn list_page(
    viewer: &Viewer,
    state: &AppState,
    req: &HttpRequest,
    alert: Option<AdminError>,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let page = query.page();
    let operators = state
        .run(move |s| s.list_operators(Pager::request(page)))
        .await?;
    let mut layout = Layout::new(viewer, "operators", "Operators").with_notice("Operator", &query);
    let status = layout.show_refusal(alert);
    view::render(
        status,
        &ListPage {
            layout,
            pager: Pager::new(page, operators.total, &[]),
            operators: operators.items,
        },
    )
}

async fn new(viewer: Viewer) -> Result<HttpResponse, AdminError> {
    form_page(
        &viewer,
        None,
        String::new(),
        String::new(),
        FieldErrors::default(),
    )
}

async fn edit(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let id = OperatorId(id.into_inner());
    let operator = state.run(move |s| s.get_operator(id)).await?;
    form_page(
        &viewer,
        Some(id),
        operator.code.as_str().to_owned(),
        operator.name.as_str().to_owned(),
        FieldErrors::default(),
    )
}

fn form_page(
    viewer: &Viewer,
    id: Option<OperatorId>,
    code: String,
    name: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let (title, action) = match id {
        Some(id) => ("Edit operator", format!("/admin/operators/{}", id.0)),
        None => ("New operator", "/admin/operators".to_owned()),
    };
    view::render(
        errors.status(),
        &FormPage {
            layout: Layout::new(viewer, "operators", title),
            action,
            code,
            name,
            errors,
        },
    )
}

fn form_field(path: &str) -> Option<&'static str> {
    match base_field(path) {
        "code" => Some("code"),
        "name" => Some("name"),
        _ => None,
    }
}

async fn create(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    save(viewer, state, None, body).await
}

async fn update(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    save(viewer, state, Some(OperatorId(id.into_inner())), body).await
}

/// The form shows both fields, so saving an existing operator replaces both.
async fn save(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: Option<OperatorId>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let input = OperatorInput {
        code: form.value("code").to_owned(),
        name: form.value("name").to_owned(),
    };
    let saved = match id {
        Some(id) => operators::replace(&state, id, input).await,
        None => operators::create(&state, input).await,
    };
    match saved {
        Ok(operator) => {
            tracing::info!(operator_id = operator.id.0, username = %viewer.username, "operator saved in the admin UI");
            Ok(view::see_other("/admin/operators", "saved"))
        }
        Err(error) => form_page(
            &viewer,
            id,
            form.value("code").to_owned(),
            form.value("name").to_owned(),
            FieldErrors::from_api(error, form_field)?,
        ),
    }
}

async fn delete(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = OperatorId(id.into_inner());
    match operators::delete(&state, id).await {
        Ok(()) => {
            tracing::info!(operator_id = id.0, username = %viewer.username, "operator deleted in the admin UI");
            Ok(view::see_other("/admin/operators", "deleted"))
        }
        Err(error) => {
            let error = AdminError::from(error);
            if let AdminError::Refused { .. } = error {
                list_page(&viewer, &state, &req, Some(error)).await
            } else {
                Err(error)
            }
        }
    }
}
