//! The dashboard: mailings running now, paused and coming up, with their progress, sending
//! rate and failures. It refreshes itself while it shows any, so a mailing that starts while it
//! is open moves from Upcoming to Running, one that pauses itself moves to Paused, and one that
//! finishes leaves.

use super::error::AdminError;
use super::mailings::{Pace, Summary, progress_of, sending_rate};
use super::session::Viewer;
use super::view::{self, Clock, Layout};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::store::{Mailing, PageRequest};
use mailing_domain::{MailingStatus, MessageStatus};

/// The mailings the dashboard looks at: the newest this many.
const RECENT: u32 = 500;

struct Board {
    running: Vec<Summary>,
    paused: Vec<Summary>,
    upcoming: Vec<Summary>,
    sent: u64,
    failed: u64,
    rate: String,
    /// Milliseconds until the page looks again; `None` while it shows no mailing.
    refresh_ms: Option<u32>,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    board: Board,
}

#[derive(Template)]
#[template(path = "admin/dashboard_live.html")]
struct DashboardLive {
    board: Board,
}

pub async fn page(viewer: Viewer, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    view::render_ok(&DashboardPage {
        layout: Layout::new(&viewer, "dashboard", "Dashboard"),
        board: board(&viewer, &state).await?,
    })
}

pub async fn live(viewer: Viewer, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    view::render_ok(&DashboardLive {
        board: board(&viewer, &state).await?,
    })
}

async fn board(viewer: &Viewer, state: &AppState) -> Result<Board, AdminError> {
    let now = Utc::now();
    let (mailings, totals) = state
        .run(|s| {
            let total = s
                .list_mailings(PageRequest {
                    offset: 0,
                    limit: 1,
                })?
                .total;
            let offset = total.saturating_sub(u64::from(RECENT));
            let recent = s.list_mailings(PageRequest {
                offset,
                limit: RECENT,
            })?;
            Ok((recent.items, s.message_totals()?))
        })
        .await?;
    let mut shown: Vec<_> = mailings
        .into_iter()
        .filter(|m| {
            matches!(
                m.status(now),
                MailingStatus::Running | MailingStatus::Paused | MailingStatus::Scheduled
            )
        })
        .collect();
    shown.sort_by_key(|m| (m.schedule.earliest_start(), m.id));
    let ids = shown.iter().map(|m| m.id).collect();
    let (counts, sent) = progress_of(state, ids, now).await?;
    let clock = Clock(viewer.zone);
    let counts_of = |m: &Mailing| counts.get(&m.id).copied().unwrap_or_default();
    let pace = Pace::of_all(shown.iter().map(|m| (m, counts_of(m))), now);
    let (mut running, mut paused, mut upcoming) = (vec![], vec![], vec![]);
    for mailing in &shown {
        let summary = Summary::new(
            mailing,
            &counts_of(mailing),
            sent.get(&mailing.id).copied().unwrap_or(0),
            clock,
            now,
        );
        match mailing.status(now) {
            MailingStatus::Running => running.push(summary),
            MailingStatus::Paused => paused.push(summary),
            _ => upcoming.push(summary),
        }
    }
    let sent_last_minute: u64 = sent.values().sum();
    Ok(Board {
        running,
        paused,
        upcoming,
        sent: totals.get(MessageStatus::Sent),
        failed: totals.get(MessageStatus::Failed),
        rate: sending_rate(sent_last_minute),
        refresh_ms: pace.every_ms(),
    })
}
