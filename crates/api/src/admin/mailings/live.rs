//! The parts of a mailing's page that change while it runs (status, progress, chart, counts,
//! rate), and the fragment the page fetches to refresh them.

use super::summary::{REFRESH_MS, progress_of, sending_rate};
use crate::admin::error::AdminError;
use crate::admin::progress::{Chart, ProgressBar, still_waiting};
use crate::admin::session::Viewer;
use crate::admin::view;
use crate::operations::mailings;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::store::Mailing;
use mailing_domain::{MailingId, MailingStatus};

/// The parts of a mailing's page that change while it runs.
pub struct Live {
    pub id: i64,
    pub status: &'static str,
    pub bar: ProgressBar,
    pub chart: Chart,
    pub counts: Vec<(&'static str, u64)>,
    pub total: u64,
    pub rate: String,
    /// Whether the page should keep refreshing.
    pub active: bool,
    pub refresh_ms: u32,
}

impl Live {
    pub async fn of(state: &AppState, mailing: &Mailing) -> Result<Self, AdminError> {
        let now = Utc::now();
        let (counts, sent) = progress_of(state, vec![mailing.id], now).await?;
        let counts = counts.get(&mailing.id).copied().unwrap_or_default();
        let status = mailing.status(now);
        let settled = counts.total() > 0 && still_waiting(&counts) == 0;
        Ok(Self {
            id: mailing.id.0,
            status: status.as_str(),
            bar: ProgressBar::of(&counts),
            chart: Chart::of(&counts),
            counts: counts.iter().map(|(s, n)| (s.as_str(), n)).collect(),
            total: counts.total(),
            rate: sending_rate(sent.get(&mailing.id).copied().unwrap_or(0)),
            active: status == MailingStatus::Running && !settled
                || status == MailingStatus::Scheduled
                    && mailing.schedule.earliest_start() - now < chrono::Duration::minutes(5),
            refresh_ms: REFRESH_MS,
        })
    }
}

#[derive(Template)]
#[template(path = "admin/mailing_live.html")]
struct LiveFragment {
    live: Live,
}

/// `GET /admin/mailings/{id}/live`: the live parts alone, for the page to swap in.
pub async fn fragment(
    _: Viewer,
    state: web::Data<AppState>,
    id: web::Path<MailingId>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let mailing = mailings::get(&state, id).await?;
    view::render_ok(&LiveFragment {
        live: Live::of(&state, &mailing).await?,
    })
}
