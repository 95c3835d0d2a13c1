//! A mailing's progress as its page shows it: status, progress bar, chart, counts and sending
//! rate, and how soon the page should look again. It is one of the parts of the page that
//! change while the mailing delivers (`detail::Parts`).

use super::pace::Pace;
use super::summary::{progress_of, sending_rate};
use crate::admin::error::AdminError;
use crate::admin::progress::{Chart, ProgressBar};
use crate::state::AppState;
use chrono::Utc;
use mailing_domain::store::{Mailing, StatusCounts};

/// The mailing's progress.
pub struct Live {
    pub status: &'static str,
    pub bar: ProgressBar,
    pub chart: Chart,
    pub counts: Vec<(&'static str, u64)>,
    pub by_status: StatusCounts,
    pub total: u64,
    pub rate: String,
    /// Milliseconds until the page looks again; `None` once nothing can change.
    pub refresh_ms: Option<u32>,
}

impl Live {
    pub async fn of(state: &AppState, mailing: &Mailing) -> Result<Self, AdminError> {
        let now = Utc::now();
        let (counts, sent) = progress_of(state, vec![mailing.id], now).await?;
        let counts = counts.get(&mailing.id).copied().unwrap_or_default();
        Ok(Self {
            status: mailing.status(now).as_str(),
            bar: ProgressBar::of(&counts),
            chart: Chart::of(&counts),
            counts: counts.iter().map(|(s, n)| (s.as_str(), n)).collect(),
            by_status: counts,
            total: counts.total(),
            rate: sending_rate(sent.get(&mailing.id).copied().unwrap_or(0)),
            refresh_ms: Pace::of(mailing, &counts, now).every_ms(),
        })
    }
}
