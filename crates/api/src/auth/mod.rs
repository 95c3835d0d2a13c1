//! Who may call the API and what they may do. People sign in with a password (the configured
//! admin and the accounts admins create) or, in the admin UI, through an OpenID provider;
//! integrators send API keys. Access tokens are HS256 JWTs signed with `MAILING_JWT_SECRET`
//! whose ids the database holds until they are revoked; every request's caller is looked up
//! there, so a revoked token, a deleted key or a disabled account is refused at once by every
//! replica. [`policy`] decides which role a request needs.

pub mod password;

pub mod api_keys;
pub mod caller;
pub mod credentials;
pub mod oidc;
pub mod policy;
pub mod routes;
pub mod secrets;
pub mod single_sign_on;
pub(crate) mod throttle;
pub(crate) mod tokens;

pub use caller::{Actor, Caller, Interface};
pub use password::{hash_password, verify_password};
pub use single_sign_on::SingleSignOn;
pub use throttle::LoginThrottle;
pub use tokens::{Claims, TokenError, Tokens};

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, http::header, web};
use chrono::Utc;
use futures_util::future::LocalBoxFuture;
use mailing_domain::SignInMethod;
use paperclip::actix::Apiv2Security;

/// How often a key's last use is written down: a key used constantly is not a write per call.
const KEY_USE_PRECISION: chrono::Duration = chrono::Duration::minutes(1);

/// A request from a caller whose role allows it (see [`policy`]). Handlers take it as their
/// first argument, so a request without a valid token or key is refused (401), and one its
/// role does not allow too (403), before its body is read.
#[derive(Debug, Apiv2Security)]
#[openapi(
    apiKey,
    in = "header",
    name = "Authorization",
    alias = "bearerAuth",
    description = "`Bearer <access_token>` from POST /api/v1/auth/token, or `Bearer <API key>`"
)]
pub struct Authenticated {
    pub caller: Caller,
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(&req).await?;
            let needed = policy::required_role(req.method(), req.path());
            if !caller.role.allows(needed) {
                tracing::warn!(caller = %caller.name(), role = %caller.role, %needed, "request refused: role");
                return Err(ApiError::role_required(needed, &caller.describe()));
            }
            Ok(Authenticated { caller })
        })
    }
}

/// Who sent the request's bearer token or key, as [`Authenticated`] tells handlers; for
/// middlewares that must know before the handler runs. Looked up once per request.
pub(crate) async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    if let Some(known) = req.extensions().get::<Caller>() {
        return Ok(known.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".to_owned()))?
        .clone();
    let credential = bearer(req)?;
    let caller = if api_keys::is_api_key(&credential) {
        let hash = api_keys::hash_key(&credential);
        let now = Utc::now();
        let key = state
            .run(move |s| s.use_api_key(&hash, now, KEY_USE_PRECISION))
            .await?
            .ok_or_else(invalid_api_key)?;
        Caller {
            actor: Actor::ApiKey {
                id: key.id,
                name: key.name,
            },
            role: key.role,
            signed_in_with: SignInMethod::ApiKey,
            interface: Interface::Api,
        }
    } else {
        let claims = state
            .tokens
            .verify(&credential)
            .map_err(|error| match error {
                TokenError::Expired => token_expired(),
                TokenError::Invalid => invalid_token(),
            })?;
        let now = Utc::now();
        let signed_in = state
            .run(move |s| s.find_access_token(&claims.jti, now))
            .await?
            .ok_or_else(token_revoked)?;
        Caller {
            actor: Actor::User {
                id: signed_in.user_id,
                username: signed_in.username,
            },
            role: signed_in.role,
            signed_in_with: SignInMethod::Password,
            interface: Interface::Api,
        }
    };
    req.extensions_mut().insert(caller.clone());
    Ok(caller)
}

/// The credential of the `Authorization: Bearer` header.
pub(crate) fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing_token)?;
    header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .ok_or_else(not_bearer)
}

/// No `Authorization` header.
pub(crate) fn missing_token() -> ApiError {
    ApiError::Unauthorized {
        code: "missing_token",
        message: "send Authorization: Bearer <access_token or API key>; get a token from POST \
                  /api/v1/auth/token",
    }
}

/// An `Authorization` header of another scheme.
fn not_bearer() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_token",
        message: "the Authorization header must be \"Bearer <access_token or API key>\"",
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

/// A token this API signed that was revoked (logged out), or whose account was disabled or
/// deleted.
pub(crate) fn token_revoked() -> ApiError {
    ApiError::Unauthorized {
        code: "token_revoked",
        message: "the access token was revoked (logged out), or its account was disabled or \
                  deleted; request a new one",
    }
}

/// A key no longer (or never) stored.
pub(crate) fn invalid_api_key() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_api_key",
        message: "the API key is not valid: it was revoked, has expired, or is mistyped",
    }
}
