//! The sender service built from its settings and handles: the probe client under its limits,
//! the outcome writer, claim renewal, the job consumer and its health endpoints; on the stop
//! signal it finishes the attempts in flight and commits their outcomes before it returns.

use crate::breaker::{Breaker, OpenReason};
use crate::decide::RetryPolicy;
use crate::limiter::RateLimiter;
use crate::probe::ProbeClient;
use crate::share::{self, Heartbeat};
use crate::worker::{Handled, Worker};
use crate::writer::{self, Batching, WriterHandle};
use anyhow::Context as _;
use mailing_bus::{Bus, Delivery, Topic};
use mailing_domain::store::SenderStore;
use mailing_runtime::consume::each_delivery;
use mailing_runtime::health::{self, HealthServer, WorkerHealth};
use mailing_runtime::metrics::{self, SamplerRegistration};
use mailing_runtime::{Handles, Settings, Stop};
use secrecy::ExposeSecret as _;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

pub struct SenderService {
    worker: Arc<Worker>,
    writer: WriterHandle,
    renewal: JoinHandle<()>,
    /// Records the circuit breaker's trips for the daily report.
    trips: JoinHandle<()>,
    store: Arc<dyn SenderStore>,
    /// `None` without a rate limit: nothing to share.
    heartbeat: Option<Heartbeat>,
    bus: Arc<dyn Bus>,
    stop: Stop,
    prefetch: u16,
    concurrency: usize,
    health: HealthServer,
    _gauges: SamplerRegistration,
    _dependencies: SamplerRegistration,
}

impl SenderService {
    /// Starts the outcome writer and claim renewal and binds the health endpoint; no job is
    /// taken until [`SenderService::run_until_stopped`] (or [`SenderService::run_one_job`]).
    pub fn build(settings: &Settings, handles: Handles<dyn SenderStore>) -> anyhow::Result<Self> {
        let Handles { store, bus, stop } = handles;
        let sender = &settings.sender;
        let probe_url = settings
            .probe
            .url
            .as_ref()
            .context("no provider to send to (MAILING_PROBE_URL)")?;
        if settings.probe.token.is_none() {
            tracing::warn!(
                "MAILING_PROBE_TOKEN is not set; the probe will likely refuse every request"
            );
        }
        let (outcomes, writer) = writer::spawn(
            store.clone(),
            Batching {
                max_outcomes: sender.outcome_batch,
                max_wait: sender.outcome_flush,
            },
        );
        let held = Arc::new(crate::claims::HeldClaims::default());
        let renewal = tokio::spawn(crate::claims::renew(
            store.clone(),
            held.clone(),
            sender.claim_renew,
            stop.clone(),
        ));
        let limiter = RateLimiter::new(sender.rate_limit).map(Arc::new);
        let heartbeat = limiter.as_ref().map(|limiter| {
            Heartbeat::spawn(
                store.clone(),
                limiter.clone(),
                share::identity(sender.rate_limit),
            )
        });
        let worker = Arc::new(Worker {
            store: store.clone(),
            held,
            mailings: crate::mailings::MailingStates::new(store.clone()),
            probe: ProbeClient::new(
                probe_url.expose_secret(),
                settings.probe.token.clone(),
                sender.concurrency,
            )
            .context("building the probe client")?,
            breaker: Breaker::new(
                sender.breaker_threshold,
                sender.breaker_cooldown,
                sender.token_pause,
            ),
            limiter,
            in_flight: Arc::new(Semaphore::new(sender.concurrency)),
            outcomes,
            retry: RetryPolicy {
                base: sender.retry_base,
                cap: sender.retry_cap,
                token_pause: sender.token_pause,
            },
            probe_timeout: settings.probe.timeout,
            claim_renew_every: sender.claim_renew,
            failures: Default::default(),
            auto_pause: sender.auto_pause,
            frequency_cap: sender.frequency_cap,
        });
        let trips = tokio::spawn(crate::trips::record(
            store.clone(),
            worker.clone(),
            stop.clone(),
        ));
        let dependencies = metrics::watch_dependencies(store.clone(), bus.clone());
        let reported = worker.clone();
        let health = health::serve(
            sender.health_addr,
            Arc::new(WorkerHealth {
                store: store.clone(),
                bus: bus.clone(),
                stop: stop.clone(),
                status: Box::new(move || probe_status(reported.breaker.open_reason())),
            }),
        )
        .context("binding the health endpoint (MAILING_SENDER_HEALTH_ADDR)")?;
        crate::metrics::register();
        let gauges = metrics::register_sampler(Arc::new(crate::metrics::SenderGauges {
            worker: worker.clone(),
            concurrency: sender.concurrency,
        }));
        Ok(Self {
            worker,
            writer,
            renewal,
            trips,
            store,
            heartbeat,
            bus,
            stop,
            prefetch: sender.prefetch(),
            concurrency: sender.concurrency,
            health,
            _gauges: gauges,
            _dependencies: dependencies,
        })
    }

    /// Why sending is paused, if it is: the probe kept failing, or rejected the token.
    pub fn paused(&self) -> Option<OpenReason> {
        self.worker.breaker.open_reason()
    }

    /// One step, for tests: handles the send job `delivery` carries and returns once the job
    /// is done with: every message attempted or settled, every outcome committed, the job
    /// acknowledged (or left to the broker, if it took the job back meanwhile).
    pub async fn run_one_job(&self, delivery: Delivery) {
        if let Handled::Started(ticket) = self.worker.handle(delivery).await {
            ticket.finished().await;
        }
    }

    /// Takes send jobs until the stop signal, then finishes the attempts in flight, commits
    /// their outcomes and acknowledges their jobs before it returns.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(health_port = self.health.port(), "sender running");
        let worker = self.worker.clone();
        let consumer = tokio::spawn(each_delivery(
            self.bus.clone(),
            Topic::SendJobs,
            self.prefetch,
            self.stop.clone(),
            move |delivery| {
                let worker = worker.clone();
                async move {
                    worker.handle(delivery).await;
                }
            },
        ));
        self.stop.clone().requested().await;
        tracing::info!("sender stopping: no new jobs, finishing the ones in flight");
        let _ = consumer.await;
        // Every attempt holds a permit: owning them all means none is in flight.
        let permits = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        let _all = self.worker.in_flight.acquire_many(permits).await;
        // No request goes out any more: hand this sender's share to the others. Not earlier,
        // as the attempts finishing after the signal still take tokens.
        if let Some(heartbeat) = self.heartbeat {
            heartbeat.leave().await;
        }
        // The writer acknowledges each job after its outcomes are committed.
        self.writer.finish().await;
        let _ = self.renewal.await;
        let _ = self.trips.await;
        crate::trips::flush(&self.store, &self.worker.breaker).await;
        self.health.stop().await;
        self.bus.close().await;
        tracing::info!("sender stopped");
        Ok(())
    }
}

/// What `/healthz` says about the probe.
fn probe_status(paused: Option<OpenReason>) -> serde_json::Value {
    let (probe, token) = match paused {
        None => ("sending", "accepted"),
        Some(OpenReason::ProviderFailing) => ("paused: probe failing", "accepted"),
        Some(OpenReason::TokenRejected) => ("paused: token rejected", "rejected"),
    };
    serde_json::json!({ "probe": probe, "probe_token": token })
}
