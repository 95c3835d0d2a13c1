//! The API's one error type: every failure becomes a JSON body with a stable `code`, a
//! `message` and per-field `details`. Internal causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mailing_domain::mailing::UpdateRefused;
use mailing_domain::store::{Entity, Rejection, StoreError};
use mailing_domain::{Invalid, Role};
use paperclip::actix::Apiv2Schema;
use paperclip::v2::models::DefaultSchemaRaw;
use paperclip::v2::schema::Apiv2Errors;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One field that broke one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Apiv2Schema)]
pub struct FieldError {
    /// The field, as a path into the request (`filter.tags[2]`, `page_size`, `id`).
    pub field: String,
    /// Stable machine-readable rule name, e.g. `phone_format`.
    pub code: String,
    /// What the rule requires, for people.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, rule: &Invalid) -> Self {
        Self::new(field, rule.code(), rule.to_string())
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ErrorBody {
    /// Stable machine-readable error code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    pub message: String,
    /// Per-field problems; empty when the error is not about fields.
    pub details: Vec<FieldError>,
}

/// Every way a request can fail. The OpenAPI document lists, per operation, the codes of
/// [`crate::error_codes`]; add a row there for a code added here.
#[derive(Debug)]
pub enum ApiError {
    /// 422: fields that broke rules.
    Validation(Vec<FieldError>),
    /// 400: a request that cannot be read at all.
    BadRequest {
        code: &'static str,
        message: String,
        details: Vec<FieldError>,
    },
    Unauthorized {
        code: &'static str,
        message: &'static str,
    },
    /// 403: the caller may not do this: their role does not allow it (`forbidden`), or the
    /// configuration turned it off.
    Forbidden {
        code: &'static str,
        message: String,
    },
    NotFound(Entity),
    Conflict {
        code: &'static str,
        message: String,
        details: Vec<FieldError>,
    },
    PayloadTooLarge {
        limit: usize,
    },
    /// 422: a request that is well-formed but cannot be carried out, not because of its fields.
    Unprocessable {
        code: &'static str,
        message: String,
    },
    /// 429: this client failed to log in too often; it may try again after `retry_after`.
    TooManyAttempts {
        retry_after: Duration,
    },
    UnsupportedMediaType,
    /// 502: a server the request needed (the SMTP server) refused or failed it.
    Upstream {
        code: &'static str,
        message: String,
    },
    /// 503: storage could not serve the request now.
    Unavailable,
    /// 500: a bug or an unexpected failure; the cause is logged, not sent.
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, rule: &Invalid) -> Self {
        ApiError::Validation(vec![FieldError::invalid(field, rule)])
    }

    /// 400: query parameters that could not be read, or that were read but make no sense.
    pub fn invalid_query(details: Vec<FieldError>) -> Self {
        ApiError::BadRequest {
            code: "invalid_query",
            message: "the query string has invalid parameters; see details".to_owned(),
            details,
        }
    }

    /// 403: `needed` is the least role that may do this; `who` says who the caller is and
    /// what role they have, e.g. "the account ann is a viewer".
    pub fn role_required(needed: Role, who: &str) -> Self {
        ApiError::Forbidden {
            code: "forbidden",
            message: format!("this needs the {needed} role; {who}"),
        }
    }

    /// Whole seconds to wait, rounded up so a client that waits them is let in.
    pub fn retry_after_seconds(retry_after: Duration) -> u64 {
        retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)
    }

    /// The JSON body the error is answered with.
    pub fn body(&self) -> ErrorBody {
        let (code, message, details) = match self {
            ApiError::Validation(details) => (
                "validation_failed",
                "the request has invalid fields; see details".to_owned(),
                details.clone(),
            ),
            ApiError::BadRequest {
                code,
                message,
                details,
            }
            | ApiError::Conflict {
                code,
                message,
                details,
            } => (*code, message.clone(), details.clone()),
            ApiError::Unauthorized { code, message } => (*code, (*message).to_owned(), vec![]),
            ApiError::Unprocessable { code, message } => (*code, message.clone(), vec![]),
            ApiError::Forbidden { code, message } | ApiError::Upstream { code, message } => {
                (*code, message.clone(), vec![])
            }
            ApiError::NotFound(entity) => ("not_found", format!("{entity} not found"), vec![]),
            ApiError::PayloadTooLarge { limit } => (
                "payload_too_large",
                format!("the request body exceeds {limit} bytes"),
                vec![],
            ),
            ApiError::TooManyAttempts { retry_after } => (
                "too_many_attempts",
                format!(
                    "too many failed logins; retry in {} s",
                    Self::retry_after_seconds(*retry_after)
                ),
                vec![],
            ),
            ApiError::UnsupportedMediaType => (
                "unsupported_media_type",
                "the request body must be JSON with Content-Type: application/json".to_owned(),
                vec![],
            ),
            ApiError::Unavailable => (
                "unavailable",
                "the database is unavailable; retry later".to_owned(),
                vec![],
            ),
            ApiError::Internal(_) => ("internal", "internal error".to_owned(), vec![]),
        };
        ErrorBody {
            code: code.to_owned(),
            message,
            details,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Internal(cause) => write!(f, "internal error: {cause}"),
            other => f.write_str(&other.body().message),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            ApiError::Unavailable => tracing::warn!("request refused: storage unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized { .. } => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            ApiError::TooManyAttempts { retry_after } => {
                response.insert_header((
                    "Retry-After",
                    Self::retry_after_seconds(*retry_after).to_string(),
                ));
            }
            _ => {}
        }
        response.json(self.body())
    }
}

