//! Wires the scheduler process together: storage, bus, health endpoints, the tick loop and the
//! event consumer, until asked to stop.

use crate::events;
use crate::settings::Settings;
use crate::tick::Scheduler;
use anyhow::Context as _;
use chrono::Utc;
use mailing_bus::{Bus, BusOptions};
use mailing_domain::store::Store;
use mailing_runtime::health::{self, HealthReport};
use secrecy::ExposeSecret;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{Notify, watch};

struct Health {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    stopping: watch::Receiver<bool>,
}

impl HealthReport for Health {
    fn status(&self) -> serde_json::Value {
        serde_json::json!({ "broker": health::broker_state(self.bus.as_ref()) })
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

/// Runs the scheduler until `shutdown` resolves.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let (stop_tx, stop) = watch::channel(false);
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
        client_name: "mailing-scheduler".to_owned(),
        ..Default::default()
    };
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

    let (health_server, health_port) = health::serve(
        settings.scheduler_health_addr,
        Arc::new(Health {
            store: store.clone(),
            bus: bus.clone(),
            stopping: stop.clone(),
        }),
    )
    .context("binding the health endpoint (MAILING_SCHEDULER_HEALTH_ADDR)")?;
    crate::metrics::describe();
    let _pipeline_gauges =
        mailing_runtime::metrics::register_sampler(Arc::new(crate::metrics::PipelineGauges {
            store: store.clone(),
            bus: bus.clone(),
        }));
    let health_handle = health_server.handle();
    tokio::spawn(health_server);
    tracing::info!(health_port, "mailing-scheduler running");

    let scheduler = Arc::new(Scheduler::new(
        store,
        bus.clone(),
        settings.scheduler_claim_batch,
        settings.scheduler_job_size,
        settings.claim_lease(),
    ));
    let wake = Arc::new(Notify::new());
    let consumer = tokio::spawn(events::consume(
        scheduler.clone(),
        bus.clone(),
        wake.clone(),
        stop.clone(),
    ));

    let mut interval = tokio::time::interval(settings.tick());
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = interval.tick() => {}
            () = wake.notified() => {}
        }
        match scheduler.tick(Utc::now()).await {
            Ok(report) if report != Default::default() => tracing::debug!(?report, "tick"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "tick failed; trying again next tick"),
        }
    }

    tracing::info!("mailing-scheduler stopping");
    let _ = stop_tx.send(true);
    let _ = consumer.await;
    health_handle.stop(true).await;
    bus.close().await;
    Ok(())
}
