//! Liveness, readiness and the documentation entry points; none of them needs a token.

use crate::error::{ApiError, ErrorBody, FieldError};
use crate::state::AppState;
use actix_web::ResponseError as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, Accept, Header as _};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use mailing_runtime::health::{NotReady, broker_state, database_ready};
use serde_json::json;

/// `/`: a browser is sent to the admin UI (303, so that no cache keeps it); a client whose
/// `Accept` prefers JSON to HTML gets the entry points instead.
pub async fn root(request: HttpRequest) -> HttpResponse {
    if prefers_json(&request) {
        return HttpResponse::Ok()
            .insert_header((header::VARY, "Accept"))
            .json(json!({
                "service": "mailing",
                "links": {
                    "admin": "/admin",
                    "api_base": "/api/v1",
                    "openapi": "/api/v1/openapi.json",
                    "docs": "/api/v1/docs",
                    "health": "/healthz",
                    "ready": "/readyz",
                    "metrics": "/metrics",
                },
            }));
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin"))
        .insert_header((header::VARY, "Accept"))
        .finish()
}

/// Whether the best-ranked of JSON and HTML in the request's `Accept` is JSON; no `Accept`,
/// `*/*` or a malformed one mean HTML, as a browser or a bare `curl` would want.
fn prefers_json(request: &HttpRequest) -> bool {
    let Ok(accept) = Accept::parse(request) else {
        return false;
    };
    accept
        .ranked()
        .iter()
        .find_map(|mime| match (mime.type_(), mime.subtype()) {
            (mime::APPLICATION, mime::JSON) => Some(true),
            _ if mime.suffix() == Some(mime::JSON) => Some(true),
            (mime::TEXT, mime::HTML) | (mime::STAR, mime::STAR) => Some(false),
            (mime::APPLICATION, subtype) if subtype == "xhtml" => Some(false),
            _ => None,
        })
        .unwrap_or(false)
}

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The checks `/readyz?exclude=…` may leave out, as Kubernetes' own health endpoints allow.
const EXCLUDABLE: &[&str] = &["broker"];

/// What `/readyz` was asked to leave out.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ReadyQuery {
    #[serde(default)]
    exclude: Option<String>,
}

/// Whether the instance should get traffic: its database answers and holds every migration
/// this binary carries, its broker is connected, and the database is prepared (admin account
/// in place). A 503 says why in `reason` (and `database`, `broker`, `pending_migrations`).
/// A schema behind is asked about on every call, so the instance becomes ready as soon as the
/// release's migration job ran; once current, it is not asked again.
///
/// `?exclude=broker` leaves the broker out: the api keeps accepting writes while RabbitMQ is
/// away (their events wait in the outbox), so its load balancer's probe asks that way and a
/// broker outage does not take every api replica out of service, while `/readyz` itself, and
/// every alert on it, still tells the whole truth.
pub async fn readyz(state: web::Data<AppState>, query: web::Query<ReadyQuery>) -> HttpResponse {
    let mut exclude_broker = false;
    for check in query.exclude.iter().flat_map(|list| list.split(',')) {
        match check.trim() {
            "broker" => exclude_broker = true,
            "" => {}
            other => {
                let problem = FieldError::new(
                    "exclude",
                    "unknown_check",
                    format!(
                        "names \"{other}\", which is not a check that may be left out; it may \
                         name: {}, for example exclude=broker",
                        EXCLUDABLE.join(", ")
                    ),
                );
                return ApiError::invalid_query(vec![problem]).error_response();
            }
        }
    }
    let not_ready = |database: &str, broker: &str, why: NotReady| {
        let mut body = why.body();
        if let Some(fields) = body.as_object_mut() {
            fields.insert("database".to_owned(), database.into());
            fields.insert("broker".to_owned(), broker.into());
        }
        HttpResponse::ServiceUnavailable().json(body)
    };
    let broker = broker_state(state.bus.as_ref());
    if let Err(why) = database_ready(&state.store).await {
        let database = if why.pending_migrations.is_empty() {
            "unreachable"
        } else {
            "migrations_pending"
        };
        return not_ready(database, broker, why);
    }
    if !exclude_broker && !state.bus.is_connected() {
        return not_ready("ok", broker, NotReady::because("broker unreachable"));
    }
    if !state.prepared.is_done() {
        return not_ready(
            "starting",
            broker,
            NotReady::because("preparing the database (admin account)"),
        );
    }
    HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok", "broker": broker }))
}

/// Paths that answer before the database is prepared: they need no database.
const ALWAYS_ANSWERED: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/api/v1/docs",
    "/api/v1/openapi.json",
];

/// Whether `path` is `/` (which only points elsewhere), one of [`ALWAYS_ANSWERED`] or below
/// one.
fn needs_no_database(path: &str) -> bool {
    path == "/"
        || ALWAYS_ANSWERED.iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// Answers 503 to everything that needs the database until it is prepared (migrated in the
/// dev profile, admin account in place), instead of errors from tables that are not there yet.
pub async fn until_prepared(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let prepared = request
        .app_data::<web::Data<AppState>>()
        .is_none_or(|state| state.prepared.is_done());
    // Checked only while starting: every request passes through here.
    if prepared || needs_no_database(request.path()) {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let response = HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", "1"))
        .json(ErrorBody {
            code: "unavailable".to_owned(),
            message: "the service is starting: its database is not ready yet; try again in a \
                      moment"
                .to_owned(),
            details: vec![],
        });
    Ok(request.into_response(response).map_into_right_body())
}

/// The OpenAPI document, serialised once at start: kept as a value it would hold a tree of
/// maps many times its size for the life of the process.
#[derive(Clone)]
pub struct OpenApiJson(pub actix_web::web::Bytes);

pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(mime::APPLICATION_JSON)
        .body(doc.0.clone())
}

/// `/api/v1/docs` with or without a query string opens Swagger UI on the API's document;
/// paperclip's own handler would panic on a query string.
pub async fn swagger_ui_index() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((
            "Location",
            "/api/v1/docs/index.html?url=/api/v1/openapi.json",
        ))
        .finish()
}

/// Files Swagger UI serves; asking paperclip for anything else would panic a worker.
pub const SWAGGER_UI_FILES: &[&str] = &[
    "favicon-16x16.png",
    "favicon-32x32.png",
    "index.html",
    "oauth2-redirect.html",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "swagger-ui-es-bundle-core.js",
    "swagger-ui-es-bundle-core.js.map",
    "swagger-ui-es-bundle.js",
    "swagger-ui-es-bundle.js.map",
    "swagger-ui-standalone-preset.js",
    "swagger-ui-standalone-preset.js.map",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui.js",
    "swagger-ui.js.map",
];
