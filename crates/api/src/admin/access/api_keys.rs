//! The API keys page.

use super::{caller, created, everyone, role_choices};
use crate::admin::catalog::Choice;
use crate::admin::error::AdminError;
use crate::admin::field_errors::FieldErrors;
use crate::admin::form::Form;
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout};
use crate::error::{ApiError, FieldError};
use crate::operations::api_keys::{self, ApiKeyInput};
use crate::operations::input::{Field, Required, UnknownFields};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::ApiKeyId;

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

pub(super) async fn page(
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

pub(super) async fn create(
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
    let made = match expiry(&submitted.days) {
        Ok(expires_at) => {
            let input = ApiKeyInput {
                name: Required::value(submitted.name.clone()),
                role: Required::value(submitted.role.clone()),
                expires_at,
                unknown: UnknownFields::default(),
            };
            api_keys::create(&state, &caller(&req)?, input).await
        }
        Err(refused) => Err(refused),
    };
    let mut layout = Layout::new(&viewer, "api-keys", "API keys");
    match made {
        Ok(made) => {
            created(&req, made.key.id.0);
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
            let submitted = KeyForm {
                errors,
                ..submitted
            };
            show_keys(&viewer, &state, layout, None, submitted).await
        }
    }
}

/// The form's "expires after (days)" as the API's `expires_at`: empty for never.
fn expiry(days: &str) -> Result<Field<String>, ApiError> {
    match days {
        "" => Ok(Field::absent()),
        days => match days.parse::<u32>() {
            Ok(days @ 1..=3650) => Ok(Field::value(
                (Utc::now() + chrono::Duration::days(i64::from(days))).to_rfc3339(),
            )),
            _ => Err(ApiError::Validation(vec![FieldError::new(
                "expires_at",
                "out_of_range",
                "must be a whole number of days from 1 to 3650, or empty for never",
            )])),
        },
    }
}

pub(super) async fn delete(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    api_keys::delete(&state, ApiKeyId(id.into_inner())).await?;
    Ok(view::see_other("/admin/api-keys", "revoked"))
}
