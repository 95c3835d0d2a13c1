//! A small HTTP server for workers without an API of their own: `/healthz` (alive, with the
//! state the worker reports), `/readyz` (its dependencies answer) and `/metrics`.

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// What a worker tells its health endpoints.
pub trait HealthReport: Send + Sync + 'static {
    /// Facts about the worker's state for `/healthz` (e.g. a paused provider).
    fn status(&self) -> serde_json::Value;
    /// Checks the worker's dependencies; `Err` says which one is not ready, and why.
    fn ready(&self) -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send + '_>>;
}

/// Why a service is not ready, as `/readyz` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// One line for people and probes' logs: "database unreachable", "broker unreachable", ...
    pub reason: String,
    /// The migrations the database lacks, when that is the reason.
    pub pending_migrations: Vec<String>,
}

impl NotReady {
    pub fn because(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            pending_migrations: Vec::new(),
        }
    }

    /// The schema lacks `pending` (oldest first) of the migrations this binary carries.
    pub fn schema_behind(pending: Vec<String>) -> Self {
        let count = pending.len();
        let plural = if count == 1 { "" } else { "s" };
        Self {
            reason: format!(
                "database schema is behind this release: {count} migration{plural} pending ({}); \
                 run `mailing-api migrate`",
                pending.join(", ")
            ),
            pending_migrations: pending,
        }
    }

    /// The body of the 503: `status`, `reason` and, when it is the reason, `pending_migrations`.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "status": "not_ready", "reason": self.reason });
        if !self.pending_migrations.is_empty()
            && let Some(fields) = body.as_object_mut()
        {
            fields.insert(
                "pending_migrations".to_owned(),
                self.pending_migrations.clone().into(),
            );
        }
        body
    }
}

/// A worker's running health server.
pub struct HealthServer {
    handle: ServerHandle,
    port: u16,
}

impl HealthServer {
    /// The port it listens on (the system's choice when the address asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it once the requests under way are answered.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Binds the health server and runs it until [`HealthServer::stop`].
pub fn serve(addr: SocketAddr, report: Arc<dyn HealthReport>) -> std::io::Result<HealthServer> {
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
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(HealthServer { handle, port })
}

/// `{"status": status}` with what the worker says of itself beside it.
fn with_details(status: &str, report: &dyn HealthReport) -> serde_json::Value {
    let mut body = serde_json::json!({ "status": status });
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), report.status())
    {
        body.extend(extra);
    }
    body
}

async fn healthz(report: web::Data<dyn HealthReport>) -> HttpResponse {
    HttpResponse::Ok().json(with_details("ok", &**report))
}

/// Ready or not, with the worker's details when ready: what it reports there (the daily
/// report's e-mail, say) is worth knowing but never makes it unready.
async fn readyz(report: web::Data<dyn HealthReport>) -> HttpResponse {
    match report.ready().await {
        Ok(()) => HttpResponse::Ok().json(with_details("ready", &**report)),
        Err(not_ready) => HttpResponse::ServiceUnavailable().json(not_ready.body()),
    }
}

/// Whether the database answers and holds every migration this binary carries: a worker of a
/// new release must not take work before the release's migration job ran, nor an api serve
/// requests against tables that are not there yet.
pub async fn database_ready<S>(store: &Arc<S>) -> Result<(), NotReady>
where
    S: mailing_domain::store::Ping + ?Sized + Send + Sync + 'static,
{
    let pending = crate::blocking::call(store, |store| {
        store.ping()?;
        store.pending_migrations()
    })
    .await;
    match pending {
        Ok(pending) if pending.is_empty() => Ok(()),
        Ok(pending) => Err(NotReady::schema_behind(pending)),
        Err(mailing_domain::store::StoreError::Unavailable(_)) => {
            Err(NotReady::because("database unreachable"))
        }
        Err(error) => {
            tracing::warn!(%error, "not ready: the database schema could not be checked");
            Err(NotReady::because("database schema could not be checked"))
        }
    }
}

/// Readiness of a worker that needs its database and its broker: `Err` names the one that is
/// not ready.
pub async fn store_and_bus_ready<S>(
    store: &Arc<S>,
    bus: &dyn mailing_bus::Bus,
) -> Result<(), NotReady>
where
    S: mailing_domain::store::Ping + ?Sized + Send + Sync + 'static,
{
    database_ready(store).await?;
    if bus.is_connected() {
        Ok(())
    } else {
        Err(NotReady::because("broker unreachable"))
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

/// The health report of a worker service: ready while it is not stopping and its store and bus
/// answer; `/healthz` adds the broker's state and whatever `status` says of the worker.
pub struct WorkerHealth<S: ?Sized> {
    pub store: Arc<S>,
    pub bus: Arc<dyn mailing_bus::Bus>,
    pub stop: crate::Stop,
    pub status: Box<dyn Fn() -> serde_json::Value + Send + Sync>,
}

impl<S> HealthReport for WorkerHealth<S>
where
    S: mailing_domain::store::Ping + ?Sized + Send + Sync + 'static,
{
    fn status(&self) -> serde_json::Value {
        let mut status = (self.status)();
        if let serde_json::Value::Object(fields) = &mut status {
            fields.insert("broker".to_owned(), broker_state(self.bus.as_ref()).into());
        }
        status
    }

    fn ready(&self) -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send + '_>> {
        Box::pin(async move {
            if self.stop.is_requested() {
                return Err(NotReady::because("stopping"));
            }
            store_and_bus_ready(&self.store, self.bus.as_ref()).await
        })
    }
}
