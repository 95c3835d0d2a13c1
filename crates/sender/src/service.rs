//! Wires the sender process together: storage, bus, probe client, limits, the outcome writer
//! and the job consumer, and drains in-flight work when asked to stop.

use crate::breaker::{Breaker, OpenReason};
use crate::decide::RetryPolicy;
use crate::limiter::RateLimiter;
use crate::probe::ProbeClient;
use crate::settings::Settings;
use crate::worker::Worker;
use crate::writer::{self, Batching};
use anyhow::Context as _;
use mailing_bus::{Bus, BusOptions, Topic};
use mailing_domain::store::Store;
use mailing_runtime::health::{self, HealthReport};
use secrecy::ExposeSecret;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

struct Health {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    worker: Arc<Worker>,
    stopping: watch::Receiver<bool>,
}

impl HealthReport for Health {
    fn status(&self) -> serde_json::Value {
        let (probe, token) = match self.worker.breaker.open_reason() {
            None => ("sending", "accepted"),
            Some(OpenReason::ProviderFailing) => ("paused: probe failing", "accepted"),
            Some(OpenReason::TokenRejected) => ("paused: token rejected", "rejected"),
        };
        serde_json::json!({
            "probe": probe,
            "probe_token": token,
            "broker": health::broker_state(self.bus.as_ref()),
        })
    }

    fn ready(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            if *self.stopping.borrow() {
                return Err("stopping".to_owned());
            }
            health::store_and_bus_ready(&self.store, self.bus.as_ref()).await
        })
    }
}

/// Runs the sender until `shutdown` resolves, then finishes in-flight attempts, writes their
/// outcomes and acknowledges their jobs before returning.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let url = settings.database_url.clone();
    let options = mailing_storage::ConnectOptions {
        max_connections: settings.database_max_connections,
        ..Default::default()
    };
    let store = tokio::task::spawn_blocking(move || {
        mailing_storage::connect(url.expose_secret(), &options)
    })
    .await?
    .context("connecting to the database (MAILING_DATABASE_URL)")?;
    let bus_options = BusOptions {
        namespace: settings.amqp_namespace.clone(),
        client_name: "mailing-sender".to_owned(),
        ..Default::default()
    };
    let (stop_tx, stop) = watch::channel(false);
    tokio::pin!(shutdown);
    let bus = mailing_bus::connect_retrying(
        settings.amqp_url.expose_secret(),
        &bus_options,
        &mut shutdown,
    )
    .await;
    let Some(bus) = bus else {
        return Ok(());
    };
    if settings.probe_token.is_none() {
        tracing::warn!(
            "MAILING_PROBE_TOKEN is not set; the probe will likely refuse every request"
        );
    }

    let (outcomes, writer) = writer::spawn(
        store.clone(),
        Batching {
            max_outcomes: settings.sender_outcome_batch,
            max_wait: Duration::from_millis(settings.sender_outcome_flush_ms),
        },
    );
    let in_flight = Arc::new(Semaphore::new(settings.sender_concurrency));
    let held = Arc::new(crate::claims::HeldClaims::default());
    let renewal = tokio::spawn(crate::claims::renew(
        store.clone(),
        held.clone(),
        Duration::from_millis(settings.sender_claim_renew_ms),
        stop.clone(),
    ));
    let worker = Arc::new(Worker {
        store: store.clone(),
        held,
        mailings: crate::mailings::MailingStates::new(store.clone()),
        probe: ProbeClient::new(
            &settings.probe_url,
            settings.probe_token.clone(),
            settings.sender_concurrency,
        )
        .context("building the probe client")?,
        breaker: Breaker::new(
            settings.sender_breaker_threshold,
            Duration::from_millis(settings.sender_breaker_cooldown_ms),
            Duration::from_millis(settings.sender_token_pause_ms),
        ),
        limiter: RateLimiter::new(settings.sender_rate_limit),
        in_flight: in_flight.clone(),
        outcomes,
        retry: RetryPolicy {
            base: Duration::from_millis(settings.sender_retry_base_ms),
            cap: Duration::from_millis(settings.sender_retry_cap_ms),
            token_pause: Duration::from_millis(settings.sender_token_pause_ms),
        },
        probe_timeout: settings.probe_timeout(),
        claim_renew_every: Duration::from_millis(settings.sender_claim_renew_ms),
    });

    let (health_server, health_port) = health::serve(
        settings.sender_health_addr,
        Arc::new(Health {
            store: store.clone(),
            bus: bus.clone(),
            worker: worker.clone(),
            stopping: stop.clone(),
        }),
    )
    .context("binding the health endpoint (MAILING_SENDER_HEALTH_ADDR)")?;
    crate::metrics::describe();
    let _sender_gauges =
        mailing_runtime::metrics::register_sampler(Arc::new(crate::metrics::SenderGauges {
            worker: worker.clone(),
            concurrency: settings.sender_concurrency,
        }));
    let health_handle = health_server.handle();
    tokio::spawn(health_server);
    tracing::info!(health_port, "mailing-sender running");

    let consumer = tokio::spawn(consume(
        worker.clone(),
        bus.clone(),
        settings.prefetch(),
        stop.clone(),
    ));
    shutdown.await;
    tracing::info!("mailing-sender stopping: no new jobs, finishing the ones in flight");
    let _ = stop_tx.send(true);
    let _ = consumer.await;
    // Every attempt holds a permit: owning them all means none is in flight.
    let permits = u32::try_from(settings.sender_concurrency).unwrap_or(u32::MAX);
    let _all = in_flight.acquire_many(permits).await;
    // The writer acknowledges each job after its outcomes are committed.
    writer.finish().await;
    let _ = renewal.await;
    health_handle.stop(true).await;
    bus.close().await;
    tracing::info!("mailing-sender stopped");
    Ok(())
}

async fn consume(
    worker: Arc<Worker>,
    bus: Arc<dyn Bus>,
    prefetch: u16,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let mut subscription = match bus.subscribe(Topic::SendJobs, prefetch).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to send jobs; retrying");
                tokio::select! {
                    _ = stop.changed() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        loop {
            let delivery = tokio::select! {
                _ = stop.changed() => return,
                delivery = subscription.next() => delivery,
            };
            match delivery {
                Some(Ok(delivery)) => worker.handle(delivery).await,
                Some(Err(error)) => {
                    tracing::warn!(%error, "send job subscription ended; subscribing again");
                    break;
                }
                None => break,
            }
        }
    }
}
