//! The actions on a mailing's page: cancelling it (its unsent messages are not sent), pausing it
//! (nothing new is sent until it is resumed) and resuming it (it goes on where it stopped). A
//! refusal (the mailing is over) is shown above the page.

use super::detail::{self, Shown};
use crate::admin::error::AdminError;
use crate::admin::session::Viewer;
use crate::admin::view;
use crate::operations::mailings;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use mailing_domain::MailingId;

/// `POST /admin/mailings/{id}/cancel`.
pub async fn cancel(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<MailingId>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    let done = mailings::cancel(&state, id).await;
    answer(&viewer, &state, id, &req, done, "cancelled").await
}

/// `POST /admin/mailings/{id}/pause`.
pub async fn pause(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<MailingId>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    let done = mailings::pause(&state, id).await;
    answer(&viewer, &state, id, &req, done, "paused").await
}

/// `POST /admin/mailings/{id}/resume`.
pub async fn resume(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<MailingId>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    let done = mailings::resume(&state, id).await;
    answer(&viewer, &state, id, &req, done, "resumed").await
}

/// Back to the mailing's page: with a notice once done, or with the refusal above it.
async fn answer<T>(
    viewer: &Viewer,
    state: &AppState,
    id: MailingId,
    req: &HttpRequest,
    done: Result<T, crate::error::ApiError>,
    notice: &str,
) -> Result<HttpResponse, AdminError> {
    match done {
        Ok(_) => {
            tracing::info!(mailing_id = id.0, username = %viewer.username, "mailing {notice} in the admin UI");
            Ok(view::see_other(
                &format!("/admin/mailings/{}", id.0),
                notice,
            ))
        }
        Err(error) => {
            let refusal = AdminError::refusal(error)?;
            detail::page(viewer, state, id, req, Shown::refused(refusal)).await
        }
    }
}
