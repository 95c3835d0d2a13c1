//! The api built from its settings and handles: the HTTP server (API, admin UI, docs, health),
//! the outbox relay, the purge of expired idempotency keys, and the database's preparation,
//! until the stop signal.

use crate::admin;
use crate::audit;
use crate::auth::{LoginThrottle, Tokens};
use crate::client_address::TrustedProxies;
use crate::error::ErrorBody;
use crate::extract::{BodyLimit, path_error};
use crate::health::{self, SWAGGER_UI_FILES};
use crate::idempotency;
use crate::observe;
use crate::openapi;
use crate::operations::imports::ImportLimit;
use crate::operations::inbound::InboundConfig;
use crate::outbox;
use crate::prepare::{self, Preparation, Prepared};
use crate::routes;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::{HttpResponse, HttpServer, guard, web as aweb};
use anyhow::Context as _;
use mailing_domain::store::ApiStore;
use mailing_runtime::metrics;
use mailing_runtime::{Handles, Settings, Stop};
use paperclip::actix::{OpenApiExt, web};
use std::net::TcpListener;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// How long requests under way may take to finish once the stop is asked.
const SHUTDOWN_TIMEOUT_SECONDS: u64 = 30;

pub struct Application {
    port: u16,
    server: Server,
    relay: JoinHandle<()>,
    /// Removes idempotency keys past their lifetime.
    purge: JoinHandle<()>,
    prepared: Arc<Prepared>,
    /// Until it has been awaited.
    preparing: Option<JoinHandle<anyhow::Result<()>>>,
    stop: Stop,
    _outbox_gauges: metrics::SamplerRegistration,
    _dependencies: metrics::SamplerRegistration,
}

