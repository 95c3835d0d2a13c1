//! A small HTTP server for workers without an API of their own: `/healthz` (alive, with the
//! state the worker reports), `/readyz` (its dependencies answer) and `/metrics`.

use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// What a worker tells its health endpoints.
pub trait HealthReport: Send + Sync + 'static {
    /// Facts about the worker's state for `/healthz` (e.g. a paused provider).
    fn status(&self) -> serde_json::Value;
    /// Checks the worker's dependencies; `Err` names the one that does not answer.
    fn ready(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// Binds the health server; it runs until the returned [`Server`] is stopped or dropped.
pub fn serve(addr: SocketAddr, report: Arc<dyn HealthReport>) -> std::io::Result<(Server, u16)> {
    let report = web::Data::from(report);
    crate::metrics::install();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(report.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(crate::metrics::endpoint))
    })
    .workers(1)
    .disable_signals()
    .bind(addr)?;
    let port = server.addrs().first().map_or(0, SocketAddr::port);
    Ok((server.run(), port))
}

async fn healthz(report: web::Data<dyn HealthReport>) -> HttpResponse {
    let mut body = serde_json::json!({ "status": "ok" });
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), report.status())
    {
        body.extend(extra);
    }
    HttpResponse::Ok().json(body)
}

async fn readyz(report: web::Data<dyn HealthReport>) -> HttpResponse {
    match report.ready().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(reason) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "not_ready", "reason": reason })),
    }
}

/// Readiness of a worker that needs its database and its broker: `Err` names the one that does
/// not answer.
pub async fn store_and_bus_ready(
    store: &std::sync::Arc<dyn mailing_domain::store::Store>,
    bus: &dyn mailing_bus::Bus,
) -> Result<(), String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.ping())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "database unreachable".to_owned())?;
    if bus.is_connected() {
        Ok(())
    } else {
        Err("broker unreachable".to_owned())
    }
}

/// How a worker reports its broker connection in `/healthz`.
pub fn broker_state(bus: &dyn mailing_bus::Bus) -> &'static str {
    if bus.is_connected() {
        "connected"
    } else {
        "disconnected"
    }
}
