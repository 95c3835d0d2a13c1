//! The outbox relay: publishes the mailing events that mailing writes stored beside them, and
//! marks them published only after the broker confirmed. While the broker is down the API
//! keeps accepting changes; their events wait in the database and go out once it is back.

use chrono::Utc;
use mailing_bus::{Bus, BusOptions, Topic};
use mailing_domain::events;
use mailing_domain::store::{Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
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
            tracing::debug!(mailing_id = %event.event.mailing_id(), event = ?event.event, "mailing event published");
        }
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
