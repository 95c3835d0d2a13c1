//! Builds the HTTP server from settings: storage, the admin account, routes, documentation.

use crate::admin;
use crate::auth::{LoginThrottle, Tokens, bootstrap_admin};
use crate::config::{Profile, Settings};
use crate::error::ErrorBody;
use crate::extract::{BodyLimit, path_error};
use crate::health::{self, SWAGGER_UI_FILES};
use crate::observe;
use crate::openapi;
use crate::outbox;
use crate::routes;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::{HttpResponse, HttpServer, guard, web as aweb};
use anyhow::Context as _;
use mailing_bus::BusOptions;
use mailing_domain::store::Store;
use mailing_runtime::metrics;
use mailing_storage::ConnectOptions;
use paperclip::actix::{OpenApiExt, web};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
    relay: tokio::task::JoinHandle<()>,
    stop_relay: tokio::sync::watch::Sender<bool>,
    _outbox_gauges: metrics::SamplerRegistration,
}

impl Application {
    /// Connects storage, applies migrations in the dev profile, makes sure the admin account
    /// exists and binds the listener. The server runs once [`Application::run_until_stopped`]
    /// is awaited.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = open_store(&settings, settings.profile == Profile::Dev).await?;
        let admin = (
            store.clone(),
            settings.admin_username.clone(),
            settings.admin_password.clone(),
        );
        tokio::task::spawn_blocking(move || bootstrap_admin(&admin.0, &admin.1, &admin.2))
            .await
            .context("admin bootstrap task")??;

        metrics::install();
        observe::describe_metrics();
        outbox::describe_metrics();
        let outbox_gauges = metrics::register_sampler(Arc::new(outbox::BacklogGauges {
            store: store.clone(),
        }));
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let (stop_relay, relay_stopped) = tokio::sync::watch::channel(false);
        let relay = tokio::spawn(outbox::run(
            store.clone(),
            settings.amqp_url.clone(),
            BusOptions {
                namespace: settings.amqp_namespace.clone(),
                client_name: "mailing-api".to_owned(),
                ..BusOptions::default()
            },
            outbox_wake.clone(),
            settings.outbox_poll,
            relay_stopped,
        ));
        let state = aweb::Data::new(AppState {
            store,
            tokens: Tokens::new(&settings.jwt_secret, settings.jwt_ttl),
            admin_session_ttl: settings.admin_session_ttl,
            login_throttle: LoginThrottle::new(
                settings.login_max_failures,
                settings.login_failure_window,
            ),
            outbox_wake,
        });
        let doc = aweb::Data::new(Arc::new(openapi::document()));
        let body_limit = BodyLimit(settings.max_body_bytes);
        let listener = TcpListener::bind(settings.http_addr)
            .with_context(|| format!("binding {}", settings.http_addr))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(state.clone())
                .app_data(doc.clone())
                .app_data(body_limit)
                .app_data(aweb::PathConfig::default().error_handler(path_error))
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .wrap(from_fn(observe::observe))
                .default_service(aweb::to(HttpResponse::NotFound))
                .configure(admin::routes)
                .route("/healthz", aweb::get().to(health::healthz))
                .route("/readyz", aweb::get().to(health::readyz))
                .route("/metrics", aweb::get().to(metrics::endpoint))
                .route("/docs", aweb::get().to(health::swagger_ui_index))
                .route("/docs/", aweb::get().to(health::swagger_ui_index))
                .route("/api/v1/docs", aweb::get().to(health::swagger_ui_index))
                .route("/api/v1/docs/", aweb::get().to(health::swagger_ui_index))
                // Ours comes first, so it answers instead of paperclip's plain copy below.
                .route("/api/v1/openapi.json", aweb::get().to(health::openapi_json))
                .service(
                    aweb::resource("/api/v1/docs/{filename:.*}")
                        .guard(guard::fn_guard(|ctx| {
                            let path = ctx.head().uri.path();
                            let file = path.strip_prefix("/api/v1/docs/").unwrap_or(path);
                            !SWAGGER_UI_FILES.contains(&file)
                        }))
                        .to(HttpResponse::NotFound),
                )
                .wrap_api()
                // paperclip's spec and UI routes must come before the /api/v1 scope, which
                // would otherwise answer their paths with 404.
                .with_json_spec_at("/api/v1/openapi.json")
                .with_swagger_ui_at("/api/v1/docs")
                .service(routes::api_v1(web::scope("/api/v1")))
                .build()
        })
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        Ok(Self {
            port,
            server,
            relay,
            stop_relay,
            _outbox_gauges: outbox_gauges,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C (actix finishes in-flight requests), then stops the
    /// outbox relay; events it did not publish wait in the database for the next start.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let _ = self.stop_relay.send(true);
        let _ = self.relay.await;
        served
    }
}

/// Connects to the database named in the settings; when asked, creates it if missing and
/// applies pending migrations.
pub async fn open_store(settings: &Settings, migrate: bool) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url.clone();
    let options = ConnectOptions {
        max_connections: settings.database_max_connections,
        acquire_timeout: settings.database_acquire_timeout,
    };
    tokio::task::spawn_blocking(move || -> anyhow::Result<Arc<dyn Store>> {
        if migrate {
            // A fresh dev server lacks the database; where the role may not create one, the
            // connect below reports what is really wrong.
            match mailing_storage::create_database_if_missing(url.expose_secret()) {
                Ok(true) => tracing::info!("database created"),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not check or create the database"),
            }
        }
        let store = mailing_storage::connect(url.expose_secret(), &options)
            .context("connecting to the database (MAILING_DATABASE_URL)")?;
        if migrate {
            let applied = store.migrate().context("applying migrations")?;
            for version in applied {
                tracing::info!(%version, "migration applied");
            }
        }
        Ok(store)
    })
    .await
    .context("database connect task")?
}

/// Gives error responses that carry no JSON body (unknown routes, wrong methods, actix's own
/// rejections) the API's error body, keeping their other headers.
fn json_error_body<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // The admin UI answers its errors with pages of its own.
    let has_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.starts_with("application/json") || value.starts_with("text/html")
        });
    if has_body {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        s if s >= 500 => "internal",
        _ => "bad_request",
    };
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let body = ErrorBody {
        code: code.to_owned(),
        message,
        details: vec![],
    };
    let (request, original) = response.into_parts();
    let mut replaced: HttpResponse<BoxBody> = HttpResponse::build(status).json(body);
    // Keep what the original says besides its body, such as the `Allow` of a 405.
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, replaced).map_into_right_body(),
    ))
}
