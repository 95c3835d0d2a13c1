//! Who is looking: browser sessions kept in the database, so every api replica knows them and
//! logging out ends them everywhere. The cookie carries a random token and the database only
//! its SHA-256, so a copy of the table opens no session. Each session has a CSRF token that
//! every form it renders carries and every form it posts must return.

use super::error::AdminError;
use super::form::Form;
use crate::auth::{Actor, Caller, Interface, policy, secrets};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::HttpMessage as _;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use chrono_tz::Tz;
use futures_util::future::LocalBoxFuture;
use mailing_domain::Role;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "mailing_admin_session";
/// Carries the login form's CSRF token until a session exists to hold one.
pub const LOGIN_COOKIE: &str = "mailing_admin_login";
const COOKIE_PATH: &str = "/admin";

/// The logged-in person behind a request. A handler that takes one answers a visitor without
/// a session with a redirect to the login form, and one whose role does not allow the page or
/// the action (see [`policy`]) with a page that says which role it needs.
pub struct Viewer {
    pub username: String,
    pub role: Role,
    pub zone: Tz,
    csrf_token: String,
    token_hash: String,
}

impl Viewer {
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    pub fn token_hash(&self) -> &str {
        &self.token_hash
    }

    /// Whether the viewer may change clients, tags, filters, mailings, imports and opt-outs.
    pub fn can_manage(&self) -> bool {
        self.role.allows(Role::Manager)
    }

    /// Reads a posted form, refusing it unless it carries this session's CSRF token.
    pub fn verify_csrf_token(&self, body: &[u8]) -> Result<Form, AdminError> {
        let form = Form::parse(body);
        if secrets_match(form.value("csrf_token"), &self.csrf_token) {
            Ok(form)
        } else {
            tracing::warn!(username = %self.username, "admin form refused: CSRF token missing or wrong");
            Err(AdminError::Forbidden)
        }
    }
}

/// Reads the posted login form, refusing it unless it carries the token its login cookie
/// holds: before a session exists, the browser submits the token twice, in the form and in the
/// cookie, and another site's page can send only the first.
pub fn verify_login_csrf_token(req: &HttpRequest, body: &[u8]) -> Result<Form, AdminError> {
    let form = Form::parse(body);
    let expected = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if secrets_match(form.value("csrf_token"), &expected) {
        Ok(form)
    } else {
        tracing::warn!("admin login refused: CSRF token missing or wrong");
        Err(AdminError::Forbidden)
    }
}

impl FromRequest for Viewer {
    type Error = AdminError;
    type Future = LocalBoxFuture<'static, Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let req = req.clone();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AdminError::Internal("application state missing".into()))?;
            let token_hash = hash_token(&token.ok_or(AdminError::LoginRequired)?);
            let lookup = token_hash.clone();
            let now = Utc::now();
            let session = state
                .run(move |s| s.find_session(&lookup, now))
                .await?
                .ok_or(AdminError::LoginRequired)?;
            let caller = Caller {
                actor: Actor::User {
                    id: session.user.user_id,
                    username: session.user.username.clone(),
                },
                role: session.user.role,
                signed_in_with: session.signed_in_with,
                interface: Interface::AdminUi,
            };
            let needed = policy::required_role(req.method(), req.path());
            if !caller.role.allows(needed) {
                tracing::warn!(username = %caller.name(), role = %caller.role, %needed, "admin page refused: role");
                return Err(ApiError::role_required(needed, &caller.describe()).into());
            }
            req.extensions_mut().insert(caller);
            Ok(Viewer {
                username: session.user.username,
                role: session.user.role,
                zone: session.time_zone.tz(),
                csrf_token: session.csrf_token,
                token_hash,
            })
        })
    }
}

/// A fresh unguessable token: 256 random bits in hex.
pub fn new_token() -> String {
    secrets::random_hex::<32>()
}

/// What the database keeps of a session token.
pub fn hash_token(token: &str) -> String {
    secrets::sha256_hex(token)
}

/// Compares two secrets in time that does not depend on where they differ.
pub(super) fn secrets_match(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// A cookie only `/admin` pages get, never readable by scripts nor sent by other sites'
/// pages; `Secure` when the request came over TLS (directly or as the ingress reports it).
pub fn admin_cookie(
    req: &HttpRequest,
    name: &'static str,
    value: String,
    max_age: std::time::Duration,
) -> Cookie<'static> {
    let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(time::Duration::seconds(seconds))
        .finish()
}

/// Tells the browser to forget a cookie.
pub fn expired_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_stored_only_as_hashes() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), a);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn secrets_match_only_exactly_and_never_when_empty() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abd", "abc"));
        assert!(!secrets_match("ab", "abc"));
        assert!(!secrets_match("", ""));
    }
}
