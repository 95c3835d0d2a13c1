//! The simulator's HTTP routes: the provider's contract, the admin API and health.

pub mod admin;
pub mod send;

use actix_web::HttpResponse;

/// The simulator holds no dependency that could make it unready, so both probes answer alike.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}
