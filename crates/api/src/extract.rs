//! Request extractors that answer malformed input with the API's JSON errors and name the
//! offending field, where actix's own extractors answer in plain text.

use crate::error::{ApiError, FieldError};
use crate::operations::examples;
use crate::operations::input::{body_shape_problem, plain_type_message, value_at_path};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// The largest request body accepted, in bytes; kept in app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    /// The limit that applies to `req`: the configured one, or 64 KiB without one.
    pub fn of(req: &HttpRequest) -> usize {
        req.app_data::<BodyLimit>()
            .map_or(64 * 1024, |limit| limit.0)
    }
}

/// A JSON request body. Unknown fields, wrong types and missing fields are reported with the
/// path of the field (422); broken JSON is a 400; a body over [`BodyLimit`] a 413.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = BodyLimit::of(req);
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<mime::Mime>().ok())
            .is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|length| length > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let mut body = Vec::with_capacity(declared_length.unwrap_or(0));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| body_unreadable())?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(JsonBody)
        })
    }
}

/// The 400 of a body that broke off before its end.
pub(crate) fn body_unreadable() -> ApiError {
    ApiError::BadRequest {
        code: "body_unreadable",
        message: "the request body could not be read".to_owned(),
        details: vec![],
    }
}

/// Reads a JSON body into `T`, as [`JsonBody`] does.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            // Input types read every member leniently (see `operations::input`), so a data
            // error is mostly about the body's outer shape: not an object.
            serde_json::error::Category::Data => {
                match serde_json::from_slice::<serde_json::Value>(body) {
                    Ok(found) if !found.is_object() => {
                        ApiError::Validation(vec![body_shape_problem(&found)])
                    }
                    Ok(found) => ApiError::Validation(vec![data_error(
                        &path,
                        &inner.to_string(),
                        value_at_path(&found, &path),
                    )]),
                    Err(error) => malformed_json(&error),
                }
            }
            _ => malformed_json(&inner),
        }
    })?;
    deserializer.end().map_err(|error| malformed_json(&error))?;
    Ok(value)
}

fn malformed_json(error: &serde_json::Error) -> ApiError {
    let problem = match error.classify() {
        serde_json::error::Category::Eof => "it ends too early",
        _ => "it is not valid JSON",
    };
    let mut reason = error.to_string();
    if let Some((head, _)) = reason.rsplit_once(" at line ") {
        reason = head.to_owned();
    }
    ApiError::BadRequest {
        code: "malformed_json",
        message: format!(
            "the request body cannot be read: {problem} ({reason} at line {}, column {}); \
             send a JSON object such as {{\"name\": \"value\"}}",
            error.line(),
            error.column()
        ),
        details: vec![],
    }
}

/// Turns serde's message about a field into a field error with a stable code; `found` is what
/// the request gave there.
fn data_error(path: &str, serde_message: &str, found: &serde_json::Value) -> FieldError {
    // serde_json appends the position; the field path says more.
    let message = serde_message
        .rsplit_once(" at line ")
        .map_or(serde_message, |(head, _)| head);
    if message.starts_with("unknown field `") {
        // The path already ends at the unknown field.
        return FieldError::new(
            field_or_body(path),
            "unknown_field",
            "is not a field of this object; check the spelling against the API document",
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = join_path(path, name);
        let example = examples::suffix(&field);
        return FieldError::new(field, "required", format!("is required{example}"));
    }
    let field = field_or_body(path);
    let example = examples::suffix(&field);
    let wrong = plain_type_message(message, found);
    FieldError::new(field, "invalid_type", format!("{wrong}{example}"))
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() || parent == "." {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn field_or_body(path: &str) -> String {
    if path.is_empty() || path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    }
}

impl<T: Apiv2Schema> Apiv2Schema for JsonBody<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for JsonBody<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        paperclip::actix::web::Json::<T>::update_parameter(op);
    }
}

/// A query string. A parameter of the wrong type or an unknown parameter is a 400 naming it.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(QueryParams))
    }
}

/// Reads a query string into `T`, as [`QueryParams`] does.
pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let found = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| *name == path)
            .map_or(serde_json::Value::Null, |(_, value)| {
                serde_json::Value::String(value.into_owned())
            });
        let mut detail = data_error(&path, &message, &found);
        if detail.field == "body" {
            detail.field = "query".to_owned();
        }
        ApiError::invalid_query(vec![detail])
    })
}

impl<T: Apiv2Schema> Apiv2Schema for QueryParams<T> {}

impl<T: Apiv2Schema> OperationModifier for QueryParams<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        paperclip::actix::web::Query::<T>::update_parameter(op);
    }

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

/// Answers a path segment that does not parse (`/clients/abc`) with a 400 naming it.
pub fn path_error(_: actix_web::error::PathError, request: &HttpRequest) -> actix_web::Error {
    invalid_path(request.match_info().get("id").unwrap_or_default()).into()
}

/// The 400 of a path id that is not a whole number: `sent` is what the path has in its place.
pub(crate) fn invalid_path(sent: &str) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_path",
        message: "the path names a record by a value that is not an id; see details".to_owned(),
        details: vec![FieldError::new(
            "id",
            "invalid_id",
            format!("must be a whole number such as 42, not {sent:?}"),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn details(error: ApiError) -> Vec<FieldError> {
        match error {
            ApiError::Validation(details) => details,
            ApiError::BadRequest { details, .. } => details,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field_and_rule() {
        let d = details(parse_json::<Body>(br#"{"name": 1}"#).unwrap_err());
        assert_eq!(
            (d[0].field.as_str(), d[0].code.as_str()),
            ("name", "invalid_type")
        );
        assert_eq!(
            d[0].message,
            "must be text, not the number 1; for example \"VIP clients in Moscow\""
        );
        let d =
            details(parse_json::<Body>(br#"{"name": "x", "inner": {"count": -1}}"#).unwrap_err());
        assert_eq!(
            (d[0].field.as_str(), d[0].code.as_str()),
            ("inner.count", "invalid_type")
        );
        assert_eq!(d[0].message, "must be a whole number, not the number -1");
        let d = details(parse_json::<Body>(br#"{"name": "x", "extra": 1}"#).unwrap_err());
        assert_eq!(
            (d[0].field.as_str(), d[0].code.as_str()),
            ("extra", "unknown_field")
        );
        let d = details(parse_json::<Body>(br#"{}"#).unwrap_err());
        assert_eq!(
            (d[0].field.as_str(), d[0].code.as_str()),
            ("name", "required")
        );
        let d = details(parse_json::<Body>(br#"{"name": "x", "inner": {}}"#).unwrap_err());
        assert_eq!(
            (d[0].field.as_str(), d[0].code.as_str()),
            ("inner.count", "required")
        );
        let d = details(parse_json::<Body>(br#""a string""#).unwrap_err());
        assert_eq!(
            (d[0].field.as_str(), d[0].code.as_str()),
            ("body", "not_an_object")
        );
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        for body in [&b""[..], b"{", b"{\"name\": \"x\"} trailing", b"nul"] {
            assert!(matches!(
                parse_json::<Body>(body),
                Err(ApiError::BadRequest {
                    code: "malformed_json",
                    ..
                })
            ));
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Query {
        page: Option<u32>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert!(parse_query::<Query>("page=2").is_ok());
        let d = details(parse_query::<Query>("page=abc").unwrap_err());
        assert_eq!(d[0].field, "page");
        let d = details(parse_query::<Query>("color=red").unwrap_err());
        assert_eq!(
            (d[0].field.as_str(), d[0].code.as_str()),
            ("color", "unknown_field")
        );
    }
}
