//! The `/api/v1` resources, one module per resource. Each handler takes the request apart,
//! asks [`crate::operations`] (or storage, for a plain read) and answers in JSON.

pub mod api_keys;
pub mod audit_log;
pub mod client_filters;
pub mod clients;
pub mod imports;
pub mod inbound;
pub mod mailings;
pub mod messages;
pub mod operators;
pub mod opt_outs;
pub mod preview;
pub mod reports;
pub mod stats;
pub mod tags;
pub mod users;

mod page;

use crate::auth;
use paperclip::actix::web;

/// Registers every `/api/v1` route on `scope`.
pub fn api_v1(scope: web::Scope) -> web::Scope {
    scope
        .service(web::resource("/auth/token").route(web::post().to(auth::routes::issue_token)))
        .service(web::resource("/auth/logout").route(web::post().to(auth::routes::logout)))
        .service(
            web::resource("/auth/password").route(web::post().to(auth::routes::change_password)),
        )
        .configure(users::routes)
        .configure(api_keys::routes)
        .configure(audit_log::routes)
        .configure(operators::routes)
        .configure(tags::routes)
        // Before `/clients/{id}`, which would otherwise take "export" for an id.
        .configure(imports::routes)
        .configure(clients::routes)
        .configure(client_filters::routes)
        // `/mailings/stats` before `/mailings/{id}`, which would otherwise take "stats" for an id.
        .configure(stats::routes)
        .configure(reports::routes)
        .configure(mailings::routes)
        .configure(messages::routes)
        .configure(opt_outs::routes)
        .configure(inbound::routes)
}
