//! One pass over the database: expand started mailings, expire and reclaim what is late or
//! stuck, and hand every due message to the senders.

use chrono::{DateTime, Utc};
use mailing_bus::{Bus, Topic};
use mailing_domain::MessageId;
use mailing_domain::events::{self, SendJob};
use mailing_domain::store::{SchedulerStore, StoreError, storage_instant};
use mailing_runtime::blocking;
use mailing_runtime::metrics::{message_transitions, record_duration};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one tick did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub mailings_expanded: u64,
    pub messages_created: u64,
    pub messages_expired: u64,
    pub messages_reclaimed: u64,
    pub messages_dispatched: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("publishing send jobs: {0}")]
    Bus(#[from] mailing_bus::BusError),
    #[error("storage task failed: {0}")]
    Task(String),
}

pub struct Scheduler {
    store: Arc<dyn SchedulerStore>,
    bus: Arc<dyn Bus>,
    claim_batch: u32,
    job_size: usize,
    claim_lease: Duration,
}

/// Mailings expanded per tick; more wait for the next one, so a burst of starts cannot
/// starve dispatching.
const EXPANSIONS_PER_TICK: u32 = 20;
/// Dispatch stops after this long in one tick, so expiry and reclaiming keep running.
const DISPATCH_BUDGET: Duration = Duration::from_secs(2);

impl Scheduler {
    pub fn new(
        store: Arc<dyn SchedulerStore>,
        bus: Arc<dyn Bus>,
        claim_batch: u32,
        job_size: usize,
        claim_lease: Duration,
    ) -> Self {
        Self {
            store,
            bus,
            claim_batch,
            job_size,
            claim_lease,
        }
    }

    /// Runs one storage call on the blocking pool.
    async fn run<T, F>(&self, call: F) -> Result<T, TickError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SchedulerStore) -> Result<T, StoreError> + Send + 'static,
    {
        Ok(blocking::call(&self.store, call).await?)
    }

    /// One pass at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, TickError> {
        let started = Instant::now();
        let result = self.pass(now).await;
        record_duration("mailing_scheduler_tick_duration_seconds", started.elapsed());
        if result.is_err() {
            metrics::counter!("mailing_scheduler_tick_failures_total").increment(1);
        }
        result
    }

    async fn pass(&self, now: DateTime<Utc>) -> Result<TickReport, TickError> {
        let mut report = TickReport::default();
        self.expand(now, &mut report).await?;
        report.messages_expired = self.run(move |s| s.expire_overdue(now)).await?;
        message_transitions("waiting", "expired", report.messages_expired);
        if report.messages_expired > 0 {
            tracing::info!(
                count = report.messages_expired,
                "messages expired: their mailing ended before they were sent"
            );
        }
        let cutoff =
            now - chrono::Duration::from_std(self.claim_lease).unwrap_or(chrono::Duration::MAX);
        report.messages_reclaimed = self.run(move |s| s.reclaim_stale(cutoff, now)).await?;
        message_transitions("queued", "scheduled", report.messages_reclaimed);
        if report.messages_reclaimed > 0 {
            tracing::warn!(
                count = report.messages_reclaimed,
                "took back messages left queued past the claim lease"
            );
        }
        report.messages_dispatched = self.dispatch(now).await?;
        Ok(report)
    }

    async fn expand(&self, now: DateTime<Utc>, report: &mut TickReport) -> Result<(), TickError> {
        let due = self
            .run(move |s| s.mailings_to_expand(now, EXPANSIONS_PER_TICK))
            .await?;
        for mailing_id in due {
            let started = Instant::now();
            let expansion = self.run(move |s| s.expand_mailing(mailing_id, now)).await?;
            if let Some(expansion) = expansion {
                record_duration("mailing_expansion_duration_seconds", started.elapsed());
                metrics::counter!("mailing_expansions_total").increment(1);
                message_transitions("new", "scheduled", expansion.scheduled);
                message_transitions("new", "expired", expansion.expired);
                message_transitions("new", "suppressed", expansion.suppressed);
                report.mailings_expanded += 1;
                report.messages_created +=
                    expansion.scheduled + expansion.expired + expansion.suppressed;
                tracing::info!(
                    mailing_id = mailing_id.0,
                    scheduled = expansion.scheduled,
                    expired = expansion.expired,
                    suppressed = expansion.suppressed,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "mailing expanded into messages"
                );
            }
        }
        Ok(())
    }

    /// Claims due messages and publishes them as send jobs until none are due.
    async fn dispatch(&self, now: DateTime<Utc>) -> Result<u64, TickError> {
        if !self.bus.is_connected() {
            // Claims would only come back after the lease; wait for the broker instead.
            return Ok(0);
        }
        let started = Instant::now();
        let mut dispatched = 0;
        loop {
            let batch = self.claim_batch;
            let claimed = self.run(move |s| s.claim_due(now, batch)).await?;
            if claimed.is_empty() {
                break;
            }
            let count = claimed.len();
            if let Err(error) = self.publish(&claimed, storage_instant(now)).await {
                // Put them back now rather than after the lease.
                let released = self.run(move |s| s.release(&claimed, Utc::now())).await;
                match released {
                    Ok(count) => message_transitions("queued", "scheduled", count),
                    Err(release_error) => tracing::warn!(
                        %release_error,
                        "claimed messages stay queued until the lease ends"
                    ),
                }
                return Err(error);
            }
            message_transitions("waiting", "queued", count as u64);
            dispatched += count as u64;
            if count < batch as usize || started.elapsed() > DISPATCH_BUDGET {
                break;
            }
        }
        if dispatched > 0 {
            tracing::debug!(count = dispatched, "messages handed to senders");
        }
        Ok(dispatched)
    }

    async fn publish(&self, ids: &[MessageId], claimed_at: DateTime<Utc>) -> Result<(), TickError> {
        let payloads: Vec<Vec<u8>> = ids
            .chunks(self.job_size)
            .map(|chunk| {
                events::encode(&SendJob {
                    message_ids: chunk.to_vec(),
                    claimed_at,
                })
            })
            .collect();
        let published = payloads.len() as u64;
        self.bus.publish(Topic::SendJobs, payloads).await?;
        metrics::counter!("mailing_send_jobs_published_total").increment(published);
        Ok(())
    }

    /// Plans a mailing's waiting messages again after it changed.
    pub async fn replan(&self, mailing_id: mailing_domain::MailingId) -> Result<u64, TickError> {
        let now = Utc::now();
        let changed = self.run(move |s| s.replan_mailing(mailing_id, now)).await?;
        if changed > 0 {
            tracing::info!(
                mailing_id = mailing_id.0,
                changed,
                "messages planned again after an update"
            );
        }
        Ok(changed)
    }
}
