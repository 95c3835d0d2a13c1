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

fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".to_owned()))?;
    let header = req.headers().get(header::AUTHORIZATION).ok_or(ApiError::Unauthorized {
        code: "missing_token",
        message: "send Authorization: Bearer <access_token>; get one from POST /api/v1/auth/token",
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or(ApiError::Unauthorized {
            code: "invalid_token",
            message: "the Authorization header must be \"Bearer <access_token>\"",
        })?;
    let claims = state.tokens.verify(token).map_err(|error| match error {
        TokenError::Expired => ApiError::Unauthorized {
            code: "token_expired",
            message: "the access token has expired; request a new one",
        },
        TokenError::Invalid => ApiError::Unauthorized {
            code: "invalid_token",
            message: "the access token is not valid",
        },
    })?;
    Ok(Authenticated {
        username: claims.sub,
    })
}
