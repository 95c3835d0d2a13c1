//! `POST /v1/send/{msgId}`: the provider's one endpoint. Checks run in the provider's order
//! (token, then request); only a request that passes both meets the configured faults.

use crate::faults::{Fault, OutageMode, RetryAfter, request_rng};
use crate::state::{Outcome, Runtime, SimState};
use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

const OK_BODY: &str = r#"{"code":0,"message":"OK"}"#;

/// The provider's request body.
#[derive(Deserialize)]
struct Msg {
    id: i64,
    phone: u64,
    text: String,
}

pub async fn send(
    request: HttpRequest,
    msg_id: Path<String>,
    body: Bytes,
    state: Data<SimState>,
) -> HttpResponse {
    let _in_flight = state.begin_request();
    // A delivery is timed by when it reached the provider: the sender decides what to send and
    // when, the simulated latency is the provider's own.
    let arrived_at = Utc::now();
    let runtime = state.runtime();
    let msg_id = msg_id.into_inner();

    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if let Err(rejection) = runtime.verifier.check_header(authorization) {
        return refuse(
            &state,
            &msg_id,
            Outcome::Unauthorized,
            &rejection.to_string(),
        );
    }
    let msg = match parse(&msg_id, &body) {
        Ok(msg) => msg,
        Err(problem) => return refuse(&state, &msg_id, Outcome::BadRequest, &problem),
    };
    if runtime
        .outage
        .is_some_and(|window| window.contains(Utc::now()))
    {
        let response = match runtime.faults.outage_mode {
            OutageMode::Unavailable => {
                error(StatusCode::SERVICE_UNAVAILABLE, "service unavailable")
            }
            OutageMode::Drop => HttpResponse::ServiceUnavailable().body(Severed),
        };
        return finish(&state, &msg_id, Outcome::Outage, response);
    }

    let decision = runtime
        .faults
        .decide(&mut request_rng(runtime.seed, state.next_sequence()));
    if let Fault::Hang(duration) = decision.fault {
        // Counted when it starts: the client gives up long before the answer comes.
        state.count(Outcome::Hang);
        tracing::debug!(
            message_id = message_id(&msg_id),
            outcome = Outcome::Hang.as_str(),
            "send"
        );
        tokio::time::sleep(duration).await;
        return error(StatusCode::GATEWAY_TIMEOUT, "gave up");
    }
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let (outcome, response) = match decision.fault {
        Fault::None => {
            state
                .recorder()
                .record(msg.id, msg.phone, &msg.text, arrived_at);
            if state.replier().count_accepted(&runtime.replies) {
                reply_in_background(&state, &runtime, msg.phone);
            }
            (
                Outcome::Ok,
                HttpResponse::Ok().content_type(mime_json()).body(OK_BODY),
            )
        }
        Fault::Error500 => (
            Outcome::Error500,
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
        ),
        Fault::Error429(retry_after) => (
            Outcome::Error429,
            asking_to_wait(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests",
                retry_after,
            ),
        ),
        Fault::Error503(retry_after) => (
            Outcome::Error503,
            asking_to_wait(
                StatusCode::SERVICE_UNAVAILABLE,
                "service unavailable",
                retry_after,
            ),
        ),
        Fault::Malformed(reply) => (
            Outcome::Malformed,
            HttpResponse::Ok()
                .content_type(reply.content_type)
                .body(reply.body),
        ),
        Fault::Hang(_) => unreachable!("answered above"),
    };
    finish(&state, &msg_id, outcome, response)
}

/// Posts a reply from `phone` on its own task, so the send's answer neither waits for it nor
/// depends on it; the replier logs and counts a failure.
fn reply_in_background(state: &Data<SimState>, runtime: &Arc<Runtime>, phone: u64) {
    let state = state.clone();
    let runtime = runtime.clone();
    tokio::spawn(async move {
        let replies = &runtime.replies;
        // Logged and counted by the replier; nobody waits for the outcome.
        let _ = state
            .replier()
            .post(replies, &phone.to_string(), &replies.text)
            .await;
    });
}

fn finish(
    state: &SimState,
    msg_id: &str,
    outcome: Outcome,
    response: HttpResponse,
) -> HttpResponse {
    state.count(outcome);
    // Every request, so at debug: `GET /_sim/stats` counts them.
    tracing::debug!(
        message_id = message_id(msg_id),
        outcome = outcome.as_str(),
        "send"
    );
    response
}

/// Answers a request that fails the contract; the reason is logged and sent back.
fn refuse(state: &SimState, msg_id: &str, outcome: Outcome, reason: &str) -> HttpResponse {
    state.count(outcome);
    match message_id(msg_id) {
        Some(id) => tracing::info!(message_id = id, outcome = outcome.as_str(), reason, "send"),
        // Not a number: kept as sent, so the refusal can be matched with the request.
        None => tracing::info!(
            message_id_sent = msg_id,
            outcome = outcome.as_str(),
            reason,
            "send"
        ),
    }
    let status = match outcome {
        Outcome::Unauthorized => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, reason)
}

/// The message id of the path as logs carry it: a number, like the services' `message_id`.
fn message_id(msg_id: &str) -> Option<i64> {
    msg_id.parse().ok()
}

fn parse(msg_id: &str, body: &[u8]) -> Result<Msg, String> {
    let msg_id: i64 = msg_id
        .parse()
        .map_err(|_| format!("msgId {msg_id:?} is not a 64-bit integer"))?;
    if body.is_empty() {
        return Err("the request body is empty".to_owned());
    }
    let msg: Msg = serde_json::from_slice(body)
        .map_err(|error| format!("the body is not {{\"id\", \"phone\", \"text\"}}: {error}"))?;
    if msg.id != msg_id {
        return Err(format!(
            "the body's id {} differs from msgId {msg_id}",
            msg.id
        ));
    }
    Ok(msg)
}

fn mime_json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

fn error_body(status: StatusCode, message: &str) -> String {
    serde_json::json!({ "code": status.as_u16(), "message": message }).to_string()
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(mime_json())
        .body(error_body(status, message))
}

/// An error answer with the `Retry-After` the settings ask for, dated from now.
fn asking_to_wait(status: StatusCode, message: &str, retry_after: RetryAfter) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if let Some(value) = retry_after.header_value(Utc::now()) {
        response.insert_header((header::RETRY_AFTER, value));
    }
    response
        .content_type(mime_json())
        .body(error_body(status, message))
}

/// A body that fails before its first byte. actix then closes the connection without sending
/// the response head, which is how the drop outage mode cuts a request off unanswered.
struct Severed;

impl MessageBody for Severed {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other(
            "outage: connection dropped",
        ))))
    }
}
