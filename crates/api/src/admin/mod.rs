//! The admin web UI under `/admin`, for operators and campaign managers who work in a browser:
//! a dashboard of running and upcoming mailings, and pages to manage mailings, clients,
//! operators, tags, client filters, CSV imports, opt-outs and the replies people send, and,
//! for admins, users, API keys and the audit log. Each page shows only what the viewer's role
//! may do, and the server refuses the rest by the API's rule (`crate::auth::policy`).
//!
//! Pages are rendered on the server from askama templates; one small script of our own,
//! embedded with the stylesheet, refreshes live parts and counts characters. Forms are read into
//! the inputs the JSON API takes and saved through the same [`crate::operations`], so a rule
//! lives in one place and its message appears next to the field it concerns; the record pages
//! share one flow (`record`). Sessions live in the database, so any api replica serves any
//! page.

mod access;
mod assets;
mod catalog;
mod client_filters;
mod clients;
mod dashboard;
mod error;
mod field_errors;
mod form;
mod imports;
mod login;
mod mailings;
mod operators;
mod opt_outs;
mod progress;
mod record;
mod reports;
mod session;
mod sso;
mod tags;
mod view;

pub use error::AdminError;
pub use session::{LOGIN_COOKIE, SESSION_COOKIE};

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

/// Registers every `/admin` route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(security_headers())
            // A path whose id is not a number names no record: a page, not the API's JSON.
            .app_data(
                web::PathConfig::default().error_handler(|_, _| AdminError::NotFound(None).into()),
            )
            .route("", web::get().to(dashboard::page))
            .route("/", web::get().to(dashboard::page))
            .route("/live", web::get().to(dashboard::live))
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("/oidc/start", web::get().to(sso::start))
            .route("/oidc/callback", web::get().to(sso::callback))
            .route("/assets/{name}", web::get().to(assets::serve))
            .configure(mailings::routes)
            // Before the clients' pages, whose `/clients/{id}` would take `/clients/export`.
            .configure(imports::routes)
            .configure(record::routes::<clients::Clients>)
            .configure(record::routes::<operators::Operators>)
            .configure(tags::routes)
            .configure(record::routes::<client_filters::ClientFilters>)
            .configure(opt_outs::routes)
            .configure(access::routes)
            .route("/reports/daily", web::get().to(reports::page))
            .route("/reports/daily/send", web::post().to(reports::send))
            .default_service(web::to(error::not_found)),
    );
}

/// Pages load only what this server sends and cannot be framed; nothing is cached, since
/// every page shows one person's session.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::CACHE_CONTROL, "no-store"))
}
