//! `POST /api/v1/auth/token`: trade the account's credentials for an access token.

use crate::auth::verify_password;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, Apiv2Schema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Get an access token
///
/// Exchanges the username and password for a bearer token. Wrong credentials get a 401.
#[api_v2_operation(tags(Auth))]
pub async fn issue_token(
    state: web::Data<AppState>,
    body: JsonBody<TokenRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let TokenRequest { username, password } = body.0;
    // No stored name is this long or holds control characters (the database could not even
    // compare a NUL), so such a name is simply wrong.
    let plausible = username.chars().count() <= 100 && !username.chars().any(char::is_control);
    if !plausible {
        return Err(invalid_credentials());
    }
    let store = state.store.clone();
    let lookup_name = username.clone();
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
        tracing::warn!(username = %username, "login refused");
        return Err(invalid_credentials());
    }
    let now = chrono::Utc::now().timestamp();
    let access_token = state
        .tokens
        .issue(&username, now)
        .map_err(|error| ApiError::Internal(format!("signing a token: {error}")))?;
    Ok(web::Json(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl().as_secs(),
    }))
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
