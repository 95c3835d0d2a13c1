//! The scheduler's metrics: what its ticks do to messages, how long expansions take, and gauges
//! of the whole pipeline (messages by status, the due backlog, paused mailings, queue depths)
//! read from the database and the broker when scraped.

use chrono::Utc;
use mailing_bus::{Bus, Topic};
use mailing_domain::store::{SchedulerStore, StoreError};
use mailing_runtime::blocking;
use mailing_runtime::metrics::{self as runtime_metrics, Sampler, sample_failed, sample_succeeded};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The message transitions the scheduler counts (see `tick.rs`).
pub const TRANSITIONS: &[(&str, &str)] = &[
    ("new", "scheduled"),
    ("new", "expired"),
    ("new", "suppressed"),
    ("waiting", "queued"),
    ("waiting", "expired"),
    ("queued", "scheduled"),
];

/// The `sampler` labels of the pipeline's gauges: counts from the database, depths from the
/// broker.
const MESSAGES: &str = "messages";
const QUEUES: &str = "queues";

/// Describes the scheduler's metrics and registers its counters and histograms, at 0, so each
/// exists from start (an alert on the first tick failure needs the series before it).
pub fn register() {
    // Descriptions and series given before the recorder exists would go nowhere.
    runtime_metrics::install();
    metrics::describe_histogram!(
        "mailing_scheduler_tick_duration_seconds",
        metrics::Unit::Seconds,
        "Time one scheduler pass takes (expand, expire, reclaim, dispatch)"
    );
    metrics::describe_counter!(
        "mailing_scheduler_tick_failures_total",
        "Scheduler passes that failed (database or broker unreachable); the next tick retries"
    );
    metrics::describe_counter!(
        "mailing_expansions_total",
        "Mailings expanded into messages"
    );
    metrics::describe_histogram!(
        "mailing_expansion_duration_seconds",
        metrics::Unit::Seconds,
        "Time to expand one mailing into its messages"
    );
    metrics::describe_counter!(
        "mailing_send_jobs_published_total",
        "Send jobs (batches of message ids) published to the senders"
    );
    metrics::describe_gauge!(
        "mailing_messages",
        "Messages of every mailing not deleted, by status, from the counts the database keeps"
    );
    metrics::describe_gauge!(
        "mailing_messages_due",
        "Messages whose time has come and that no sender holds yet: the delivery backlog"
    );
    metrics::describe_gauge!(
        "mailing_mailings_paused",
        "Mailings paused now, by hand or by themselves, before their end"
    );
    metrics::describe_gauge!(
        "mailing_queue_messages",
        "Messages waiting in a broker queue, not yet handed to a consumer, by queue"
    );
    for counter in [
        "mailing_scheduler_tick_failures_total",
        "mailing_expansions_total",
        "mailing_send_jobs_published_total",
    ] {
        metrics::counter!(counter).increment(0);
    }
    for histogram in [
        "mailing_scheduler_tick_duration_seconds",
        "mailing_expansion_duration_seconds",
    ] {
        // Asking for a histogram's handle registers it: it renders with empty buckets.
        let _ = metrics::histogram!(histogram);
    }
    runtime_metrics::declare_transitions(TRANSITIONS);
}

/// Reads the pipeline's gauges when metrics are scraped. Every scheduler replica reports the
/// same database-wide numbers.
pub struct PipelineGauges {
    pub store: Arc<dyn SchedulerStore>,
    pub bus: Arc<dyn Bus>,
}

impl Sampler for PipelineGauges {
    fn names(&self) -> &'static [&'static str] {
        &[MESSAGES, QUEUES]
    }

    fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let counted = blocking::call(&self.store, |store| {
                let now = Utc::now();
                Ok::<_, StoreError>((
                    store.message_totals()?,
                    store.due_backlog(now)?,
                    store.paused_mailings(now)?,
                ))
            })
            .await;
            match counted {
                Ok((totals, due, paused)) => {
                    for (status, count) in totals.iter() {
                        metrics::gauge!("mailing_messages", "status" => status.as_str())
                            .set(count as f64);
                    }
                    metrics::gauge!("mailing_messages_due").set(due as f64);
                    metrics::gauge!("mailing_mailings_paused").set(paused as f64);
                    sample_succeeded(MESSAGES);
                }
                Err(error) => {
                    tracing::debug!(%error, "cannot sample message counts");
                    sample_failed(MESSAGES);
                }
            }
            let mut every_queue = true;
            for topic in Topic::ALL {
                match self.bus.pending(topic).await {
                    Ok(waiting) => {
                        metrics::gauge!("mailing_queue_messages", "queue" => topic.name())
                            .set(waiting as f64);
                    }
                    Err(error) => {
                        tracing::debug!(%error, %topic, "cannot sample a queue depth");
                        every_queue = false;
                    }
                }
            }
            // One queue that could not be read makes the family stale: its gauge is frozen.
            if every_queue {
                sample_succeeded(QUEUES);
            } else {
                sample_failed(QUEUES);
            }
        })
    }
}
