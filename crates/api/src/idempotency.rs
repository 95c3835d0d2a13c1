//! Idempotent POSTs. A `POST` under `/api/v1` sent with an `Idempotency-Key` header runs once
//! per account and key: the same request sent again with the key within [`KEY_LIFETIME`] gets
//! the first answer again, marked `Idempotent-Replayed: true`, and changes nothing. The key with
//! another request is refused (422 `idempotency_key_reused`), and while the first request is
//! still running so is the same one (409 `idempotency_key_in_flight`). Keys live in the
//! database, so every api replica answers alike.
//!
//! Answers of 5xx and 429 are not kept: the key is given up, so a retry runs again. Neither is
//! anything of `POST /api/v1/auth/token`, whose answer is a bearer token; a request without a
//! valid token passes on untouched, to be refused by its handler.

use crate::auth::authenticate;
use crate::error::{ApiError, FieldError};
use crate::extract::{BodyLimit, body_unreadable};
use crate::prepare::Prepared;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpMessage as _, HttpResponse};
use chrono::Utc;
use futures_util::{Stream, StreamExt as _};
use mailing_domain::store::{
    ApiStore, Begun, IdempotentRequest, KeyHold, KeyLifetimes, StoreResult, StoredResponse,
};
use mailing_runtime::{Stop, blocking};
use sha2::{Digest as _, Sha256};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument as _;

/// The request header that names a write.
pub const KEY_HEADER: &str = "Idempotency-Key";
/// The response header that marks an answer sent again.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// How long a key holds its answer; after that it counts as never used.
pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a request may run before another with its key and body may take the key over: its
/// api process is taken to have died mid-request.
pub const STALE_AFTER: Duration = Duration::from_secs(5 * 60);
/// The longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;
/// How often the api removes keys past their lifetime.
const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);

const LIFETIMES: KeyLifetimes = KeyLifetimes {
    ttl: KEY_LIFETIME,
    stale_after: STALE_AFTER,
};

/// A key as it is given in examples and messages.
const EXAMPLE_KEY: &str = "4f6c3a1e-9b2d-4e7f-8a10-5c3b2d1e0f9a";

/// Whether the idempotency rules apply to a request: a `POST` under `/api/v1`, except the
/// login, whose answer is a bearer token that must never be stored.
fn covered(method: &Method, path: &str) -> bool {
    method == Method::POST
        && path.starts_with("/api/v1/")
        && path.trim_end_matches('/') != "/api/v1/auth/token"
}

/// What is wrong with an `Idempotency-Key` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    Empty,
    TooLong,
    InvalidCharacters,
    Repeated,
}

impl KeyProblem {
    fn code(self) -> &'static str {
        match self {
            KeyProblem::Empty => "empty",
            KeyProblem::TooLong => "too_long",
            KeyProblem::InvalidCharacters => "invalid_characters",
            KeyProblem::Repeated => "repeated",
        }
    }

    fn message(self) -> String {
        let rule = match self {
            KeyProblem::Empty => "is empty",
            KeyProblem::TooLong => "is longer than 255 characters",
            KeyProblem::InvalidCharacters => {
                "holds characters other than visible ASCII (letters, digits, punctuation; no \
                 spaces)"
            }
            KeyProblem::Repeated => "is sent more than once; send one",
        };
        format!(
            "{rule}: send 1 to {MAX_KEY_LEN} visible ASCII characters, a new random value per \
             write, such as a UUID: \"{KEY_HEADER}: {EXAMPLE_KEY}\""
        )
    }
}

/// The key of a request's `Idempotency-Key` headers: `None` without one.
pub fn parse_key(headers: &HeaderMap) -> Result<Option<String>, KeyProblem> {
    let mut values = headers.get_all(KEY_HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(KeyProblem::Repeated);
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(KeyProblem::Empty);
    }
    if !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(KeyProblem::InvalidCharacters);
    }
    if bytes.len() > MAX_KEY_LEN {
        return Err(KeyProblem::TooLong);
    }
    // Visible ASCII only, so this is the key's text.
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// 400: an `Idempotency-Key` header that cannot be a key.
pub(crate) fn invalid_key(problem: KeyProblem) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_idempotency_key",
        message: format!("the {KEY_HEADER} header is not a valid key; see details"),
        details: vec![FieldError::new(
            KEY_HEADER,
            problem.code(),
            problem.message(),
        )],
    }
}

