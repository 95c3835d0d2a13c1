//! Mailings in the admin UI: the list, the form to create or change one, one mailing's page
//! with its live progress, pauses and messages, and cancelling, pausing, resuming and resending
//! it. Saving and deleting follow the flow every record shares.

mod actions;
mod campaign;
mod detail;
mod fields;
mod form;
mod list;
mod live;
mod matching;
mod pace;
mod resend;
mod running;
mod summary;
mod text;

pub use pace::Pace;
pub use summary::{Summary, progress_of, sending_rate};

use super::record;
use actix_web::web;
use fields::Mailings;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Before the shared routes, whose `POST /mailings/{id}` would take it.
    cfg.route("/mailings/preview", web::post().to(text::preview));
    record::routes::<Mailings>(cfg);
    // After the shared routes, so `/mailings/new` is not taken for a mailing's id.
    cfg.route("/mailings/matching", web::get().to(matching::counter))
        .route("/mailings/counter", web::get().to(text::counter))
        .route("/mailings/live", web::get().to(list::fragment))
        .route("/mailings/{id}", web::get().to(detail::show))
        .route("/mailings/{id}/live", web::get().to(detail::fragment))
        .route("/mailings/{id}/cancel", web::post().to(actions::cancel))
        .route("/mailings/{id}/pause", web::post().to(actions::pause))
        .route("/mailings/{id}/resume", web::post().to(actions::resume))
        .route("/mailings/{id}/resend", web::post().to(resend::resend));
}
