//! What every HTTP request leaves behind: a request id (taken from `X-Request-Id` when a proxy
//! set one, made up otherwise, and returned in the response), a span that every log line of the
//! request carries (with the client's address, see [`ClientAddress`]), one closing log line naming the mailing, client or message the request was
//! about, and the request metrics.

use crate::client_address::ClientAddress;
use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;
use tracing::Instrument as _;
use tracing::field::Empty;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Requests whose pattern is one of these are logged at debug level: probes, scrapes and the
/// admin UI's live refreshes come every few seconds and would drown the requests that matter.
const QUIET_ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/admin/live",
    "/admin/mailings/{id}/live",
    "/admin/assets/{name}",
];

/// The request's id, for what records the request (the audit log).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Registers the descriptions of the request metrics.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "mailing_http_requests_total",
        "HTTP requests answered by the api, by method, route pattern and status"
    );
    metrics::describe_histogram!(
        "mailing_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from receiving an HTTP request to its response, by method and route pattern"
    );
}

/// The middleware; wrap it outermost so it sees every response, errors included.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_acceptable_id(id))
        .map_or_else(new_request_id, str::to_owned);
    let method = request.method().clone();
    // Computed once here for everything that needs it later (login throttling too).
    let client = ClientAddress::of(request.request());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %request.path(),
        client = %client,
        mailing_id = Empty,
        client_id = Empty,
        message_id = Empty,
    );
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let result = next.call(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();

    let (status, route) = match &result {
        Ok(response) => (
            response.status(),
            response.request().match_pattern().unwrap_or_default(),
        ),
        Err(error) => (error.as_response_error().status_code(), String::new()),
    };
    if let Ok(response) = &result {
        record_ids(&span, response);
    }
    // Unmatched paths share one label: a scanner's guesses must not become series.
    let route = if route.is_empty() {
        "unmatched".to_owned()
    } else {
        route
    };
    let labels = [
        ("method", method.to_string()),
        ("route", route.clone()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("mailing_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "mailing_http_request_duration_seconds",
        "method" => method.to_string(),
        "route" => route.clone(),
    )
    .record(elapsed.as_secs_f64());

    // Tenths of a millisecond: finer is noise, and long decimals bloat every line.
    let elapsed_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
    let status_code = status.as_u16();
    span.in_scope(|| {
        if QUIET_ROUTES.contains(&route.as_str()) {
            tracing::debug!(%route, status = status_code, elapsed_ms, "request answered");
        } else if status.is_server_error() {
            tracing::warn!(%route, status = status_code, elapsed_ms, "request answered");
        } else {
            tracing::info!(%route, status = status_code, elapsed_ms, "request answered");
        }
    });

    result.map(|mut response| {
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
        }
        response
    })
}

/// Puts the ids a request was about on its span: from the path (`/mailings/{id}`) and from the
/// query (`/messages?client_id=7`), so `grep` for an id finds the requests about it too.
fn record_ids<B>(span: &tracing::Span, response: &ServiceResponse<B>) {
    let request = response.request();
    let path_id = request
        .match_info()
        .get("id")
        .and_then(|id| id.parse::<i64>().ok());
    if let Some(id) = path_id {
        let collection = request
            .path()
            .strip_prefix("/api/v1/")
            .and_then(|rest| rest.split('/').next());
        match collection {
            Some("mailings") => span.record("mailing_id", id),
            Some("clients") => span.record("client_id", id),
            Some("messages") => span.record("message_id", id),
            _ => span,
        };
    }
    for (key, value) in form_urlencoded::parse(request.query_string().as_bytes()) {
        if let ("mailing_id" | "client_id", Ok(id)) = (key.as_ref(), value.parse::<i64>()) {
            span.record(key.as_ref(), id);
        }
    }
}

/// An id from outside is kept only if it is short and plain, so it cannot forge log lines or
/// blow up their size.
fn is_acceptable_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_ids_are_kept_only_when_plain_and_short() {
        assert!(is_acceptable_id("3f2a-9c_1.b"));
        assert!(is_acceptable_id(&"a".repeat(64)));
        assert!(!is_acceptable_id(""));
        assert!(!is_acceptable_id(&"a".repeat(65)));
        assert!(!is_acceptable_id("abc\ninjected=1"));
        assert!(!is_acceptable_id("a b"));
    }

    #[test]
    fn made_up_ids_are_unique_and_acceptable() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(is_acceptable_id(&a));
    }
}