/// 409: the first request with this key is still running.
pub(crate) fn key_in_flight() -> ApiError {
    ApiError::Conflict {
        code: "idempotency_key_in_flight",
        message: format!(
            "a request with this {KEY_HEADER} is still being answered; retry in a moment to \
             get its answer"
        ),
        details: vec![],
    }
}

/// 422: the key was sent before with another request.
pub(crate) fn key_reused() -> ApiError {
    ApiError::Unprocessable {
        code: "idempotency_key_reused",
        message: format!(
            "this {KEY_HEADER} was sent with another request (method, path, query or body); \
             use a new key for a new request"
        ),
    }
}

/// The hex SHA-256 that tells requests apart: method, path with query, and body.
pub fn request_hash(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    // Neither a method nor a path holds a line break, so the parts cannot run into each other.
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path_and_query.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The middleware; it wraps the routes directly (inside [`crate::health::until_prepared`]), so
/// that what it stores and replays is each handler's own answer.
pub async fn idempotent<B: MessageBody + 'static>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let passed = |request: ServiceRequest, next: Next<B>| async move {
        Ok(next.call(request).await?.map_into_boxed_body())
    };
    if !covered(request.method(), request.path()) || !request.headers().contains_key(KEY_HEADER) {
        return passed(request, next).await;
    }
    let Some(state) = request.app_data::<Data<AppState>>().cloned() else {
        return passed(request, next).await;
    };
    // Without a valid token the handler answers 401, before it reads anything.
    let Ok(caller) = authenticate(request.request()).await else {
        return passed(request, next).await;
    };
    let key = match parse_key(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return passed(request, next).await,
        Err(problem) => return Ok(request.error_response(invalid_key(problem))),
    };
    let body = match read_body(&mut request).await {
        Ok(Some(body)) => body,
        // Over the limit: passed on as it came, for the handler's 413.
        Ok(None) => return passed(request, next).await,
        Err(error) => return Ok(request.error_response(error)),
    };
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.path().to_owned(), |pq| pq.as_str().to_owned());
    let asked = IdempotentRequest {
        account: caller.account(),
        key,
        request_hash: request_hash(request.method().as_str(), &path, &body),
    };
    let now = Utc::now();
    let begun = match store_call(&state.store, move |s| {
        s.begin_idempotent(&asked, now, LIFETIMES)
    })
    .await
    {
        Ok(begun) => begun,
        Err(error) => return Ok(request.error_response(error)),
    };
    let hold = match begun {
        Begun::Started(hold) => hold,
        Begun::Replay(stored) => {
            tracing::info!(
                status = stored.status,
                "answered again from its idempotency key"
            );
            return Ok(request.into_response(replay(stored)));
        }
        Begun::InFlight => return Ok(request.error_response(key_in_flight())),
        Begun::Reused => return Ok(request.error_response(key_reused())),
    };
    request.set_payload(Payload::from(body));
    // On a task of its own, so that the answer is stored (or the key given up) even when the
    // client goes away mid-request, which drops this future.
    let running = actix_web::rt::spawn(
        async move {
            let result = next.call(request).await;
            settle(&state.store, hold, result).await
        }
        .instrument(tracing::Span::current()),
    );
    match running.await {
        Ok(answered) => answered,
        // A panic leaves the key in flight: whether the write happened is not known, so the
        // same request runs again only once the key went stale.
        Err(error) => Err(ApiError::Internal(format!("the request's task failed: {error}")).into()),
    }
}

/// The whole body, or `None` when it is larger than [`BodyLimit`]; then the request's payload
/// is what it was, so its handler answers 413 as without a key.
pub(crate) async fn read_body(request: &mut ServiceRequest) -> Result<Option<Bytes>, ApiError> {
    let limit = BodyLimit::of(request.request());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Ok(None);
    }
    let mut payload = request.take_payload();
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| body_unreadable())?;
        if body.len() + chunk.len() > limit {
            body.extend_from_slice(&chunk);
            let read = futures_util::stream::once(std::future::ready(Ok(Bytes::from(body))));
            let whole: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
                Box::pin(read.chain(payload));
            request.set_payload(Payload::from(whole));
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(Bytes::from(body)))
}

/// Runs a call of the key store on the blocking pool. Any failure is a 503: the request did
/// not run, and a retry may find the database back.
async fn store_call<T, F>(store: &Arc<dyn ApiStore>, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn ApiStore) -> StoreResult<T> + Send + 'static,
{
    blocking::call(store, call).await.map_err(|error| {
        tracing::warn!(%error, "the idempotency keys cannot be read or written");
        ApiError::Unavailable
    })
}

