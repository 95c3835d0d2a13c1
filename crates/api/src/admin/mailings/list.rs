//! The list of mailings, each with its status, progress and sending rate. The page of cards
//! refreshes itself while a mailing on it can still change.

use super::fields::Mailings;
use super::pace::Pace;
use super::summary::{Summary, progress_of};
use crate::admin::error::AdminError;
use crate::admin::form::Form;
use crate::admin::record::{ListFrame, ListPage};
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout, Pager};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::store::Mailing;

/// One page of the list: the part of the page that changes.
struct Cards {
    mailings: Vec<Summary>,
    pager: Pager,
    /// Milliseconds until the page looks again; `None` once nothing on it can change.
    refresh_ms: Option<u32>,
    /// Where the page fetches a fresh copy of this page of the list.
    live_url: String,
    /// Whether the viewer may create mailings.
    can_manage: bool,
}

#[derive(Template)]
#[template(path = "admin/mailings.html")]
struct CardsPage {
    layout: Layout,
    cards: Cards,
}

#[derive(Template)]
#[template(path = "admin/mailings_live.html")]
struct CardsFragment {
    cards: Cards,
}

impl ListPage for Mailings {
    async fn list_page(
        viewer: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        view::render(
            frame.status,
            &CardsPage {
                cards: cards(viewer, state, frame.page()).await?,
                layout: frame.layout,
            },
        )
    }
}

/// `GET /admin/mailings/live?page=…`: a fresh copy of the page's cards, for the page to swap
/// in.
pub async fn fragment(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let page = Form::parse(req.query_string().as_bytes()).page();
    view::render_ok(&CardsFragment {
        cards: cards(&viewer, &state, page).await?,
    })
}

async fn cards(viewer: &Viewer, state: &AppState, page: u32) -> Result<Cards, AdminError> {
    let request = Pager::request(page);
    let mailings = state.run(move |s| s.list_mailings(request)).await?;
    let now = Utc::now();
    let ids = mailings.items.iter().map(|m| m.id).collect();
    let (counts, sent) = progress_of(state, ids, now).await?;
    let clock = Clock(viewer.zone);
    let counts_of = |m: &Mailing| counts.get(&m.id).copied().unwrap_or_default();
    let summaries = mailings
        .items
        .iter()
        .map(|m| {
            Summary::new(
                m,
                &counts_of(m),
                sent.get(&m.id).copied().unwrap_or(0),
                clock,
                now,
            )
        })
        .collect();
    let pace = Pace::of_all(mailings.items.iter().map(|m| (m, counts_of(m))), now);
    Ok(Cards {
        can_manage: viewer.can_manage(),
        mailings: summaries,
        pager: Pager::new(page, mailings.total, &[]),
        refresh_ms: pace.every_ms(),
        live_url: if page > 1 {
            format!("/admin/mailings/live?page={page}")
        } else {
            "/admin/mailings/live".to_owned()
        },
    })
}
