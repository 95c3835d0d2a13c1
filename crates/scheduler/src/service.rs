//! The scheduler service built from its settings and handles: the tick loop, the mailing event
//! consumer and its health endpoints, until the stop signal.

use crate::events;
use crate::tick::Scheduler;
use anyhow::Context as _;
use chrono::Utc;
use mailing_bus::Bus;
use mailing_domain::store::SchedulerStore;
use mailing_reports::{Mailer, ReportLoop};
use mailing_runtime::health::{self, HealthServer, WorkerHealth};
use mailing_runtime::metrics::{self, SamplerRegistration};
use mailing_runtime::{Handles, Settings, Stop};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub struct SchedulerService {
    scheduler: Arc<Scheduler>,
    /// Asked whether the schema holds this release's migrations before each tick.
    store: Arc<dyn SchedulerStore>,
    bus: Arc<dyn Bus>,
    stop: Stop,
    tick: Duration,
    health: HealthServer,
    /// Sends the daily report e-mail; `None` without an SMTP server or recipients.
    reports: Option<ReportLoop>,
    _gauges: SamplerRegistration,
    _dependencies: SamplerRegistration,
}

impl SchedulerService {
    /// Binds the health endpoint; nothing runs until [`SchedulerService::run_until_stopped`].
    pub fn build(
        settings: &Settings,
        handles: Handles<dyn SchedulerStore>,
    ) -> anyhow::Result<Self> {
        let Handles { store, bus, stop } = handles;
        let mailer = Mailer::from_settings(settings.smtp.as_ref(), &settings.report)
            .context("setting up the daily report e-mail")?;
        let reports =
            mailer.map(|mailer| ReportLoop::new(store.clone(), settings.report.calendar, mailer));
        let report_status = reports.as_ref().map(ReportLoop::status);
        let health = health::serve(
            settings.scheduler.health_addr,
            Arc::new(WorkerHealth {
                store: store.clone(),
                bus: bus.clone(),
                stop: stop.clone(),
                status: Box::new(move || match &report_status {
                    Some(status) => serde_json::json!({
                        "daily_report": *status.lock().unwrap_or_else(|poison| poison.into_inner())
                    }),
                    None => serde_json::json!({ "daily_report": { "state": "off" } }),
                }),
            }),
        )
        .context("binding the health endpoint (MAILING_SCHEDULER_HEALTH_ADDR)")?;
        crate::metrics::register();
        // At 0 when the e-mail is off, so its alert and dashboards find the series anyway.
        mailing_reports::metrics::register();
        let gauges = metrics::register_sampler(Arc::new(crate::metrics::PipelineGauges {
            store: store.clone(),
            bus: bus.clone(),
        }));
        let dependencies = metrics::watch_dependencies(store.clone(), bus.clone());
        let scheduler = Arc::new(Scheduler::new(
            store.clone(),
            bus.clone(),
            settings.scheduler.claim_batch,
            settings.scheduler.job_size,
            settings.scheduler.claim_lease,
        ));
        Ok(Self {
            scheduler,
            store,
            bus,
            stop,
            tick: settings.scheduler.tick,
            health,
            reports,
            _gauges: gauges,
            _dependencies: dependencies,
        })
    }

    /// Ticks, and reacts to mailing events at once, until the stop signal.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(health_port = self.health.port(), "scheduler running");
        let wake = Arc::new(Notify::new());
        let consumer = tokio::spawn(events::consume(
            self.scheduler.clone(),
            self.bus.clone(),
            wake.clone(),
            self.stop.clone(),
        ));
        let reports = self
            .reports
            .map(|reports| tokio::spawn(reports.run(self.stop.clone())));
        let mut stop = self.stop.clone();
        let mut schema = SchemaGate::default();
        let mut interval = tokio::time::interval(self.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.requested() => break,
                _ = interval.tick() => {}
                () = wake.notified() => {}
            }
            if !schema.allows_tick(&self.store).await {
                continue;
            }
            match self.scheduler.tick(Utc::now()).await {
                Ok(report) if report != Default::default() => tracing::debug!(
                    mailings_expanded = report.mailings_expanded,
                    messages_created = report.messages_created,
                    messages_expired = report.messages_expired,
                    messages_reclaimed = report.messages_reclaimed,
                    messages_dispatched = report.messages_dispatched,
                    "tick"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "tick failed; trying again next tick"),
            }
        }
        tracing::info!("scheduler stopping");
        let _ = consumer.await;
        if let Some(reports) = reports {
            let _ = reports.await;
        }
        self.health.stop().await;
        self.bus.close().await;
        Ok(())
    }
}

/// Holds the ticks back while the database lacks migrations this release carries (a new
/// release started before its migration ran): every tick would fail on a missing table, fill
/// the log and count as a tick failure, which pages. Says so once, and once more when the
/// schema is current. A current schema stays current (schemas are not rolled back under a
/// running release), so once it is, the ticks pass without asking.
#[derive(Default)]
struct SchemaGate {
    waiting: bool,
    current: bool,
}

impl SchemaGate {
    async fn allows_tick(&mut self, store: &Arc<dyn SchedulerStore>) -> bool {
        if self.current {
            return true;
        }
        match mailing_runtime::blocking::call(store, |store| store.pending_migrations()).await {
            Ok(pending) if !pending.is_empty() => {
                if !self.waiting {
                    tracing::info!(
                        pending = pending.len(),
                        first = %pending[0],
                        "waiting for this release's migrations before scheduling; run `mailing-api migrate`"
                    );
                    self.waiting = true;
                }
                false
            }
            Ok(_) => {
                if std::mem::take(&mut self.waiting) {
                    tracing::info!("the database schema is current; scheduling");
                }
                self.current = true;
                true
            }
            // The tick finds out and counts it: an unreachable database is a failure.
            Err(_) => true,
        }
    }
}
