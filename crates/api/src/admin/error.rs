//! What an admin page can fail with, each answered with a page of its own (or, when the
//! session is missing, a redirect to the login form).

use crate::error::ApiError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use mailing_domain::store::Entity;
use std::fmt;

#[derive(Debug)]
pub enum AdminError {
    /// No session, or it expired.
    LoginRequired,
    /// A form without the session's CSRF token.
    Forbidden,
    NotFound(Option<Entity>),
    /// The request makes no sense for the record as it is now (e.g. cancelling a finished
    /// mailing); the message says why.
    Refused {
        status: StatusCode,
        message: String,
    },
    /// Storage could not serve the page now.
    Unavailable,
    /// A bug or an unexpected failure; the cause is logged, not shown.
    Internal(String),
}

impl AdminError {
    /// An action's failure as a refusal to show on the page the action came from, or, when it
    /// is not one, as the error it stays.
    pub fn refusal(error: ApiError) -> Result<AdminError, AdminError> {
        match AdminError::from(error) {
            refusal @ AdminError::Refused { .. } => Ok(refusal),
            other => Err(other),
        }
    }
}

impl From<ApiError> for AdminError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::NotFound(entity) => AdminError::NotFound(Some(entity)),
            ApiError::Unavailable => AdminError::Unavailable,
            ApiError::Internal(cause) => AdminError::Internal(cause),
            other => AdminError::Refused {
                status: other.status_code(),
                message: other.to_string(),
            },
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::LoginRequired => f.write_str("log in to continue"),
            AdminError::Forbidden => f.write_str(
                "the form was not sent from this session's page (its security token is missing \
                 or stale); go back, reload the page and try again",
            ),
            AdminError::NotFound(Some(entity)) => {
                let mut name = entity.name().to_owned();
                if let Some(first) = name.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                write!(f, "{name} not found; it may have been deleted")
            }
            AdminError::NotFound(None) => f.write_str("there is no such page"),
            AdminError::Refused { message, .. } => f.write_str(message),
            AdminError::Unavailable => {
                f.write_str("the database is unavailable at the moment; try again shortly")
            }
            AdminError::Internal(_) => f.write_str("something went wrong on the server"),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::LoginRequired => StatusCode::SEE_OTHER,
            AdminError::Forbidden => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Refused { status, .. } => *status,
            AdminError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AdminError::LoginRequired = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/admin/login"))
                .finish();
        }
        if let AdminError::Internal(cause) = self {
            tracing::error!(%cause, "admin page failed");
        }
        let status = self.status_code();
        let page = ErrorPage {
            title: status.canonical_reason().unwrap_or("Error"),
            message: self.to_string(),
        };
        match page.render() {
            Ok(body) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(body),
            Err(_) => HttpResponse::build(status).body(self.to_string()),
        }
    }
}

/// The answer to an `/admin` path no route matches.
pub async fn not_found() -> HttpResponse {
    AdminError::NotFound(None).error_response()
}