impl Application {
    /// Binds the listener and starts preparing the database in the background (see
    /// [`prepare`]); the server runs once [`Application::run_until_stopped`] is awaited.
    pub async fn build(
        settings: &Settings,
        handles: Handles<dyn ApiStore>,
    ) -> anyhow::Result<Self> {
        let Handles { store, bus, stop } = handles;
        let prepared = Arc::new(Prepared::default());
        let preparing = tokio::spawn(prepare::prepare(
            store.clone(),
            Preparation::from_settings(settings),
            prepared.clone(),
            stop.clone(),
        ));

        metrics::install();
        observe::describe_metrics();
        audit::describe_metrics();
        outbox::describe_metrics();
        let outbox_gauges = metrics::register_sampler(Arc::new(outbox::BacklogGauges {
            store: store.clone(),
        }));
        let dependencies = metrics::watch_dependencies(store.clone(), bus.clone());
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let relay = tokio::spawn({
            let relay = outbox::run(
                store.clone(),
                bus.clone(),
                outbox_wake.clone(),
                settings.api.outbox_poll,
                stop.clone(),
            );
            let prepared = prepared.clone();
            let mut stopping = stop.clone();
            async move {
                // The outbox is a table of the database: on a first start it exists only once
                // the migrations ran. A stop before then still lets the relay close the bus.
                tokio::select! {
                    () = prepared.wait() => {}
                    () = stopping.requested() => {}
                }
                relay.await;
            }
        });
        let purge = tokio::spawn(idempotency::purge_expired(
            store.clone(),
            prepared.clone(),
            stop.clone(),
        ));
        tokio::spawn(crate::operations::imports::fail_stale_at_start(
            store.clone(),
            prepared.clone(),
        ));
        let api = &settings.api;
        let state = aweb::Data::new(AppState {
            store,
            tokens: Tokens::new(&api.jwt_secret, api.jwt_ttl),
            admin_session_ttl: api.admin_session_ttl,
            login_throttle: LoginThrottle::new(api.login_max_failures, api.login_failure_window),
            outbox_wake,
            prepared: prepared.clone(),
            bus,
            inbound: InboundConfig::new(&settings.inbound),
            admin_username: api.admin_username.clone(),
            password_login: api.password_login,
            single_sign_on: settings
                .oidc
                .as_ref()
                .map(crate::auth::SingleSignOn::from_settings)
                .transpose()
                .context("single sign-on (MAILING_OIDC_*)")?,
            reports: crate::operations::reports::ReportConfig {
                calendar: settings.report.calendar,
                mailer: mailing_reports::Mailer::from_settings(
                    settings.smtp.as_ref(),
                    &settings.report,
                )
                .context("the daily report e-mail (MAILING_SMTP_URL, MAILING_REPORT_*)")?,
            },
        });
        let doc = aweb::Data::new(health::OpenApiJson(
            serde_json::to_vec(&openapi::document())
                .context("serialising the OpenAPI document")?
                .into(),
        ));
        let trusted_proxies =
            aweb::Data::new(TrustedProxies::new(settings.http.trusted_proxies.clone()));
        let body_limit = BodyLimit(settings.http.max_body_bytes);
        let import_limit = ImportLimit(settings.api.import_max_bytes);
        let addr = settings.http.addr;
        let listener = TcpListener::bind(addr)
            .with_context(|| format!("binding {addr} (MAILING_HTTP_ADDR)"))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(state.clone())
                .app_data(doc.clone())
                .app_data(trusted_proxies.clone())
                .app_data(body_limit)
                .app_data(import_limit)
                .app_data(aweb::PathConfig::default().error_handler(path_error))
                // Innermost: a replayed answer is no new change to record.
                .wrap(from_fn(audit::record))
                // It keeps and replays the handlers' own answers.
                .wrap(from_fn(idempotency::idempotent))
                .wrap(from_fn(health::until_prepared))
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .wrap(from_fn(observe::observe))
                .default_service(aweb::to(HttpResponse::NotFound))
                .configure(admin::routes)
                .route(
                    "/",
                    aweb::route()
                        .guard(guard::Any(guard::Get()).or(guard::Head()))
                        .to(health::root),
                )
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
                // paperclip serves Swagger UI's files; its copy of the document, which it would
                // build in every worker, stays empty: the routes are added after `build`, and
                // the document built once above answers at its path.
                .wrap_api()
                .with_json_spec_at("/api/v1/openapi.json")
                .with_swagger_ui_at("/api/v1/docs")
                .build()
                // After the UI's routes, which the /api/v1 scope would otherwise answer with 404.
                .service(routes::api_v1(web::scope("/api/v1")))
        })
        .listen(listener)?
        // The stop signal stops it, for every service of the process at once.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECONDS)
        .run();
        Ok(Self {
            port,
            server,
            relay,
            purge,
            prepared,
            preparing: Some(preparing),
            stop,
            _outbox_gauges: outbox_gauges,
            _dependencies: dependencies,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits until the database is prepared; an error if preparing it failed.
    pub async fn wait_until_prepared(&mut self) -> anyhow::Result<()> {
        let Some(preparing) = self.preparing.as_mut() else {
            return Ok(());
        };
        tokio::select! {
            () = self.prepared.wait() => Ok(()),
            finished = preparing => {
                self.preparing = None;
                preparation_result(finished)
            }
        }
    }

    /// Serves until the stop signal (then finishes the requests under way), and stops the
    /// outbox relay; events it did not publish wait in the database for the next start. A
    /// database that cannot be prepared (a failed migration) ends it with that error.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut serving = tokio::spawn(self.server);
        let mut stop = self.stop.clone();
        // Resolves only if preparing fails; once it succeeded there is nothing more to wait for.
        let preparation_failed = async {
            let Some(preparing) = self.preparing else {
                return std::future::pending().await;
            };
            match preparation_result(preparing.await) {
                Ok(()) => std::future::pending().await,
                Err(error) => error,
            }
        };
        let failure = tokio::select! {
            () = stop.requested() => None,
            error = preparation_failed => Some(error),
            served = &mut serving => Some(match served {
                Ok(Ok(())) => anyhow::anyhow!("the HTTP server stopped by itself"),
                Ok(Err(error)) => anyhow::Error::from(error).context("serving HTTP"),
                Err(error) => anyhow::Error::from(error).context("serving HTTP"),
            }),
        };
        handle.stop(true).await;
        let _ = serving.await;
        match failure {
            None => {
                // The relay and the purge stop on the same signal.
                let _ = self.relay.await;
                let _ = self.purge.await;
                Ok(())
            }
            Some(error) => {
                self.relay.abort();
                self.purge.abort();
                Err(error)
            }
        }
    }
}

fn preparation_result(
    finished: Result<anyhow::Result<()>, tokio::task::JoinError>,
) -> anyhow::Result<()> {
    match finished {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.context("preparing the database")),
        Err(error) => Err(anyhow::Error::from(error).context("preparing the database")),
    }
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
