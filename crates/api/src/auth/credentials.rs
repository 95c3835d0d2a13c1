//! Checks a login from one client, the same for an API token and an admin session: implausible
//! names and wrong passwords count as failures, and a client that failed too often is refused
//! before its password is checked.

use crate::auth::verify_password;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{HttpRequest, web};
use paperclip::actix::api_v2_errors;
use std::fmt;
use std::time::{Duration, Instant};

/// What a login can fail with: the API's errors, and 429 when this client failed too often.
#[api_v2_errors(
    code = 400,
    description = "Malformed request: JSON syntax",
    code = 401,
    description = "Wrong username or password",
    code = 413,
    description = "Request body too large",
    code = 415,
    description = "Request body is not application/json",
    code = 422,
    description = "Validation failed; `details` names each field and rule",
    code = 429,
    description = "Too many failed logins from this client; retry after `Retry-After` seconds",
    code = 503,
    description = "Database unavailable; retry later",
    default_schema = "ErrorBody"
)]
#[derive(Debug)]
pub enum LoginError {
    Api(ApiError),
    TooManyAttempts { retry_after: Duration },
}

impl From<ApiError> for LoginError {
    fn from(error: ApiError) -> Self {
        LoginError::Api(error)
    }
}

impl LoginError {
    /// Whole seconds to wait, rounded up so a client that waits them is let in.
    pub fn retry_after_seconds(retry_after: Duration) -> u64 {
        retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::Api(error) => error.fmt(f),
            LoginError::TooManyAttempts { retry_after } => write!(
                f,
                "too many failed logins; retry in {} s",
                Self::retry_after_seconds(*retry_after)
            ),
        }
    }
}

/// Who is logging in, for the throttle and the logs: behind the ingress, the address the
/// proxy reports in X-Forwarded-For.
pub fn client_address(request: &HttpRequest) -> String {
    request
        .connection_info()
        .realip_remote_addr()
        .unwrap_or("unknown")
        .to_owned()
}

/// Checks a login from `client` (its address).
pub async fn check_credentials(
    state: &AppState,
    client: &str,
    username: &str,
    password: String,
) -> Result<(), LoginError> {
    // No stored name is this long or holds control characters (the database could not even
    // compare a NUL), so such a name is simply wrong.
    let plausible = username.chars().count() <= 100 && !username.chars().any(char::is_control);
    if !plausible {
        state
            .login_throttle
            .failed(client, username, Instant::now());
        return Err(invalid_credentials().into());
    }
    if let Some(retry_after) = state.login_throttle.wait(client, username, Instant::now()) {
        tracing::warn!(username = %username, %client, "login refused: too many failures");
        return Err(LoginError::TooManyAttempts { retry_after });
    }
    let store = state.store.clone();
    let lookup_name = username.to_owned();
    let verified = web::block(move || -> Result<bool, ApiError> {
        let user = store.find_user(&lookup_name)?;
        // Verify against some hash even for unknown users, so timing does not reveal names.
        Ok(match &user {
            Some(user) => verify_password(&password, &user.password_hash),
            None => {
                verify_password(&password, dummy_hash());
                false
            }
        })
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))??;
    if !verified {
        state
            .login_throttle
            .failed(client, username, Instant::now());
        tracing::warn!(username = %username, %client, "login refused");
        return Err(invalid_credentials().into());
    }
    state.login_throttle.succeeded(client, username);
    Ok(())
}

fn invalid_credentials() -> ApiError {
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
