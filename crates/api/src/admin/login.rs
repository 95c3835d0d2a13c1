//! Logging in and out of the admin UI. The login form checks the same accounts, with the same
//! throttle, as `POST /api/v1/auth/token`; before a session exists its CSRF token travels in a
//! cookie of its own (double submit).

use super::error::AdminError;
use super::session::{
    LOGIN_COOKIE, SESSION_COOKIE, Viewer, admin_cookie, expired_cookie, hash_token, new_token,
    verify_login_csrf_token,
};
use super::view;
use crate::auth::credentials::{check_credentials, client_address};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::TimeZone;
use mailing_domain::store::NewAdminSession;
use std::time::Duration;

/// How long a login form stays usable.
const LOGIN_FORM_TTL: Duration = Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf_token: String,
    username: String,
    problem: Option<String>,
}

pub async fn form(req: HttpRequest) -> Result<HttpResponse, AdminError> {
    // Someone already logged in goes straight to the dashboard.
    if Viewer::extract(&req).await.is_ok() {
        return Ok(to_dashboard());
    }
    login_page(&req, StatusCode::OK, String::new(), None)
}

fn login_page(
    req: &HttpRequest,
    status: StatusCode,
    username: String,
    problem: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let csrf_token = new_token();
    let mut response = view::render(
        status,
        &LoginPage {
            csrf_token: csrf_token.clone(),
            username,
            problem,
        },
    )?;
    response
        .add_cookie(&admin_cookie(req, LOGIN_COOKIE, csrf_token, LOGIN_FORM_TTL))
        .map_err(|error| AdminError::Internal(format!("setting a cookie: {error}")))?;
    Ok(response)
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = verify_login_csrf_token(&req, &body)?;
    let username = form.value("username").trim().to_owned();
    let password = form.value("password").to_owned();
    let client = client_address(&req);
    match check_credentials(&state, &client, &username, password).await {
        Ok(()) => {}
        Err(ApiError::TooManyAttempts { retry_after }) => {
            let problem = format!(
                "Too many failed logins. Try again in {} s.",
                ApiError::retry_after_seconds(retry_after)
            );
            return login_page(&req, StatusCode::TOO_MANY_REQUESTS, username, Some(problem));
        }
        Err(ApiError::Unauthorized { .. }) => {
            let problem = "Wrong username or password.".to_owned();
            return login_page(&req, StatusCode::UNAUTHORIZED, username, Some(problem));
        }
        Err(error) => return Err(error.into()),
    }

    // Times are shown in the zone the browser reported; without a script, in UTC.
    let time_zone = TimeZone::parse(form.value("time_zone")).unwrap_or_else(|_| TimeZone::utc());
    let token = new_token();
    let now = Utc::now();
    let ttl = state.admin_session_ttl;
    let new = NewAdminSession {
        token_hash: hash_token(&token),
        username: username.clone(),
        csrf_token: new_token(),
        time_zone,
        created_at: now,
        expires_at: now
            + chrono::Duration::from_std(ttl)
                .map_err(|error| AdminError::Internal(format!("session lifetime: {error}")))?,
    };
    state
        .run(move |s| {
            // Logins are rare, so they also clear away sessions that ran out.
            s.purge_expired_sessions(now)?;
            s.create_session(&new)
        })
        .await?;
    tracing::info!(username = %username, %client, "admin session started");
    let mut response = to_dashboard();
    let cookies = [
        admin_cookie(&req, SESSION_COOKIE, token, ttl),
        expired_cookie(LOGIN_COOKIE),
    ];
    for cookie in &cookies {
        response
            .add_cookie(cookie)
            .map_err(|error| AdminError::Internal(format!("setting a cookie: {error}")))?;
    }
    Ok(response)
}

pub async fn logout(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let hash = viewer.token_hash().to_owned();
    state.run(move |s| s.delete_session(&hash)).await?;
    tracing::info!(username = %viewer.username, "admin session ended");
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .finish();
    response
        .add_cookie(&expired_cookie(SESSION_COOKIE))
        .map_err(|error| AdminError::Internal(format!("removing a cookie: {error}")))?;
    Ok(response)
}

fn to_dashboard() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin"))
        .finish()
}
