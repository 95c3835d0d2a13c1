//! Sending each day's report once, whatever runs: every scheduler looks every few seconds, and
//! the one that claims the day's row (until a lease runs out) sends. A failure waits a growing
//! backoff recorded on the row, so every scheduler keeps to it; a report whose time passed
//! while everything was down goes out at the next start the same day.

use crate::compose::{EmailState, compose};
use crate::mail::{Mailer, Sending};
use chrono::{DateTime, Utc};
use mailing_domain::report::ReportCalendar;
use mailing_domain::store::{ReportStore, StoreError};
use mailing_runtime::Stop;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often each scheduler looks at the day's row.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// The first retry's wait after a failed attempt; each further one doubles it, up to
/// [`RETRY_CAP`].
pub const RETRY_BASE: Duration = Duration::from_secs(10);
pub const RETRY_CAP: Duration = Duration::from_secs(15 * 60);

/// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed.
pub fn backoff(attempt: u32) -> Duration {
    let doubled = RETRY_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    doubled.min(RETRY_CAP)
}

/// What `/readyz` says of the day's report; e-mail trouble never makes the scheduler unready.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReportStatus {
    /// The day today's report covers.
    pub date: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// `waiting` (before its time), or the e-mail's state once due (see [`EmailState`]).
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The store a report loop needs, shared with the blocking pool.
pub type SharedReportStore = Arc<dyn ReportStore + Send + Sync>;

/// One scheduler's part in sending the daily report.
pub struct ReportLoop {
    store: SharedReportStore,
    calendar: ReportCalendar,
    mailer: Mailer,
    /// Who claims: host, process and a random part, so two replicas never share a name.
    claimer: String,
    /// How long a claim keeps others off: the longest conversation and then some.
    lease: Duration,
    status: Arc<Mutex<ReportStatus>>,
}

impl ReportLoop {
    pub fn new(store: SharedReportStore, calendar: ReportCalendar, mailer: Mailer) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "scheduler".to_owned());
        Self {
            store,
            calendar,
            lease: mailer.timeout() * 2 + Duration::from_secs(60),
            mailer,
            claimer: format!(
                "{host}:{}:{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ),
            status: Arc::default(),
        }
    }

    /// What `/readyz` shows, kept current by [`ReportLoop::run`].
    pub fn status(&self) -> Arc<Mutex<ReportStatus>> {
        self.status.clone()
    }

    /// Looks every [`CHECK_EVERY`] until the stop signal.
    pub async fn run(self, mut stop: Stop) {
        let mut interval = tokio::time::interval(CHECK_EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.requested() => break,
                _ = interval.tick() => {}
            }
            // A stop does not wait for a slow SMTP server: a sending cut short leaves its claim
            // to run out, and another scheduler (or this one, started again) sends.
            tokio::select! {
                () = stop.requested() => break,
                looked = self.check(Utc::now()) => if let Err(error) = looked {
                    tracing::warn!(%error, "cannot look at the daily report; trying again shortly");
                },
            }
        }
    }

    /// One look: sends today's report if it is due, unsent, and this scheduler claims it.
    pub async fn check(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let due = self.calendar.todays_report(now);
        let date = due.date.to_string();
        if now < due.due_at {
            crate::metrics::overdue(Duration::ZERO);
            self.set_status(ReportStatus {
                date: Some(date),
                due_at: Some(due.due_at),
                state: "waiting".to_owned(),
                ..ReportStatus::default()
            });
            return Ok(());
        }
        let mut record = self
            .blocking(move |store| store.daily_report(due.date))
            .await?;
        // A claim is a write: a look at a report sent already, or waiting out its backoff,
        // reads the row and no more.
        if record
            .as_ref()
            .is_none_or(|record| record.sent.is_none() && record.next_attempt_at <= now)
        {
            let zone = self.calendar.zone.name();
            let claimer = self.claimer.clone();
            let lease_until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
            let claimed = self
                .blocking(move |store| {
                    store.claim_daily_report(due.date, zone, &claimer, lease_until, now)
                })
                .await?;
            if let Some(attempt) = claimed {
                self.send(due.date, attempt, now).await?;
                record = self
                    .blocking(move |store| store.daily_report(due.date))
                    .await?;
            }
        }
        let status = match &record {
            Some(record) => {
                let email = EmailState::from(record);
                crate::metrics::overdue(if record.sent.is_some() {
                    Duration::ZERO
                } else {
                    (Utc::now() - due.due_at).to_std().unwrap_or_default()
                });
                ReportStatus {
                    date: Some(date),
                    due_at: Some(due.due_at),
                    state: email.state,
                    attempts: email.attempts,
                    last_error: email.last_error,
                    next_attempt_at: email.next_attempt_at,
                }
            }
            None => ReportStatus {
                date: Some(date),
                due_at: Some(due.due_at),
                state: "pending".to_owned(),
                ..ReportStatus::default()
            },
        };
        self.set_status(status);
        Ok(())
    }

    /// Composes and sends the report this scheduler claimed, and records how it went.
    async fn send(
        &self,
        date: chrono::NaiveDate,
        attempt: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let zone = self.calendar.zone;
        let report = self
            .blocking(move |store| compose(store, date, zone, now))
            .await?;
        let outcome = self
            .mailer
            .send(&report, Sending::Scheduled, Utc::now())
            .await;
        match outcome {
            Ok(sent) => {
                tracing::info!(
                    date = %report.date,
                    recipients = %sent.recipients,
                    message_id = %sent.message_id,
                    attempt,
                    "daily report sent"
                );
                crate::metrics::sent();
                let zone_name = zone.name();
                self.blocking(move |store| store.daily_report_sent(date, zone_name, &sent))
                    .await?;
            }
            Err(error) => {
                let wait = backoff(attempt);
                let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                let error = error.to_string();
                tracing::warn!(
                    date = %report.date,
                    attempt,
                    %error,
                    retry_in_s = wait.as_secs(),
                    "the daily report could not be sent; it is tried again later"
                );
                crate::metrics::failed();
                let claimer = self.claimer.clone();
                self.blocking(move |store| {
                    store.daily_report_failed(date, &claimer, &error, retry_at, Utc::now())
                })
                .await?;
            }
        }
        Ok(())
    }

    fn set_status(&self, status: ReportStatus) {
        *self
            .status
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = status;
    }

    async fn blocking<T: Send + 'static>(
        &self,
        body: impl FnOnce(&dyn ReportStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        mailing_runtime::blocking::call(&self.store, |store| body(store)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(4), Duration::from_secs(80));
        assert_eq!(backoff(8), RETRY_CAP);
        assert_eq!(backoff(40), RETRY_CAP);
    }
}
