//! The outbox relay: publishes the mailing events that mailing writes stored beside them, and
//! marks them published only after the broker confirmed. While the broker is down the API
//! keeps accepting changes; their events wait in the database and go out once it is back.

use chrono::Utc;
use mailing_bus::{Bus, BusOptions, Topic};
use mailing_domain::events;
use mailing_domain::store::{Store, StoreError};
use mailing_runtime::metrics::Sampler;
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

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
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Registers the descriptions of the outbox metrics.
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
}

/// Samples the outbox's backlog when metrics are scraped.
pub struct BacklogGauges {
    pub store: Arc<dyn Store>,
}

impl Sampler for BacklogGauges {
    fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let store = self.store.clone();
            match tokio::task::spawn_blocking(move || store.outbox_backlog()).await {
                Ok(Ok(backlog)) => {
                    let lag = backlog.oldest.map_or(0.0, |oldest| {
                        (Utc::now() - oldest).num_milliseconds().max(0) as f64 / 1000.0
                    });
                    metrics::gauge!("mailing_outbox_pending_events").set(backlog.events as f64);
                    metrics::gauge!("mailing_outbox_lag_seconds").set(lag);
                }
                Ok(Err(error)) => tracing::debug!(%error, "cannot sample the outbox backlog"),
                Err(error) => tracing::debug!(%error, "outbox sampling task failed"),
            }
        })
    }
}

/// Publishes everything unpublished now; returns how many events went out.
pub async fn relay_once(store: &Arc<dyn Store>, bus: &Arc<dyn Bus>) -> Result<usize, RelayError> {
    let mut published = 0;
    loop {
        let claim_store = store.clone();
        let claimed =
            tokio::task::spawn_blocking(move || claim_store.claim_outbox(BATCH, LEASE, Utc::now()))
                .await
                .map_err(|e| RelayError::Task(e.to_string()))??;
        if claimed.is_empty() {
            return Ok(published);
        }
        let payloads = claimed.iter().map(|e| events::encode(&e.event)).collect();
        bus.publish(Topic::MailingEvents, payloads).await?;
        let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
        let mark_store = store.clone();
        tokio::task::spawn_blocking(move || mark_store.mark_published(&ids, Utc::now()))
            .await
            .map_err(|e| RelayError::Task(e.to_string()))??;
        for event in &claimed {
            tracing::debug!(mailing_id = event.event.mailing_id().0, event = ?event.event, "mailing event published");
        }
        metrics::counter!("mailing_outbox_events_published_total").increment(claimed.len() as u64);
        published += claimed.len();
        if claimed.len() < BATCH as usize {
            return Ok(published);
        }
    }
}

/// The relay task: connects to the broker (retrying while it is down), then publishes whenever
/// woken by a mailing write, or every `poll`, until `stop` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    amqp_url: SecretString,
    options: BusOptions,
    wake: Arc<Notify>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut bus: Option<Arc<dyn Bus>> = None;
    let mut warned = false;
    while !*stop.borrow() {
        if bus.is_none() {
            match mailing_bus::connect(amqp_url.expose_secret(), &options).await {
                Ok(connected) => {
                    tracing::info!("outbox relay connected to the broker");
                    bus = Some(connected);
                    warned = false;
                }
                Err(error) if !warned => {
                    tracing::warn!(%error, "broker not reachable; mailing events wait in the outbox");
                    warned = true;
                }
                Err(_) => {}
            }
        }
        if let Some(connected) = &bus {
            match relay_once(&store, connected).await {
                Ok(_) => warned = false,
                Err(error) if !warned => {
                    tracing::warn!(%error, "publishing mailing events failed; retrying");
                    warned = true;
                }
                Err(_) => {}
            }
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
    if let Some(bus) = bus {
        bus.close().await;
    }
}