/// Handlers answer errors with [`ErrorBody`]; which statuses and codes each operation answers
/// is added to the document from [`crate::error_codes`].
impl Apiv2Errors for ApiError {
    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        use paperclip::actix::OperationModifier;
        paperclip::actix::web::Json::<ErrorBody>::update_definitions(map);
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(entity) => ApiError::NotFound(entity),
            StoreError::Rejected(rejection) => rejection.into(),
            StoreError::Unavailable(_) => ApiError::Unavailable,
            StoreError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

fn conflict(code: &'static str, message: impl Into<String>, details: Vec<FieldError>) -> ApiError {
    ApiError::Conflict {
        code,
        message: message.into(),
        details,
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let message = rejection.to_string();
        let field = |name: &str, code: &str| vec![FieldError::new(name, code, message.clone())];
        match rejection {
            Rejection::DuplicatePhone => conflict(
                "duplicate_phone_number",
                &message,
                field("phone_number", "unique"),
            ),
            Rejection::DuplicateTag => {
                conflict("duplicate_tag", &message, field("value", "unique"))
            }
            Rejection::DuplicateOperatorCode => {
                conflict("duplicate_operator_code", &message, field("code", "unique"))
            }
            Rejection::DuplicateUsername => {
                conflict("duplicate_username", &message, field("username", "unique"))
            }
            Rejection::DuplicateApiKeyName => {
                conflict("duplicate_api_key_name", &message, field("name", "unique"))
            }
            Rejection::OperatorInUse => conflict("operator_in_use", &message, vec![]),
            Rejection::TagInUse(usage) => {
                let next = match (usage.detachable(), usage.clients) {
                    (true, _) => "delete it with ?detach=true to take it off them as well",
                    (false, 0) => "take it out of those filters first",
                    (false, _) => {
                        "take it out of those filters first, then delete it with ?detach=true \
                         to take it off the clients as well"
                    }
                };
                conflict("tag_in_use", format!("{message}; {next}"), vec![])
            }
            Rejection::MailingFinished => conflict("mailing_finished", &message, vec![]),
            Rejection::MailingOver(_) => conflict("mailing_over", &message, vec![]),
            Rejection::NoResendRecipients => ApiError::Validation(vec![FieldError::new(
                "statuses",
                "no_recipients",
                format!("{message}; pick other statuses, e.g. [\"failed\", \"expired\"]"),
            )]),
            Rejection::MailingLocked(UpdateRefused::NotEditable(_)) => {
                conflict("mailing_not_editable", &message, vec![])
            }
            Rejection::MailingLocked(UpdateRefused::RunningFieldsLocked(fields)) => conflict(
                "mailing_running",
                &message,
                fields
                    .iter()
                    .map(|f| {
                        FieldError::new(
                            f.name(),
                            "locked_while_running",
                            "cannot change once the mailing has started",
                        )
                    })
                    .collect(),
            ),
            Rejection::UnknownOperator => ApiError::Validation(vec![FieldError::new(
                "operator_code",
                "unknown_operator",
                "no operator has this code; create the operator first",
            )]),
            Rejection::UnknownClientFilter => ApiError::Validation(vec![FieldError::new(
                "client_filter_id",
                "unknown_client_filter",
                message,
            )]),
            Rejection::Invalid { field, rule } => ApiError::validation(field, &rule),
        }
    }
}
