//! The test-control API under `/_sim/`. It takes no credentials: it is for tests and
//! development only, and the simulator must never be reachable from outside their network.

use crate::faults::{FaultsError, OutageWindow};
use crate::replies::ReplyError;
use crate::state::{ConfigPatch, SimState};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Data, Path, Query};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// Largest page of `GET /_sim/received`.
pub const MAX_PAGE: usize = 100_000;
const DEFAULT_PAGE: usize = 1_000;

fn bad_request(message: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "code": 400, "message": message.to_string() }))
}

pub async fn get_config(state: Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.config(Utc::now()))
}

pub async fn put_config(state: Data<SimState>, body: Bytes) -> HttpResponse {
    let patch = match ConfigPatch::from_json(&body) {
        Ok(patch) => patch,
        Err(error) => return bad_request(error),
    };
    match state.update(&patch) {
        Ok(()) => {
            let config = state.config(Utc::now());
            tracing::info!(
                config = %serde_json::to_string(&config).unwrap_or_default(),
                secret_changed = patch.jwt_secret.is_some(),
                reply_secret_changed = patch.reply_secret.is_some(),
                "settings changed"
            );
            HttpResponse::Ok().json(config)
        }
        Err(FaultsError::Invalid { field, problem }) => bad_request(format!("{field}: {problem}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageRequest {
    seconds: f64,
    start: Option<DateTime<Utc>>,
}

/// `{"seconds": N}` opens an outage from now for N seconds, `{"seconds": N, "start": "..."}`
/// from the given instant; `{"seconds": 0}` ends any outage.
pub async fn post_outage(state: Data<SimState>, body: Bytes) -> HttpResponse {
    let request: OutageRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(error),
    };
    let Ok(duration) = Duration::try_from_secs_f64(request.seconds) else {
        return bad_request("seconds: must be a non-negative number");
    };
    let window = (!duration.is_zero())
        .then(|| OutageWindow::new(request.start.unwrap_or_else(Utc::now), duration));
    state.set_outage(window);
    match window {
        Some(window) => tracing::info!(
            start = %window.start.to_rfc3339(),
            end = %window.end.to_rfc3339(),
            "outage set"
        ),
        None => tracing::info!("outage ended"),
    }
    HttpResponse::Ok().json(state.config(Utc::now()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyRequest {
    from: String,
    /// Unset: the configured reply text.
    text: Option<String>,
}

/// `{"from": "79001234567", "text": "СТОП"}` posts that reply, signed, to the reply URL now and
/// answers with the target's status and body; 409 when replies are not configured, 502 when
/// the target cannot be reached.
pub async fn post_reply(state: Data<SimState>, body: Bytes) -> HttpResponse {
    let request: ReplyRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(error),
    };
    if request.from.trim().is_empty() {
        return bad_request("from: must not be empty");
    }
    let runtime = state.runtime();
    let text = request.text.unwrap_or_else(|| runtime.replies.text.clone());
    match state
        .replier()
        .post(&runtime.replies, &request.from, &text)
        .await
    {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = HttpResponse::build(status);
            if let Some(content_type) = answer.content_type {
                response.insert_header((actix_web::http::header::CONTENT_TYPE, content_type));
            }
            response.body(answer.body)
        }
        Err(error @ ReplyError::NotConfigured) => {
            HttpResponse::Conflict().json(json!({ "code": 409, "message": error.to_string() }))
        }
        Err(error @ ReplyError::Unreachable(_)) => {
            HttpResponse::BadGateway().json(json!({ "code": 502, "message": error.to_string() }))
        }
    }
}

pub async fn get_stats(state: Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    after: Option<i64>,
    limit: Option<usize>,
    min_count: Option<u32>,
}

#[derive(Serialize)]
struct Received {
    id: i64,
    count: u32,
}

/// Ids answered OK, in ascending order, a page at a time: follow `next_after` until it is null.
pub async fn list_received(state: Data<SimState>, query: Query<PageQuery>) -> HttpResponse {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return bad_request(format!("limit: must be 1 to {MAX_PAGE}"));
    }
    let page = state
        .recorder()
        .page(query.after, limit, query.min_count.unwrap_or(1));
    let next_after = (page.len() == limit)
        .then(|| page.last().map(|(id, _)| *id))
        .flatten();
    let items: Vec<Received> = page
        .into_iter()
        .map(|(id, count)| Received { id, count })
        .collect();
    HttpResponse::Ok().json(json!({ "items": items, "next_after": next_after }))
}

pub async fn get_received(state: Data<SimState>, id: Path<String>) -> HttpResponse {
    let Ok(id) = id.parse::<i64>() else {
        return bad_request("the id must be a 64-bit integer");
    };
    match state.recorder().get(id) {
        Some(delivered) => HttpResponse::Ok().json(json!({
            "id": delivered.id,
            "count": delivered.count,
            "phone": delivered.phone,
            "text": delivered.text,
            "first_at": delivered.first_at,
            "last_at": delivered.last_at,
        })),
        None => HttpResponse::build(StatusCode::NOT_FOUND).json(json!({ "id": id, "count": 0 })),
    }
}

/// `{"per_millisecond": [[ms since the epoch, requests], ...]}`: when every request to the
/// send endpoint arrived, whatever its answer, for checking the rate the provider saw.
pub async fn get_arrivals(state: Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "per_millisecond": state.arrivals().per_millisecond() }))
}

/// Forgets the deliveries and zeroes the counters; the fault settings stay.
pub async fn delete_received(state: Data<SimState>) -> HttpResponse {
    state.reset();
    tracing::info!("record reset");
    HttpResponse::NoContent().finish()
}
