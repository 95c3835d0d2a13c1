//! Cancelling a mailing from its page: its unsent messages are not sent. A refusal (the mailing
//! already finished) is shown above the page.

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
    match mailings::cancel(&state, id).await {
        Ok(_) => {
            tracing::info!(mailing_id = id.0, username = %viewer.username, "mailing cancelled in the admin UI");
            Ok(view::see_other(
                &format!("/admin/mailings/{}", id.0),
                "cancelled",
            ))
        }
        Err(error) => {
            let refusal = AdminError::refusal(error)?;
            detail::page(&viewer, &state, id, &req, Shown::refused(refusal)).await
        }
    }
}
