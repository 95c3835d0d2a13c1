//! The list of mailings, each with its progress and sending rate.

use super::fields::Mailings;
use super::summary::{Summary, progress_of};
use crate::admin::error::AdminError;
use crate::admin::record::{ListFrame, ListPage};
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout, Pager};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use chrono::Utc;

#[derive(Template)]
#[template(path = "admin/mailings.html")]
struct CardsPage {
    layout: Layout,
    mailings: Vec<Summary>,
    pager: Pager,
}

impl ListPage for Mailings {
    async fn list_page(
        viewer: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        let request = frame.request();
        let mailings = state.run(move |s| s.list_mailings(request)).await?;
        let now = Utc::now();
        let ids = mailings.items.iter().map(|m| m.id).collect();
        let (counts, sent) = progress_of(state, ids, now).await?;
        let clock = Clock(viewer.zone);
        let summaries = mailings
            .items
            .iter()
            .map(|m| {
                let counts = counts.get(&m.id).copied().unwrap_or_default();
                Summary::new(
                    m,
                    &counts,
                    sent.get(&m.id).copied().unwrap_or(0),
                    clock,
                    now,
                )
            })
            .collect();
        view::render(
            frame.status,
            &CardsPage {
                pager: Pager::new(frame.page(), mailings.total, &[]),
                layout: frame.layout,
                mailings: summaries,
            },
        )
    }
}
