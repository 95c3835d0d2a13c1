//! Signing in and out of the API: `POST /api/v1/auth/token` trades an account's credentials
//! for an access token, `POST /api/v1/auth/logout` revokes it, `POST /api/v1/auth/password`
//! changes one's own password.

use crate::auth::credentials::{check_credentials, client_address};
use crate::auth::{Actor, Authenticated, Caller, Interface, bearer, invalid_token};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::operations::input::{Required, UnknownFields};
use crate::operations::problems::Problems;
use crate::operations::users::{self, PasswordChangeInput};
use crate::state::AppState;
use actix_web::HttpMessage as _;
use actix_web::HttpRequest;
use mailing_domain::SignInMethod;
use mailing_domain::store::NewAccessToken;
use paperclip::actix::NoContent;
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
/// Exchanges the username and password for a bearer token. Wrong credentials, a disabled
/// account or one without a password get a 401; after `MAILING_LOGIN_MAX_FAILURES` failures
/// for one account from one client within `MAILING_LOGIN_FAILURE_WINDOW_SECONDS` (or five
/// times as many for any accounts), that client gets 429 with `Retry-After` until the oldest
/// failure leaves the window. With `MAILING_PASSWORD_LOGIN=false`, every request gets 403:
/// integrations use API keys.
#[api_v2_operation(operation_id = "login", tags(Auth))]
pub async fn issue_token(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<TokenRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    if !state.password_login {
        return Err(password_login_off());
    }
    let (username, password) = body.0.read()?;
    let user = check_credentials(&state, &client_address(&request), &username, password).await?;
    let now = chrono::Utc::now();
    let (access_token, claims) = state
        .tokens
        .issue(&user.username, now.timestamp())
        .map_err(|error| ApiError::Internal(format!("signing a token: {error}")))?;
    let new = NewAccessToken {
        token_id: claims.jti,
        username: user.username.clone(),
        created_at: now,
        expires_at: chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now),
    };
    let id = user.id;
    state
        .run(move |s| {
            // Sign-ins are rare next to requests, so they also clear away expired tokens.
            s.purge_expired_access_tokens(now)?;
            s.create_access_token(&new)?;
            s.record_sign_in(id, now)
        })
        .await?;
    request.extensions_mut().insert(Caller {
        actor: Actor::User {
            id: user.id,
            username: user.username,
        },
        role: user.role,
        signed_in_with: SignInMethod::Password,
        interface: Interface::Api,
    });
    Ok(web::Json(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl().as_secs(),
    }))
}

/// Revoke the access token
///
/// The token this request carries is refused from the next request on, by every replica. An
/// API key is revoked by deleting it (`DELETE /api/v1/api-keys/{id}`).
#[api_v2_operation(operation_id = "logout", tags(Auth))]
pub async fn logout(
    auth: Authenticated,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<NoContent, ApiError> {
    if auth.caller.signed_in_with == SignInMethod::ApiKey {
        return Err(ApiError::Unprocessable {
            code: "not_an_account",
            message: "an API key is not logged out: an admin revokes it with DELETE                       /api/v1/api-keys/{id}"
                .to_owned(),
        });
    }
    let credential = bearer(&request)?;
    let claims = state
        .tokens
        .verify(&credential)
        .map_err(|_| invalid_token())?;
    state
        .run(move |s| s.revoke_access_token(&claims.jti))
        .await?;
    tracing::info!(username = %auth.caller.name(), "access token revoked");
    Ok(NoContent)
}

/// Change one's own password
///
/// Needs the current password. The configured admin account's password is set by
/// `MAILING_ADMIN_PASSWORD` alone.
#[api_v2_operation(operation_id = "changePassword", tags(Auth))]
pub async fn change_password(
    auth: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<PasswordChangeInput>,
) -> Result<NoContent, ApiError> {
    users::change_own_password(&state, &auth.caller, body.0).await?;
    Ok(NoContent)
}

/// 403 for a password sign-in when `MAILING_PASSWORD_LOGIN=false`.
pub(crate) fn password_login_off() -> ApiError {
    ApiError::Forbidden {
        code: "password_login_disabled",
        message: "signing in with a password is turned off here (MAILING_PASSWORD_LOGIN=false); \
                  integrations use an API key, people the admin UI's single sign-on"
            .to_owned(),
    }
}
