//! Who may use the service, for admins: the accounts with their roles (create, change a role,
//! disable, delete), the integrators' API keys (create, shown once; revoke) and the audit log
//! with its filters. Every page saves through the same [`crate::operations`] as `/api/v1/users`,
//! `/api/v1/api-keys` and `/api/v1/audit-log`.

use super::catalog::Choice;
use super::error::AdminError;
use super::field_errors::FieldErrors;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, Clock, Layout, Pager};
use crate::audit;
use crate::auth::Caller;
use crate::operations::api_keys::{self, ApiKeyInput};
use crate::operations::audit_log::AuditLogQuery;
use crate::operations::input::{Field, QueryValue, Required, UnknownFields};
use crate::operations::paging::{MAX_PAGE_SIZE, Paging};
use crate::operations::users::{self, UserInput, UserPatchInput};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::{ApiKeyId, Role, UserId};

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(users_page))
        .route("/users", web::post().to(create_user))
        .route("/users/{id}/role", web::post().to(change_role))
        .route("/users/{id}/disable", web::post().to(disable_user))
        .route("/users/{id}/enable", web::post().to(enable_user))
        .route("/users/{id}/delete", web::post().to(delete_user))
        .route("/api-keys", web::get().to(keys_page))
        .route("/api-keys", web::post().to(create_key))
        .route("/api-keys/{id}/delete", web::post().to(delete_key))
        .route("/audit-log", web::get().to(audit_page));
}

fn role_choices(selected: &str) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|role| Choice {
            value: role.as_str().to_owned(),
            label: role.as_str().to_owned(),
            checked: role.as_str() == selected,
        })
        .collect()
}

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

async fn users_page(
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

async fn create_user(
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
fn everyone() -> Paging {
    Paging {
        page: 1,
        page_size: MAX_PAGE_SIZE,
    }
}

/// Tells the audit log which record a create made.
fn created(req: &HttpRequest, id: i64) {
    req.extensions_mut().insert(audit::Created(id.to_string()));
}

/// The viewer as the operations' caller.
fn caller(req: &HttpRequest) -> Result<Caller, AdminError> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| AdminError::Internal("the caller is unknown".into()))
}

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

async fn change_role(
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

async fn disable_user(
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

async fn enable_user(
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

async fn delete_user(
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

struct KeyRow {
    id: i64,
    name: String,
    prefix: String,
    role: String,
    created: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct KeysPage {
    layout: Layout,
    rows: Vec<KeyRow>,
    /// A key just made, shown this once.
    new_key: Option<String>,
    name: String,
    roles: Vec<Choice>,
    days: String,
    errors: FieldErrors,
}

async fn keys_page(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let layout = Layout::new(&viewer, "api-keys", "API keys").with_notice("API key", &query);
    let form = KeyForm::default();
    show_keys(&viewer, &state, layout, None, form).await
}

#[derive(Default)]
struct KeyForm {
    name: String,
    role: String,
    days: String,
    errors: FieldErrors,
}

async fn show_keys(
    viewer: &Viewer,
    state: &AppState,
    layout: Layout,
    new_key: Option<String>,
    form: KeyForm,
) -> Result<HttpResponse, AdminError> {
    let clock = Clock(viewer.zone);
    let rows = api_keys::list(state, everyone())
        .await?
        .items
        .into_iter()
        .map(|key| KeyRow {
            id: key.id.0,
            name: key.name,
            prefix: key.prefix,
            role: key.role.as_str().to_owned(),
            created: format!("{} by {}", clock.minute(key.created_at), key.created_by),
            expires: key
                .expires_at
                .map_or_else(|| "never".to_owned(), |at| clock.minute(at)),
            last_used: key
                .last_used_at
                .map_or_else(|| "never".to_owned(), |at| clock.minute(at)),
        })
        .collect();
    let status = if form.errors.is_empty() {
        StatusCode::OK
    } else {
        form.errors.status()
    };
    let role = if form.role.is_empty() {
        "viewer"
    } else {
        &form.role
    };
    view::render(
        status,
        &KeysPage {
            layout,
            rows,
            new_key,
            name: form.name,
            roles: role_choices(role),
            days: form.days,
            errors: form.errors,
        },
    )
}

fn key_field(path: &str) -> Option<&'static str> {
    match path {
        "name" => Some("name"),
        "role" => Some("role"),
        "expires_at" => Some("days"),
        _ => None,
    }
}

const KEY_LABELS: &[(&str, &str)] = &[("days", "Expires after (days)")];

async fn create_key(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let submitted = KeyForm {
        name: form.value("name").trim().to_owned(),
        role: form.value("role").to_owned(),
        days: form.value("days").trim().to_owned(),
        errors: FieldErrors::default(),
    };
    let expires_at = match submitted.days.as_str() {
        "" => Field::absent(),
        days => match days.parse::<u32>() {
            Ok(days @ 1..=3650) => {
                Field::value((Utc::now() + chrono::Duration::days(i64::from(days))).to_rfc3339())
            }
            _ => {
                let errors = FieldErrors::from_api(
                    crate::error::ApiError::Validation(vec![crate::error::FieldError::new(
                        "expires_at",
                        "out_of_range",
                        "must be a whole number of days from 1 to 3650, or empty for never",
                    )]),
                    key_field,
                    KEY_LABELS,
                )?;
                let layout = Layout::new(&viewer, "api-keys", "API keys");
                return show_keys(
                    &viewer,
                    &state,
                    layout,
                    None,
                    KeyForm {
                        errors,
                        ..submitted
                    },
                )
                .await;
            }
        },
    };
    let input = ApiKeyInput {
        name: Required::value(submitted.name.clone()),
        role: Required::value(submitted.role.clone()),
        expires_at,
        unknown: UnknownFields::default(),
    };
    let caller = caller(&req)?;
    match api_keys::create(&state, &caller, input).await {
        Ok(made) => {
            created(&req, made.key.id.0);
            let mut layout = Layout::new(&viewer, "api-keys", "API keys");
            layout.notice = Some(format!(
                "API key {} created. Copy it now: it is not shown again.",
                made.key.name
            ));
            show_keys(
                &viewer,
                &state,
                layout,
                Some(made.secret),
                KeyForm::default(),
            )
            .await
        }
        Err(error) => {
            let errors = FieldErrors::from_api(error, key_field, KEY_LABELS)?;
            let layout = Layout::new(&viewer, "api-keys", "API keys");
            show_keys(
                &viewer,
                &state,
                layout,
                None,
                KeyForm {
                    errors,
                    ..submitted
                },
            )
            .await
        }
    }
}

async fn delete_key(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    api_keys::delete(&state, ApiKeyId(id.into_inner())).await?;
    Ok(view::see_other("/admin/api-keys", "revoked"))
}

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

async fn audit_page(
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
