//! Checks a login from one client, the same for an API token and an admin session: implausible
//! names and wrong passwords count as failures, and a client that failed too often is refused
//! before its password is checked.

use crate::auth::verify_password;
use crate::client_address::ClientAddress;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{HttpRequest, web};
use mailing_domain::store::User;
use std::time::Instant;

/// Who is logging in, for the throttle and the logs: see [`ClientAddress`] for how a client
/// behind a trusted proxy is found, and why a client cannot pick its own.
pub fn client_address(request: &HttpRequest) -> String {
    ClientAddress::of(request).to_string()
}

/// Checks a login from `client` (its address): [`ApiError::Unauthorized`] for wrong
/// credentials, [`ApiError::TooManyAttempts`] when this client failed too often.
pub async fn check_credentials(
    state: &AppState,
    client: &str,
    username: &str,
    password: String,
) -> Result<User, ApiError> {
    // No stored name is this long or holds control characters (the database could not even
    // compare a NUL), so such a name is simply wrong.
    let plausible = username.chars().count() <= 100 && !username.chars().any(char::is_control);
    if !plausible {
        state
            .login_throttle
            .failed(client, username, Instant::now());
        return Err(invalid_credentials());
    }
    if let Some(retry_after) = state.login_throttle.wait(client, username, Instant::now()) {
        tracing::warn!(username = %username, %client, "login refused: too many failures");
        return Err(ApiError::TooManyAttempts { retry_after });
    }
    let store = state.store.clone();
    let lookup_name = username.to_owned();
    let verified = web::block(move || -> Result<Option<User>, ApiError> {
        let user = store.find_user(&lookup_name)?;
        // Verify against some hash even for unknown, disabled and password-less accounts, so
        // timing reveals nothing about them.
        let stored = match &user {
            Some(User {
                password_hash: Some(hash),
                disabled: false,
                ..
            }) => hash.as_str(),
            _ => dummy_hash(),
        };
        let matches = verify_password(&password, stored);
        Ok(user.filter(|user| matches && !user.disabled && user.password_hash.is_some()))
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))??;
    let Some(user) = verified else {
        state
            .login_throttle
            .failed(client, username, Instant::now());
        tracing::warn!(username = %username, %client, "login refused");
        return Err(invalid_credentials());
    };
    state.login_throttle.succeeded(client, username);
    Ok(user)
}

pub(crate) fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_credentials",
        message: "wrong username or password",
    }
}

/// A hash of a random password nobody knows, made once per process.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let unguessable = format!("{:?}", std::time::SystemTime::now());
        crate::auth::hash_password(&unguessable).unwrap_or_default()
    })
}
