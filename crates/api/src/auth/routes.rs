//! `POST /api/v1/auth/token`: trade the account's credentials for an access token.

use crate::auth::credentials::{check_credentials, client_address};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::operations::input::{Required, UnknownFields};
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::HttpRequest;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct TokenRequest {
    pub username: Required<String>,
    pub password: Required<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl TokenRequest {
    /// Both fields, or every problem with the body.
    fn read(self) -> Result<(String, String), ApiError> {
        let mut problems = Problems::default();
        let username = self.username.require("username", &mut problems);
        let password = self.password.require("password", &mut problems);
        self.unknown.report("", &mut problems);
        problems.finish(|| (username.expect("given"), password.expect("given")))
    }
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
/// Exchanges the username and password for a bearer token. Wrong credentials get a 401; after
/// `MAILING_LOGIN_MAX_FAILURES` failures for one account from one client within
/// `MAILING_LOGIN_FAILURE_WINDOW_SECONDS` (or five times as many for any accounts), that
/// client gets 429 with `Retry-After` until the oldest failure leaves the window.
#[api_v2_operation(operation_id = "login", tags(Auth))]
pub async fn issue_token(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<TokenRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let (username, password) = body.0.read()?;
    check_credentials(&state, &client_address(&request), &username, password).await?;
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
