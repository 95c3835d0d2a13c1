//! Logging in and out of the admin UI. The login form checks the same accounts, with the same
//! throttle, as `POST /api/v1/auth/token`; before a session exists its CSRF token travels in a
//! cookie of its own (double submit). Single sign-on ([`super::sso`]) ends in the same
//! [`start_session`].

use super::error::AdminError;
use super::session::{
    LOGIN_COOKIE, SESSION_COOKIE, Viewer, admin_cookie, expired_cookie, hash_token, new_token,
    verify_login_csrf_token,
};
use super::view;
use crate::auth::credentials::{check_credentials, client_address};
use crate::auth::{Actor, Caller, Interface};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::store::{NewAdminSession, User};
use mailing_domain::{SignInMethod, TimeZone};
use std::time::Duration;

/// How long a login form stays usable.
const LOGIN_FORM_TTL: Duration = Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf_token: String,
    username: String,
    problem: Option<String>,
    password_login: bool,
    /// "Log in with …": the provider's name, when single sign-on is configured.
    single_sign_on: Option<String>,
}

pub async fn form(req: HttpRequest) -> Result<HttpResponse, AdminError> {
    // Someone already logged in goes straight to the dashboard.
    if Viewer::extract(&req).await.is_ok() {
        return Ok(to_dashboard());
    }
    login_page(&req, StatusCode::OK, String::new(), None)
}

/// The login page, with `problem` shown above the form and answered with `status`.
pub(super) fn login_page(
    req: &HttpRequest,
    status: StatusCode,
    username: String,
    problem: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AdminError::Internal("application state missing".into()))?;
    let csrf_token = new_token();
    let mut response = view::render(
        status,
        &LoginPage {
            csrf_token: csrf_token.clone(),
            username,
            problem,
            password_login: state.password_login,
            single_sign_on: state
                .single_sign_on
                .as_ref()
                .map(|sso| sso.provider_name.clone()),
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
    if !state.password_login {
        let problem = "Logging in with a password is turned off here.".to_owned();
        return login_page(&req, StatusCode::FORBIDDEN, username, Some(problem));
    }
    let password = form.value("password").to_owned();
    let client = client_address(&req);
    let user = match check_credentials(&state, &client, &username, password).await {
        Ok(user) => user,
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
    };
    // Times are shown in the zone the browser reported; without a script, in UTC.
    let time_zone = TimeZone::parse(form.value("time_zone")).unwrap_or_else(|_| TimeZone::utc());
    let cookie = start_session(&req, &state, &user, SignInMethod::Password, time_zone).await?;
    let mut response = to_dashboard();
    for cookie in [cookie, expired_cookie(LOGIN_COOKIE)] {
        response
            .add_cookie(&cookie)
            .map_err(|error| AdminError::Internal(format!("setting a cookie: {error}")))?;
    }
    Ok(response)
}

/// Stores a new session for `user` and returns its cookie. The request then carries the user
/// as its caller, so the audit log records the sign-in.
pub(super) async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    method: SignInMethod,
    time_zone: TimeZone,
) -> Result<Cookie<'static>, AdminError> {
    let token = new_token();
    let now = Utc::now();
    let ttl = state.admin_session_ttl;
    let new = NewAdminSession {
        token_hash: hash_token(&token),
        username: user.username.clone(),
        signed_in_with: method,
        csrf_token: new_token(),
        time_zone,
        created_at: now,
        expires_at: now
            + chrono::Duration::from_std(ttl)
                .map_err(|error| AdminError::Internal(format!("session lifetime: {error}")))?,
    };
    let id = user.id;
    state
        .run(move |s| {
            // Logins are rare, so they also clear away sessions that ran out.
            s.purge_expired_sessions(now)?;
            s.create_session(&new)?;
            s.record_sign_in(id, now)
        })
        .await?;
    tracing::info!(username = %user.username, client = %client_address(req), method = method.as_str(), "admin session started");
    req.extensions_mut().insert(Caller {
        actor: Actor::User {
            id: user.id,
            username: user.username.clone(),
        },
        role: user.role,
        signed_in_with: method,
        interface: Interface::AdminUi,
    });
    Ok(admin_cookie(req, SESSION_COOKIE, token, ttl))
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
