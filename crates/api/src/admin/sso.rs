//! Single sign-on to the admin UI through the OpenID provider: `/admin/oidc/start`, a link
//! rather than a form (the pages' `form-action 'self'` would stop a form's redirect to the
//! provider), sends the browser there with a PKCE challenge, a `state` and a `nonce`; `/admin/oidc/callback` takes
//! the code back, has [`crate::auth::oidc`] verify it, maps the person's groups to a role and
//! starts a session. Someone whose groups give no role is refused with a page that says so.
//!
//! The attempt (its state's hash, nonce and PKCE verifier) waits in the database, so the
//! callback may reach any replica and a state is good once; the browser that began it holds
//! the state in a cookie too, so a callback link someone else began signs nobody in here.

use super::error::AdminError;
use super::login::{login_page, start_session};
use super::session::{hash_token, secrets_match};
use crate::auth::SingleSignOn;
use crate::auth::oidc::OidcError;
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::TimeZone;
use mailing_domain::store::{OidcSubject, SignInAttempt};
use serde::Deserialize;

/// Holds the sign-in's state, and the zone the browser reported, between start and callback.
const ATTEMPT_COOKIE: &str = "mailing_admin_oidc";
const ZONE_COOKIE: &str = "mailing_admin_oidc_zone";
const COOKIE_PATH: &str = "/admin/oidc";
/// How long someone may take at the provider.
const ATTEMPT_TTL: chrono::Duration = chrono::Duration::minutes(10);

fn configured(state: &AppState) -> Result<&SingleSignOn, AdminError> {
    state
        .single_sign_on
        .as_ref()
        .ok_or(AdminError::NotFound(None))
}

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    time_zone: String,
}

pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, AdminError> {
    let sso = configured(&state)?;
    let begun = match sso.oidc.begin().await {
        Ok(begun) => begun,
        Err(error) => return refuse(&req, &error),
    };
    let now = Utc::now();
    let attempt = SignInAttempt {
        state_hash: hash_token(&begun.state),
        nonce: begun.nonce,
        pkce_verifier: begun.pkce_verifier,
        created_at: now,
        expires_at: now + ATTEMPT_TTL,
    };
    state.run(move |s| s.save_sign_in_attempt(&attempt)).await?;
    let zone = TimeZone::parse(&query.time_zone).unwrap_or_else(|_| TimeZone::utc());
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, begun.authorize_url))
        .finish();
    for cookie in [
        attempt_cookie(&req, ATTEMPT_COOKIE, begun.state),
        attempt_cookie(&req, ZONE_COOKIE, zone.name().to_owned()),
    ] {
        response
            .add_cookie(&cookie)
            .map_err(|error| AdminError::Internal(format!("setting a cookie: {error}")))?;
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Shown in a page that then goes on to the dashboard: the session cookie is `SameSite=Strict`,
/// and a browser does not send it on a navigation another site (the provider) began.
#[derive(Template)]
#[template(path = "admin/signed_in.html")]
struct SignedInPage {
    username: String,
}

pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AdminError> {
    let sso = configured(&state)?;
    let query = query.into_inner();
    if let Some(error) = query.error {
        let detail = query.error_description.unwrap_or_default();
        tracing::warn!(%error, %detail, "single sign-on refused by the provider");
        let problem = format!("The sign-in provider did not sign you in ({error}). {detail}");
        return refused(&req, StatusCode::UNAUTHORIZED, problem.trim().to_owned());
    }
    let (Some(code), Some(returned_state)) = (query.code, query.state) else {
        return refused(
            &req,
            StatusCode::BAD_REQUEST,
            "The sign-in provider sent the browser back without a code. Start again.".to_owned(),
        );
    };
    let expected = req
        .cookie(ATTEMPT_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .unwrap_or_default();
    let state_hash = hash_token(&returned_state);
    let now = Utc::now();
    // Taken before comparing, so a state is spent whatever the outcome.
    let attempt = state
        .run(move |s| s.take_sign_in_attempt(&state_hash, now))
        .await?;
    let attempt = match attempt {
        Some(attempt) if secrets_match(&returned_state, &expected) => attempt,
        _ => {
            tracing::warn!("single sign-on refused: unknown, used, expired or foreign state");
            return refused(
                &req,
                StatusCode::BAD_REQUEST,
                "This sign-in did not start in this browser, was already used, or took longer \
                 than 10 minutes. Start again."
                    .to_owned(),
            );
        }
    };
    let identity = match sso
        .oidc
        .finish(&code, &attempt.pkce_verifier, &attempt.nonce)
        .await
    {
        Ok(identity) => identity,
        Err(error) => return refuse(&req, &error),
    };
    let Some(role) = sso
        .role_map
        .role_for(identity.groups.iter().map(String::as_str))
    else {
        tracing::warn!(username = %identity.username, groups = ?identity.groups, "single sign-on refused: no group maps to a role");
        let groups = if identity.groups.is_empty() {
            "you are in no group".to_owned()
        } else {
            format!("your groups are {}", identity.groups.join(", "))
        };
        let wanted: Vec<String> = sso
            .role_map
            .entries()
            .iter()
            .map(|(group, role)| format!("{group} ({role})"))
            .collect();
        return refused(
            &req,
            StatusCode::FORBIDDEN,
            format!(
                "You signed in as {}, but {groups}, and none of them gives a role here. Ask an \
                 administrator to add you to one of: {}.",
                identity.username,
                wanted.join(", ")
            ),
        );
    };
    // The name is shown on every page and written to logs: one line, of a sensible length.
    let usable = (1..=100).contains(&identity.username.chars().count())
        && !identity.username.chars().any(char::is_control);
    if !usable {
        return refused(
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The sign-in provider gave a username that is empty, longer than 100 characters or \
             holds control characters. Ask an administrator to fix it at the provider."
                .to_owned(),
        );
    }
    let subject = OidcSubject {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
    };
    let username = identity.username.clone();
    let user = match state
        .run(move |s| s.sign_in_oidc_user(&subject, &username, role, now))
        .await
    {
        Ok(user) => user,
        Err(crate::error::ApiError::Conflict { .. }) => {
            return refused(
                &req,
                StatusCode::CONFLICT,
                format!(
                    "The username {} belongs to an account that does not sign in through this \
                     provider. Ask an administrator to rename or remove it.",
                    identity.username
                ),
            );
        }
        Err(error) => return Err(error.into()),
    };
    if user.disabled {
        return refused(
            &req,
            StatusCode::FORBIDDEN,
            format!(
                "The account {} is disabled. Ask an administrator.",
                user.username
            ),
        );
    }
    let zone = req
        .cookie(ZONE_COOKIE)
        .and_then(|cookie| TimeZone::parse(cookie.value()).ok())
        .unwrap_or_else(TimeZone::utc);
    let session = start_session(
        &req,
        &state,
        &user,
        mailing_domain::SignInMethod::Oidc,
        zone,
    )
    .await?;
    let mut response = super::view::render(
        StatusCode::OK,
        &SignedInPage {
            username: user.username.clone(),
        },
    )?;
    for cookie in [session, removed(ATTEMPT_COOKIE), removed(ZONE_COOKIE)] {
        response
            .add_cookie(&cookie)
            .map_err(|error| AdminError::Internal(format!("setting a cookie: {error}")))?;
    }
    Ok(response)
}

/// The login page saying why the provider's answer was not accepted.
fn refuse(req: &HttpRequest, error: &OidcError) -> Result<HttpResponse, AdminError> {
    tracing::warn!(%error, "single sign-on failed");
    let status = match error {
        OidcError::Unavailable(_) | OidcError::Config(_) => StatusCode::SERVICE_UNAVAILABLE,
        OidcError::CodeRejected(_) | OidcError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
    };
    let mut message = error.to_string();
    if let Some(first) = message.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    refused(req, status, format!("Not signed in: {message}."))
}

fn refused(
    req: &HttpRequest,
    status: StatusCode,
    problem: String,
) -> Result<HttpResponse, AdminError> {
    login_page(req, status, String::new(), Some(problem))
}

/// Sent back on the provider's redirect, a top-level navigation from another site: `Lax`, not
/// the session's `Strict`, or the browser would keep it back.
fn attempt_cookie(req: &HttpRequest, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(req.connection_info().scheme() == "https")
        .max_age(time::Duration::seconds(ATTEMPT_TTL.num_seconds()))
        .finish()
}

fn removed(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}