/// The stored answer, sent again.
fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
    ] {
        if let Some(value) = value.and_then(|value| HeaderValue::try_from(value).ok()) {
            response.insert_header((name, value));
        }
    }
    response
        .insert_header((REPLAYED_HEADER, "true"))
        .body(stored.body)
}

/// Keeps the handler's answer for the key, or gives the key up when a retry should run again:
/// a 5xx, a 429 or a failure without an answer.
async fn settle<B: MessageBody + 'static>(
    store: &Arc<dyn ApiStore>,
    hold: KeyHold,
    result: Result<ServiceResponse<B>, actix_web::Error>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            give_up(store, hold).await;
            return Err(error);
        }
    };
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        give_up(store, hold).await;
        return Ok(response.map_into_boxed_body());
    }
    let (request, response) = response.into_parts();
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header_text(header::CONTENT_TYPE);
    let location = header_text(header::LOCATION);
    let (head, body) = response.into_parts();
    let body = match to_bytes(body).await {
        Ok(body) => body,
        Err(error) => {
            give_up(store, hold).await;
            let cause: Box<dyn std::error::Error> = error.into();
            return Err(ApiError::Internal(format!("reading the answer: {cause}")).into());
        }
    };
    let stored = StoredResponse {
        status: status.as_u16(),
        content_type,
        location,
        body: body.to_vec(),
    };
    let now = Utc::now();
    // The write is done and its answer goes out either way; a key left without it stays in
    // flight until it goes stale.
    match blocking::call(store, move |s| s.complete_idempotent(&hold, &stored, now)).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "the idempotency key was taken over before this answer could be kept for it"
        ),
        Err(error) => {
            tracing::warn!(%error, "the answer could not be kept for its idempotency key")
        }
    }
    Ok(ServiceResponse::new(
        request,
        head.set_body(BoxBody::new(body)),
    ))
}

async fn give_up(store: &Arc<dyn ApiStore>, hold: KeyHold) {
    if let Err(error) = blocking::call(store, move |s| s.abandon_idempotent(&hold)).await {
        // It goes stale in a few minutes, and then a retry runs.
        tracing::warn!(%error, "the idempotency key could not be given up");
    }
}

