//! The accounts page.

use super::{caller, created, everyone, role_choices};
use crate::admin::catalog::Choice;
use crate::admin::error::AdminError;
use crate::admin::field_errors::FieldErrors;
use crate::admin::form::Form;
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout};
use crate::operations::input::{Field, Required, UnknownFields};
use crate::operations::users::{self, UserInput, UserPatchInput};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use mailing_domain::UserId;

struct UserRow {
    id: i64,
    username: String,
    role: String,
    roles: Vec<Choice>,
    signs_in_with: String,
    disabled: bool,
    last_sign_in: String,
    /// The configured account, or the viewer's own: shown, not changed here.
    fixed: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    rows: Vec<UserRow>,
    username: String,
    roles: Vec<Choice>,
    errors: FieldErrors,
}

pub(super) async fn page(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let layout = Layout::new(&viewer, "users", "Users").with_notice("User", &query);
    show_users(
        &viewer,
        &state,
        layout,
        String::new(),
        "viewer",
        FieldErrors::default(),
    )
    .await
}

async fn show_users(
    viewer: &Viewer,
    state: &AppState,
    layout: Layout,
    username: String,
    role: &str,
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let clock = Clock(viewer.zone);
    let rows = users::list(state, everyone())
        .await?
        .items
        .into_iter()
        .map(|user| UserRow {
            id: user.id.0,
            fixed: if user.username == state.admin_username {
                Some("set by the configuration")
            } else if user.username == viewer.username {
                Some("your account")
            } else {
                None
            },
            roles: role_choices(user.role.as_str()),
            role: user.role.as_str().to_owned(),
            signs_in_with: match (user.password_hash.is_some(), user.oidc.is_some()) {
                (true, true) => "password, single sign-on",
                (false, true) => "single sign-on",
                (true, false) => "password",
                (false, false) => "single sign-on (once set up)",
            }
            .to_owned(),
            disabled: user.disabled,
            last_sign_in: user
                .last_sign_in_at
                .map_or_else(|| "never".to_owned(), |at| clock.minute(at)),
            username: user.username,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        errors.status()
    };
    view::render(
        status,
        &UsersPage {
            layout,
            rows,
            username,
            roles: role_choices(role),
            errors,
        },
    )
}

fn user_field(path: &str) -> Option<&'static str> {
    match path {
        "username" => Some("username"),
        "role" => Some("role"),
        "password" => Some("password"),
        _ => None,
    }
}

fn given(value: &str) -> Field<String> {
    if value.is_empty() {
        Field::absent()
    } else {
        Field::value(value.to_owned())
    }
}

pub(super) async fn create(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let username = form.value("username").trim().to_owned();
    let role = form.value("role").to_owned();
    let input = UserInput {
        username: Required::value(username.clone()),
        role: Required::value(role.clone()),
        password: given(form.value("password")),
        unknown: UnknownFields::default(),
    };
    match users::create(&state, input).await {
        Ok(user) => {
            created(&req, user.id.0);
            Ok(view::see_other("/admin/users", "saved"))
        }
        Err(error) => {
            let errors = FieldErrors::from_api(error, user_field, &[])?;
            let layout = Layout::new(&viewer, "users", "Users");
            show_users(&viewer, &state, layout, username, &role, errors).await
        }
    }
}

/// The largest page: a team's accounts and keys fit on one.
/// Saves a change to an account; a refusal (the configured account, one's own) is shown above
/// the list.
async fn change_user(
    viewer: Viewer,
    state: &AppState,
    req: &HttpRequest,
    id: i64,
    patch: UserPatchInput,
) -> Result<HttpResponse, AdminError> {
    let caller = caller(req)?;
    let done = users::change(state, &caller, UserId(id), patch).await;
    user_changed(viewer, state, done.map(|_| "saved")).await
}

/// Back to the list with a notice, or the list with the refusal above it.
async fn user_changed(
    viewer: Viewer,
    state: &AppState,
    done: Result<&'static str, crate::error::ApiError>,
) -> Result<HttpResponse, AdminError> {
    match done {
        Ok(notice) => Ok(view::see_other("/admin/users", notice)),
        Err(error) => {
            let mut layout = Layout::new(&viewer, "users", "Users");
            let status = layout.show_refusal(Some(AdminError::refusal(error)?));
            let form = FieldErrors::default();
            let mut page =
                show_users(&viewer, state, layout, String::new(), "viewer", form).await?;
            *page.status_mut() = status;
            Ok(page)
        }
    }
}

fn patch(role: Option<String>, disabled: Option<bool>) -> UserPatchInput {
    UserPatchInput {
        role: Field::from_option(role),
        disabled: Field::from_option(disabled),
        password: Field::absent(),
        unknown: UnknownFields::default(),
    }
}

pub(super) async fn change_role(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let role = form.value("role").to_owned();
    change_user(
        viewer,
        &state,
        &req,
        id.into_inner(),
        patch(Some(role), None),
    )
    .await
}

pub(super) async fn disable(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    change_user(
        viewer,
        &state,
        &req,
        id.into_inner(),
        patch(None, Some(true)),
    )
    .await
}

pub(super) async fn enable(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    change_user(
        viewer,
        &state,
        &req,
        id.into_inner(),
        patch(None, Some(false)),
    )
    .await
}

pub(super) async fn delete(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let caller = caller(&req)?;
    let done = users::delete(&state, &caller, UserId(id.into_inner())).await;
    user_changed(viewer, &state, done.map(|()| "deleted")).await
}
