//! The flow every record page shares, written once: a list; a form that creates or edits a
//! record through the operations and either redirects with a notice or comes back with each
//! problem beside its field; and deleting, whose refusal is shown above the list. A kind of
//! record says only what is its own, by implementing [`RecordPages`].

use super::error::AdminError;
use super::field_errors::FieldErrors;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, Layout};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;
use std::fmt::Display;

/// What one kind of record brings to the shared flow.
pub trait RecordPages: Sized + 'static {
    /// Its name in notices, titles and logs, in lower case: "client filter".
    const NOUN: &'static str;
    /// Its part of the UI, which names its paths and its navigation entry: `client-filters`.
    const SECTION: &'static str;
    /// The title of its list: "Client filters".
    const LIST_TITLE: &'static str;
    type Id: Copy + Display + DeserializeOwned + 'static;
    /// What the form needs of the record it edits: its id, or the record itself where its
    /// state shapes the form.
    type Editing;
    /// The form's fields, as stored or as submitted.
    type Fields;

    async fn editing(state: &AppState, id: Self::Id) -> Result<Self::Editing, AdminError>;
    /// The form for a new record.
    fn blank(viewer: &Viewer) -> Self::Fields;
    /// The form for the record being edited.
    async fn stored(
        viewer: &Viewer,
        state: &AppState,
        editing: &Self::Editing,
    ) -> Result<Self::Fields, AdminError>;
    fn submitted(form: &Form) -> Self::Fields;
    /// The form field an API field path concerns; `None` puts its problem above the form.
    fn form_field(path: &str) -> Option<&'static str>;
    /// Stores a new record through the operations.
    async fn create(
        viewer: &Viewer,
        state: &AppState,
        fields: &Self::Fields,
    ) -> Result<Self::Id, ApiError>;
    /// Saves the form over the record edited, through the operations.
    async fn replace(
        viewer: &Viewer,
        state: &AppState,
        editing: &Self::Editing,
        fields: &Self::Fields,
    ) -> Result<Self::Id, ApiError>;
    async fn delete(state: &AppState, id: Self::Id) -> Result<(), ApiError>;
    /// Where a saved record is shown: its list, unless it has a page of its own.
    fn saved_location(_id: Self::Id) -> String {
        list_location::<Self>()
    }
    /// The title of the form: "New operator", "Edit operator".
    fn form_title(id: Option<Self::Id>) -> String {
        match id {
            Some(_) => format!("Edit {}", Self::NOUN),
            None => format!("New {}", Self::NOUN),
        }
    }
    /// The list, in the frame the shared flow made for it.
    async fn list_page(
        viewer: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError>;
    /// The form, in the frame the shared flow made for it.
    async fn form_page(
        viewer: &Viewer,
        state: &AppState,
        editing: Option<&Self::Editing>,
        fields: Self::Fields,
        frame: FormFrame,
    ) -> Result<HttpResponse, AdminError>;
}

/// What a list page starts from: the query it was asked with, and its frame, which carries
/// the notice a redirect asked for, or why an action on the list was refused.
pub struct ListFrame {
    pub query: Form,
    pub layout: Layout,
    /// What the page answers: 200, or the refusal's status.
    pub status: StatusCode,
}

/// What a form page starts from: its frame, titled for a new record or the one edited, where
/// the form posts, and the problems to show beside its fields.
pub struct FormFrame {
    pub layout: Layout,
    pub action: String,
    pub errors: FieldErrors,
}

impl FormFrame {
    /// The status the form answers: 200, or 422 when it comes back with problems.
    pub fn status(&self) -> StatusCode {
        self.errors.status()
    }
}

/// Registers a record's list, its form (new and edit), saving and deleting.
pub fn routes<R: RecordPages>(cfg: &mut web::ServiceConfig) {
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

fn list_location<R: RecordPages>() -> String {
    format!("/admin/{}", R::SECTION)
}

async fn list<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    show_list::<R>(&viewer, &state, &req, None).await
}

/// The list, with `alert` above it when an action on it was refused.
async fn show_list<R: RecordPages>(
    viewer: &Viewer,
    state: &AppState,
    req: &HttpRequest,
    alert: Option<AdminError>,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let mut layout = Layout::new(viewer, R::SECTION, R::LIST_TITLE)
        .with_notice(&view::capitalised(R::NOUN), &query);
    let status = layout.show_refusal(alert);
    let frame = ListFrame {
        query,
        layout,
        status,
    };
    R::list_page(viewer, state, frame).await
}

/// The form for a new record, or for the stored one that `record` names and describes.
async fn show_form<R: RecordPages>(
    viewer: &Viewer,
    state: &AppState,
    record: Option<(R::Id, &R::Editing)>,
    fields: R::Fields,
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let id = record.map(|(id, _)| id);
    let action = match id {
        Some(id) => format!("{}/{id}", list_location::<R>()),
        None => list_location::<R>(),
    };
    let frame = FormFrame {
        layout: Layout::new(viewer, R::SECTION, R::form_title(id)),
        action,
        errors,
    };
    let editing = record.map(|(_, editing)| editing);
    R::form_page(viewer, state, editing, fields, frame).await
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
    let editing = R::editing(&state, id).await?;
    let fields = R::stored(&viewer, &state, &editing).await?;
    let record = Some((id, &editing));
    show_form::<R>(&viewer, &state, record, fields, FieldErrors::default()).await
}

async fn create<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let fields = R::submitted(&form);
    let saved = R::create(&viewer, &state, &fields).await;
    answer_save::<R>(&viewer, &state, None, fields, saved).await
}

async fn update<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<R::Id>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    let editing = R::editing(&state, id).await?;
    let fields = R::submitted(&form);
    let saved = R::replace(&viewer, &state, &editing, &fields).await;
    answer_save::<R>(&viewer, &state, Some((id, &editing)), fields, saved).await
}

/// A saved record goes where it is shown, with a notice; a refused form comes back as typed,
/// each problem beside its field.
async fn answer_save<R: RecordPages>(
    viewer: &Viewer,
    state: &AppState,
    record: Option<(R::Id, &R::Editing)>,
    fields: R::Fields,
    saved: Result<R::Id, ApiError>,
) -> Result<HttpResponse, AdminError> {
    match saved {
        Ok(id) => {
            let done = if record.is_some() {
                "updated"
            } else {
                "created"
            };
            tracing::info!(%id, username = %viewer.username, "{} {done} in the admin UI", R::NOUN);
            Ok(view::see_other(&R::saved_location(id), "saved"))
        }
        Err(error) => {
            let errors = FieldErrors::from_api(error, R::form_field)?;
            show_form::<R>(viewer, state, record, fields, errors).await
        }
    }
}

/// Deletes a record and returns to its list; a refusal (an operator that clients use) is
/// shown above the list.
async fn delete<R: RecordPages>(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<R::Id>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    match R::delete(&state, id).await {
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
