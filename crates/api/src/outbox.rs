//! The outbox relay: publishes the mailing events that mailing writes stored beside them, and
//! marks them published only after the broker confirmed. While the broker is down the API
//! keeps accepting changes; their events wait in the database and go out once it is back.

use chrono::Utc;
use mailing_bus::{Bus, Topic};
use mailing_domain::events;
use mailing_domain::store::{ApiStore, StoreError};
use mailing_runtime::metrics::{Sampler, sample_failed, sample_succeeded};
use mailing_runtime::{Stop, blocking};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Events published per broker round trip.
const BATCH: u32 = 200;
/// How long a relay holds claimed events before another relay may publish them.
const LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] mailing_bus::BusError),
}

/// The `sampler` label of the outbox's gauges.
const SAMPLER: &str = "outbox";

/// Registers the descriptions of the outbox metrics, and its counter at 0 so it exists from
/// start.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "mailing_outbox_events_published_total",
        "Mailing events the outbox relay published and the broker confirmed"
    );
    metrics::describe_gauge!(
        "mailing_outbox_pending_events",
        "Mailing events written but not yet published (the whole outbox, every relay)"
    );
    metrics::describe_gauge!(
        "mailing_outbox_lag_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest unpublished mailing event; 0 when none waits"
    );
    metrics::counter!("mailing_outbox_events_published_total").increment(0);
}

/// Samples the outbox's backlog when metrics are scraped.
pub struct BacklogGauges {
    pub store: Arc<dyn ApiStore>,
}

impl Sampler for BacklogGauges {
    fn names(&self) -> &'static [&'static str] {
        &[SAMPLER]
    }

    fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            match blocking::call(&self.store, |store| store.outbox_backlog()).await {
                Ok(backlog) => {
                    let lag = backlog.oldest.map_or(0.0, |oldest| {
                        (Utc::now() - oldest).num_milliseconds().max(0) as f64 / 1000.0
                    });
                    metrics::gauge!("mailing_outbox_pending_events").set(backlog.events as f64);
                    metrics::gauge!("mailing_outbox_lag_seconds").set(lag);
                    sample_succeeded(SAMPLER);
                }
                Err(error) => {
                    tracing::debug!(%error, "cannot sample the outbox backlog");
                    sample_failed(SAMPLER);
                }
            }
        })
    }
}

/// Publishes everything unpublished now; returns how many events went out.
pub async fn relay_once(
    store: &Arc<dyn ApiStore>,
    bus: &Arc<dyn Bus>,
) -> Result<usize, RelayError> {
    let mut published = 0;
    loop {
        let claimed =
            blocking::call(store, |store| store.claim_outbox(BATCH, LEASE, Utc::now())).await?;
        if claimed.is_empty() {
            return Ok(published);
        }
        let payloads = claimed.iter().map(|e| events::encode(&e.event)).collect();
        bus.publish(Topic::MailingEvents, payloads).await?;
        let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
        blocking::call(store, move |store| store.mark_published(&ids, Utc::now())).await?;
        for event in &claimed {
            tracing::debug!(
                mailing_id = event.event.mailing_id().0,
                event = %String::from_utf8_lossy(&events::encode(&event.event)),
                "mailing event published"
            );
        }
        metrics::counter!("mailing_outbox_events_published_total").increment(claimed.len() as u64);
        published += claimed.len();
        if claimed.len() < BATCH as usize {
            return Ok(published);
        }
    }
}

/// The relay task: publishes whenever woken by a mailing write, or every `poll`, until `stop`
/// is asked, then closes the bus. While the broker is away the events wait in the database.
pub async fn run(
    store: Arc<dyn ApiStore>,
    bus: Arc<dyn Bus>,
    wake: Arc<Notify>,
    poll: Duration,
    mut stop: Stop,
) {
    let mut warned = false;
    while !stop.is_requested() {
        // Claiming events that cannot be published would only hide them from the next relay
        // until their lease ends.
        let relayed = if bus.is_connected() {
            relay_once(&store, &bus).await.map(drop)
        } else {
            Err(RelayError::Bus(mailing_bus::BusError::Unavailable(
                "not connected to the broker".to_owned(),
            )))
        };
        match relayed {
            Ok(()) => warned = false,
            Err(error) if !warned => {
                tracing::warn!(%error, "publishing mailing events failed; they wait in the outbox");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = stop.requested() => {}
            () = wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
    bus.close().await;
}
