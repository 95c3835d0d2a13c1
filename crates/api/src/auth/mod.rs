//! Who may call the API: the admin account from configuration, passwords hashed with argon2,
//! and bearer JWTs signed with `MAILING_JWT_SECRET`.

pub mod password;

pub mod credentials;
pub mod routes;
pub(crate) mod throttle;
pub(crate) mod tokens;

pub use password::{hash_password, verify_password};
pub use throttle::LoginThrottle;
pub use tokens::{Claims, TokenError, Tokens};

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header, web};
use paperclip::actix::Apiv2Security;

/// A request that carried a valid bearer token. Handlers take it as their first argument, so a
/// request without one is refused before its body is read.
#[derive(Debug, Apiv2Security)]
#[openapi(
    apiKey,
    in = "header",
    name = "Authorization",
    alias = "bearerAuth",
    description = "Bearer JWT from POST /api/v1/auth/token"
)]
pub struct Authenticated {
    pub username: String,
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

/// Who sent the request's bearer token, as [`Authenticated`] tells handlers; for middlewares
/// that must know before the handler runs.
pub(crate) fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".to_owned()))?;
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing_token)?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(not_bearer)?;
    let claims = state.tokens.verify(token).map_err(|error| match error {
        TokenError::Expired => token_expired(),
        TokenError::Invalid => invalid_token(),
    })?;
    Ok(Authenticated {
        username: claims.sub,
    })
}

/// No `Authorization` header.
pub(crate) fn missing_token() -> ApiError {
    ApiError::Unauthorized {
        code: "missing_token",
        message: "send Authorization: Bearer <access_token>; get one from POST /api/v1/auth/token",
    }
}

/// An `Authorization` header of another scheme.
fn not_bearer() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_token",
        message: "the Authorization header must be \"Bearer <access_token>\"",
    }
}

/// A token past its expiry.
pub(crate) fn token_expired() -> ApiError {
    ApiError::Unauthorized {
        code: "token_expired",
        message: "the access token has expired; request a new one",
    }
}

/// A token this API did not sign, or not a token at all.
pub(crate) fn invalid_token() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_token",
        message: "the access token is not valid",
    }
}
