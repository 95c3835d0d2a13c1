//! Liveness, readiness and the documentation entry points; none of them needs a token.

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;
use std::sync::Arc;

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers; until it does, the instance should get no traffic.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.run(|s| s.ping()).await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })),
        Err(error) => {
            tracing::warn!(%error, "not ready: database check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "not_ready", "database": "unreachable" }))
        }
    }
}

pub async fn openapi_json(doc: web::Data<Arc<serde_json::Value>>) -> HttpResponse {
    HttpResponse::Ok().json(doc.as_ref().as_ref())
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