/// Removes the keys past their lifetime, once the database is prepared and then every hour,
/// until `stop`. Every replica does it; a purge that fails is tried at the next round.
pub(crate) async fn purge_expired(
    store: Arc<dyn ApiStore>,
    prepared: Arc<Prepared>,
    mut stop: Stop,
) {
    tokio::select! {
        () = prepared.wait() => {}
        () = stop.requested() => return,
    }
    loop {
        let before = Utc::now()
            - chrono::Duration::from_std(KEY_LIFETIME).expect("a day is a chrono duration");
        match blocking::call(&store, move |s| s.purge_idempotency_keys(before)).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "expired idempotency keys removed"),
            Err(error) => tracing::warn!(%error, "expired idempotency keys could not be removed"),
        }
        tokio::select! {
            () = tokio::time::sleep(PURGE_EVERY) => {}
            () = stop.requested() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{LoginThrottle, Tokens};
    use actix_web::middleware::from_fn;
    use actix_web::{App, ResponseError as _, test as actix_test, web};
    use mailing_storage::testing::TestSqliteDatabase;
    use secrecy::SecretString;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers, call after call: 503, 429, 500, then a 303 with a `Location` for good.
    async fn flaky(calls: Data<AtomicUsize>) -> HttpResponse {
        match calls.fetch_add(1, Ordering::SeqCst) {
            0 => HttpResponse::ServiceUnavailable().finish(),
            1 => HttpResponse::TooManyRequests().finish(),
            2 => ApiError::Internal("a failure".to_owned()).error_response(),
            _ => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/api/v1/clients/7"))
                .content_type("text/plain")
                .body("see there"),
        }
    }

    #[actix_web::test]
    async fn answers_a_retry_may_cure_are_not_kept_and_the_next_one_is() {
        let db = TestSqliteDatabase::create();
        let bus = mailing_bus::testing::TestBus::in_memory();
        let state = Data::new(AppState {
            store: db.store(),
            tokens: Tokens::new(
                &SecretString::from("a secret of at least thirty-two bytes".to_owned()),
                Duration::from_secs(600),
            ),
            admin_session_ttl: Duration::from_secs(600),
            login_throttle: LoginThrottle::new(10, Duration::from_secs(300)),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            prepared: Arc::new(Prepared::default()),
            bus: bus.connect("api").await,
            inbound: crate::operations::inbound::InboundConfig {
                secret: None,
                keywords: Default::default(),
            },
            admin_username: "admin".to_owned(),
            password_login: true,
            single_sign_on: None,
            reports: crate::operations::reports::ReportConfig {
                calendar: mailing_domain::report::ReportCalendar {
                    time: chrono::NaiveTime::MIN,
                    zone: chrono_tz::UTC,
                    day: mailing_domain::report::ReportDay::Previous,
                },
                mailer: None,
            },
        });
        let (token, claims) = state.tokens.issue("admin", Utc::now().timestamp()).unwrap();
        state.store.save_user("admin", "not a hash").unwrap();
        state
            .store
            .create_access_token(&mailing_domain::store::NewAccessToken {
                token_id: claims.jti,
                username: "admin".to_owned(),
                created_at: Utc::now(),
                expires_at: Utc::now() + chrono::Duration::minutes(10),
            })
            .unwrap();
        let calls = Data::new(AtomicUsize::new(0));
        let app = actix_test::init_service(
            App::new()
                .app_data(state)
                .app_data(calls.clone())
                .wrap(from_fn(idempotent))
                .route("/api/v1/flaky", web::post().to(flaky)),
        )
        .await;
        let send = || {
            let request = actix_test::TestRequest::post()
                .uri("/api/v1/flaky")
                .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
                .insert_header((KEY_HEADER, "retried"))
                .set_payload("the same body")
                .to_request();
            actix_test::call_service(&app, request)
        };
        for expected in [503, 429, 500, 303] {
            let response = send().await;
            assert_eq!(response.status().as_u16(), expected);
            assert!(response.headers().get(REPLAYED_HEADER).is_none());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4, "each ran");

        let replayed = send().await;
        assert_eq!(calls.load(Ordering::SeqCst), 4, "the 303 was kept");
        assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
        let header = |name: &str| replayed.headers().get(name).unwrap().to_str().unwrap();
        assert_eq!(header("location"), "/api/v1/clients/7");
        assert_eq!(header("content-type"), "text/plain");
        assert_eq!(header(REPLAYED_HEADER), "true");
        assert_eq!(actix_test::read_body(replayed).await, "see there");
    }

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                header::HeaderName::from_static("idempotency-key"),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_key_is_one_header_of_1_to_255_visible_ascii_characters() {
        assert_eq!(parse_key(&headers(&[])), Ok(None));
        assert_eq!(
            parse_key(&headers(&[EXAMPLE_KEY.as_bytes()])),
            Ok(Some(EXAMPLE_KEY.to_owned()))
        );
        let longest = "k".repeat(MAX_KEY_LEN);
        assert_eq!(
            parse_key(&headers(&[longest.as_bytes()])),
            Ok(Some(longest.clone()))
        );
        assert_eq!(
            parse_key(&headers(&[format!("{longest}k").as_bytes()])),
            Err(KeyProblem::TooLong)
        );
        assert_eq!(parse_key(&headers(&[b""])), Err(KeyProblem::Empty));
        for bad in [&b"two words"[..], b"tab\there", "ключ".as_bytes()] {
            assert_eq!(
                parse_key(&headers(&[bad])),
                Err(KeyProblem::InvalidCharacters),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_key(&headers(&[b"a", b"a"])),
            Err(KeyProblem::Repeated)
        );
    }

    #[test]
    fn the_hash_covers_method_path_query_and_body() {
        let hash = request_hash("POST", "/api/v1/clients", b"{}");
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(hash, request_hash("POST", "/api/v1/clients", b"{}"));
        for other in [
            request_hash("PUT", "/api/v1/clients", b"{}"),
            request_hash("POST", "/api/v1/tags", b"{}"),
            request_hash("POST", "/api/v1/clients?x=1", b"{}"),
            request_hash("POST", "/api/v1/clients", b"{ }"),
        ] {
            assert_ne!(hash, other);
        }
    }

    #[test]
    fn only_posts_under_the_api_but_the_login_are_covered() {
        assert!(covered(&Method::POST, "/api/v1/clients"));
        assert!(covered(&Method::POST, "/api/v1/mailings/7/cancel"));
        assert!(!covered(&Method::PUT, "/api/v1/clients/7"));
        assert!(!covered(&Method::PATCH, "/api/v1/clients/7"));
        assert!(!covered(&Method::POST, "/api/v1/auth/token"));
        assert!(!covered(&Method::POST, "/api/v1/auth/token/"));
        assert!(!covered(&Method::POST, "/admin/clients"));
        assert!(!covered(&Method::POST, "/api/v2/clients"));
    }
}
