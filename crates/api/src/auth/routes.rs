//! `POST /api/v1/auth/token`: trade the account's credentials for an access token.

use crate::auth::credentials::{LoginError, check_credentials, client_address};
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::operations::input::{Required, UnknownFields};
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
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

/// A failed login answers as the API answers, and 429 carries `Retry-After`.
impl ResponseError for LoginError {
    fn status_code(&self) -> StatusCode {
        match self {
            LoginError::Api(error) => error.status_code(),
            LoginError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            LoginError::Api(error) => error.error_response(),
            LoginError::TooManyAttempts { retry_after } => HttpResponse::TooManyRequests()
                .insert_header((
                    "Retry-After",
                    Self::retry_after_seconds(*retry_after).to_string(),
                ))
                .json(ErrorBody {
                    code: "too_many_attempts".to_owned(),
                    message: self.to_string(),
                    details: vec![],
                }),
        }
    }
}

/// Get an access token
///
/// Exchanges the username and password for a bearer token. Wrong credentials get a 401; after
/// `MAILING_LOGIN_MAX_FAILURES` failures for one account from one client within
/// `MAILING_LOGIN_FAILURE_WINDOW_SECONDS` (or five times as many for any accounts), that
/// client gets 429 with `Retry-After` until the oldest failure leaves the window.
#[api_v2_operation(tags(Auth))]
pub async fn issue_token(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<TokenRequest>,
) -> Result<web::Json<TokenResponse>, LoginError> {
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
