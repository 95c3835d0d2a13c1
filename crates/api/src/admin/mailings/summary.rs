//! A mailing as lists and the dashboard show it: its times in the viewer's zone, whom it
//! reaches, how far it got and how fast it sends.

use super::campaign::reason_in_words;
use crate::admin::catalog::describe_filter;
use crate::admin::error::AdminError;
use crate::admin::progress::ProgressBar;
use crate::admin::view::Clock;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::{Mailing, StatusCounts};
use mailing_domain::{MailingId, MailingStatus, MessageStatus};
use std::collections::HashMap;

/// The span over which the sending rate is measured.
const RATE_WINDOW_SECONDS: i64 = 60;

/// A mailing as lists and pages show it.
pub struct Summary {
    pub id: i64,
    pub text: String,
    pub status: &'static str,
    /// While paused: why and since when ("Paused by hand since 2026-12-07 10:15").
    pub paused: Option<String>,
    pub start: String,
    pub end: String,
    pub reaches: String,
    pub bar: ProgressBar,
    pub failed: u64,
    /// Messages sent per second over the last minute.
    pub rate: String,
}

impl Summary {
    pub fn new(
        mailing: &Mailing,
        counts: &StatusCounts,
        sent_last_minute: u64,
        clock: Clock,
        now: DateTime<Utc>,
    ) -> Self {
        let text = mailing.text.as_str();
        let short: String = text.chars().take(80).collect();
        let status = mailing.status(now);
        Self {
            id: mailing.id.0,
            text: if short.len() < text.len() {
                format!("{short}…")
            } else {
                short
            },
            status: status.as_str(),
            paused: mailing
                .paused
                .as_ref()
                .filter(|_| status == MailingStatus::Paused)
                .map(|p| {
                    format!(
                        "{} since {}",
                        reason_in_words(p.reason),
                        clock.minute(p.since)
                    )
                }),
            start: show_time(
                mailing.schedule.start_at(),
                mailing.schedule.local_time(),
                clock,
            ),
            end: show_time(
                mailing.schedule.end_at(),
                mailing.schedule.local_time(),
                clock,
            ),
            reaches: describe_reach(mailing),
            bar: ProgressBar::of(counts),
            failed: counts.get(MessageStatus::Failed),
            rate: sending_rate(sent_last_minute),
        }
    }
}

/// Whom the mailing reaches: the clients its filter matches, or, for a resend, those picked
/// from the original when it was made.
pub fn describe_reach(mailing: &Mailing) -> String {
    match mailing.resend_of {
        Some(original) => format!(
            "the clients picked from mailing #{} when this resend was made",
            original.0
        ),
        None => describe_filter(&mailing.filter),
    }
}

/// Messages sent per second, from those sent over the last minute.
pub fn sending_rate(sent_last_minute: u64) -> String {
    format!(
        "{:.1}",
        sent_last_minute as f64 / RATE_WINDOW_SECONDS as f64
    )
}

/// A start or end: in the viewer's zone, or as the clock reading each client's zone applies.
pub fn show_time(instant: DateTime<Utc>, local_time: bool, clock: Clock) -> String {
    if local_time {
        format!(
            "{} in each client's zone",
            instant.naive_utc().format("%Y-%m-%d %H:%M")
        )
    } else {
        clock.minute(instant)
    }
}

/// Counts and the last minute's sends for the given mailings.
pub async fn progress_of(
    state: &AppState,
    ids: Vec<MailingId>,
    now: DateTime<Utc>,
) -> Result<(HashMap<MailingId, StatusCounts>, HashMap<MailingId, u64>), AdminError> {
    let since = now - chrono::Duration::seconds(RATE_WINDOW_SECONDS);
    Ok(state
        .run(move |s| Ok((s.count_messages_of(&ids)?, s.sent_since(&ids, since)?)))
        .await?)
}
