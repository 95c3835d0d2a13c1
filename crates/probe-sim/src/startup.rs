//! Builds the HTTP server from settings.

use crate::faults::OutageWindow;
use crate::routes::{self, admin, send};
use crate::settings::SimSettings;
use crate::state::SimState;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use chrono::Utc;
use std::net::TcpListener;

/// Requests are a few hundred bytes; this only bounds what a broken client can make us buffer.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Long enough for answered requests to finish, short enough that hanging ones do not hold up
/// a stop for their full hang.
const SHUTDOWN_TIMEOUT_SECONDS: u64 = 5;

pub struct Simulator {
    port: u16,
    state: web::Data<SimState>,
    server: Server,
}

impl Simulator {
    /// Binds the listener and prepares the server; it serves once
    /// [`Simulator::run_until_stopped`] is awaited (or spawned). Call it inside a Tokio runtime.
    pub fn build(settings: SimSettings) -> anyhow::Result<Self> {
        let seed = settings.seed.unwrap_or_else(rand::random);
        let state = web::Data::new(SimState::with_replies(
            settings.faults.clone(),
            seed,
            &settings.jwt_secret,
            settings.replies.clone(),
        ));
        if !settings.outage.is_zero() {
            state.set_outage(Some(OutageWindow::new(Utc::now(), settings.outage)));
        }
        let listener = TcpListener::bind(settings.addr)
            .with_context(|| format!("binding {} (PROBE_SIM_ADDR)", settings.addr))?;
        let port = listener.local_addr()?.port();
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .route("/v1/send/{msg_id}", web::post().to(send::send))
                .route("/healthz", web::get().to(routes::healthz))
                .route("/readyz", web::get().to(routes::healthz))
                .service(
                    web::scope("/_sim")
                        .route("/config", web::get().to(admin::get_config))
                        .route("/config", web::put().to(admin::put_config))
                        .route("/outage", web::post().to(admin::post_outage))
                        .route("/replies", web::post().to(admin::post_reply))
                        .route("/stats", web::get().to(admin::get_stats))
                        .route("/arrivals", web::get().to(admin::get_arrivals))
                        .route("/received", web::get().to(admin::list_received))
                        .route("/received", web::delete().to(admin::delete_received))
                        .route("/received/{id}", web::get().to(admin::get_received)),
                )
                .default_service(web::to(HttpResponse::NotFound))
        })
        .listen(listener)?
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECONDS);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        tracing::info!(seed, "fault decisions seeded");
        Ok(Self {
            port,
            state,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The running simulator's state, for in-process tests that change faults or read the
    /// record without HTTP.
    pub fn state(&self) -> web::Data<SimState> {
        self.state.clone()
    }

    /// Stops the server from elsewhere (e.g. a host process that embeds the simulator).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
