//! The flow every record page shares, written once: a list; a form that creates or edits a
//! record through the operations and either redirects with a notice or comes back with each
//! problem beside its field; and deleting, whose refusal is shown above the list.

use super::frame::{FormFrame, FormParts, ListFrame};
use super::{ListPage, RecordPages, Resource, list_location};
use crate::admin::error::AdminError;
use crate::admin::field_errors::FieldErrors;
use crate::admin::form::Form;
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::HttpMessage as _;
use actix_web::{HttpRequest, HttpResponse, web};

/// Registers a record's list, its form (new and edit), saving and deleting.
pub fn routes<R: RecordPages + ListPage>(cfg: &mut web::ServiceConfig) {
    let list_path = format!("/{}", R::SECTION);
    cfg.route(&list_path, web::get().to(list::<R>))
        .route(&list_path, web::post().to(create::<R>))
        .route(&format!("{list_path}/new"), web::get().to(new::<R>))
        .route(&format!("{list_path}/{{id}}"), web::post().to(update::<R>))
        .route(
            &format!("{list_path}/{{id}}/edit"),
            web::get().to(edit::<R>),
        )
        .route(
            &format!("{list_path}/{{id}}/delete"),
            web::post().to(delete::<R>),
        );
}

async fn list<R: RecordPages + ListPage>(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    show_list::<R>(&viewer, &state, &req, None).await
}

/// The list, with `alert` above it when an action on it was refused.
async fn show_list<R: RecordPages + ListPage>(
    viewer: &Viewer,
    state: &AppState,
    req: &HttpRequest,
    alert: Option<AdminError>,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let mut layout = Layout::new(viewer, R::SECTION, list_title::<R>())
        .with_notice(&view::capitalised(R::NOUN), &query);
    let status = layout.show_refusal(alert);
    let frame = ListFrame {
        query,
        layout,
        status,
    };
    R::list_page(viewer, state, frame).await
}

/// The list's title, which is its section in words: "Client filters".
fn list_title<R: RecordPages>() -> String {
    view::capitalised(&R::SECTION.replace('-', " "))
}

/// The form for a new record, or for the stored one `editing` names.
async fn show_form<R: RecordPages>(
    viewer: &Viewer,
    state: &AppState,
    editing: Option<(R::Id, &R::Stored)>,
    fields: R,
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let id = editing.map(|(id, _)| id);
    let action = match id {
        Some(id) => format!("{}/{id}", list_location::<R>()),
        None => list_location::<R>(),
    };
    let frame = FormFrame {
        layout: Layout::new(viewer, R::SECTION, R::form_title(id)),
        clock: Clock(viewer.zone),
        form: FormParts {
            action,
            errors,
            list: list_title::<R>().to_lowercase(),
        },
        stored: editing.map(|(_, stored)| stored),
        state,
    };
    fields.form_page(frame).await
}

async fn new<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let fields = R::blank(&viewer);
    show_form::<R>(&viewer, &state, None, fields, FieldErrors::default()).await
}

async fn edit<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<R::Id>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let stored = R::operations().get(&state, id).await?;
    let fields = R::stored(&viewer, &stored);
    let editing = Some((id, &stored));
    show_form::<R>(&viewer, &state, editing, fields, FieldErrors::default()).await
}

async fn create<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    save::<R>(&viewer, &state, &req, None, R::submitted(&form)).await
}

async fn update<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<R::Id>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    let stored = R::operations().get(&state, id).await?;
    save::<R>(
        &viewer,
        &state,
        &req,
        Some((id, &stored)),
        R::submitted(&form),
    )
    .await
}

/// Saves the form through the operations. A saved record goes where it is shown, with a
/// notice; a refused form comes back as typed, each problem beside its field.
async fn save<R: RecordPages>(
    viewer: &Viewer,
    state: &AppState,
    req: &HttpRequest,
    editing: Option<(R::Id, &R::Stored)>,
    fields: R,
) -> Result<HttpResponse, AdminError> {
    match store(viewer, state, editing, &fields).await {
        Ok(saved) => {
            let id = R::id(&saved);
            let done = if editing.is_some() {
                "updated"
            } else {
                // The redirect goes to the list, so the audit log learns the id here.
                req.extensions_mut()
                    .insert(crate::audit::Created(id.to_string()));
                "created"
            };
            tracing::info!(%id, username = %viewer.username, "{} {done} in the admin UI", R::NOUN);
            Ok(view::see_other(&R::saved_location(id), "saved"))
        }
        Err(error) => {
            let errors = FieldErrors::from_api(error, R::form_field, R::LABELS)?;
            show_form::<R>(viewer, state, editing, fields, errors).await
        }
    }
}

async fn store<R: RecordPages>(
    viewer: &Viewer,
    state: &AppState,
    editing: Option<(R::Id, &R::Stored)>,
    fields: &R,
) -> Result<R::Stored, ApiError> {
    let input = fields.input(viewer, editing.map(|(_, stored)| stored))?;
    R::operations()
        .save(state, editing.map(|(id, _)| id), input)
        .await
}

/// Deletes a record and returns to its list; a refusal (an operator that clients use) is
/// shown above the list.
async fn delete<R: RecordPages + ListPage>(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<R::Id>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    match R::operations().delete(&state, id).await {
        Ok(()) => {
            tracing::info!(%id, username = %viewer.username, "{} deleted in the admin UI", R::NOUN);
            Ok(view::see_other(&list_location::<R>(), "deleted"))
        }
        Err(error) => {
            let refusal = AdminError::refusal(error)?;
            show_list::<R>(&viewer, &state, &req, Some(refusal)).await
        }
    }
}
