//! Carries out a plan's steps against a running deployment, its servers and the probe
//! simulator, and keeps a record of what was done when.

use crate::integrator::Integrator;
use crate::mailings::Mailing;
use crate::plan::{Action, Plan, ProbeChange, Server};
use crate::scale::Scale;
use crate::servers::{Postgres, RabbitMq, Stop};
use chrono::{DateTime, Utc};
use mailing_e2e::{Cluster, Service, SimClient};
use serde_json::json;
use std::time::{Duration, Instant};

/// How far ahead the ending mailing's end is moved: time enough for the change to reach the
/// senders (they re-read a mailing at most every 100 ms), short enough that it is still
/// being delivered when the end comes.
const END_NOTICE: Duration = Duration::from_millis(1500);
/// A hang outlasts the sender's probe timeout (see [`crate::run::PROBE_TIMEOUT_MS`]).
pub const HANG_MS: u64 = 5_000;
/// How long deliveries may stand still before the run counts as stuck.
const STALL_LIMIT: Duration = Duration::from_secs(180);

/// One thing done to the deployment.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Since the run began.
    pub at: Duration,
    /// When it took effect (the signal sent, the server stopped, the end reached), by the
    /// clock the probe dates deliveries with.
    pub struck: DateTime<Utc>,
    /// Deliveries the probe had accepted by then.
    pub deliveries: u64,
    pub what: String,
    /// How long it took, a restart and the wait for readiness included.
    pub took: Duration,
}

/// The deployment and everything a step acts on.
pub struct Chaos<'a> {
    pub scale: &'a Scale,
    pub cluster: &'a mut Cluster,
    pub postgres: &'a mut Postgres,
    pub rabbitmq: &'a mut RabbitMq,
    /// Told of each new mailing, to read it too.
    pub integrator: &'a Integrator,
    pub started: Instant,
    pub incidents: Vec<Incident>,
    /// The mailings created so far, with their ends.
    pub mailings: Vec<(Mailing, i64, DateTime<Utc>)>,
}

impl Chaos<'_> {
    /// Carries out every step of `plan`, each once the probe has accepted its number of
    /// messages.
    pub async fn carry_out(&mut self, plan: &Plan) {
        for step in &plan.steps {
            let deliveries = self.wait_for_deliveries(step.at_deliveries).await;
            let began = Instant::now();
            let at = self.started.elapsed();
            let (what, struck) = self.act(&step.action).await;
            self.incidents.push(Incident {
                at,
                struck,
                deliveries,
                what,
                took: began.elapsed(),
            });
        }
    }

    fn sim(&self) -> &SimClient {
        self.cluster.sim()
    }

    /// Waits until the probe has accepted `count` messages; returns how many it had.
    ///
    /// # Panics
    /// If deliveries stand still for [`STALL_LIMIT`].
    pub async fn wait_for_deliveries(&self, count: u64) -> u64 {
        let mut last = (0, Instant::now());
        loop {
            let delivered = self.sim().stats().await.received_ok_total;
            if delivered >= count {
                return delivered;
            }
            if delivered > last.0 {
                last = (delivered, Instant::now());
            }
            assert!(
                last.1.elapsed() < STALL_LIMIT,
                "deliveries stood still at {delivered} for {STALL_LIMIT:?}, waiting for {count}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Carries out one action; returns what was done, and when it took effect.
    async fn act(&mut self, action: &Action) -> (String, DateTime<Utc>) {
        match action {
            Action::Kill {
                service,
                replica,
                delay,
                down_for,
            } => {
                tokio::time::sleep(*delay).await;
                let struck = Utc::now();
                self.cluster.kill_replica(*service, *replica);
                tokio::time::sleep(*down_for).await;
                self.cluster.restart_replica(*service, *replica).await;
                let what = format!(
                    "SIGKILL {} #{replica}, restarted after {}",
                    self.cluster.binary(*service),
                    seconds(*down_for)
                );
                (what, struck)
            }
            Action::Restart {
                server,
                stop,
                down_for,
            } => {
                let struck = Utc::now();
                self.restart(*server, *stop, *down_for).await;
                let what = format!(
                    "{server:?} {stop} stop, started after {}",
                    seconds(*down_for)
                );
                (what, struck)
            }
            Action::Probe(change) => (self.probe(change).await, Utc::now()),
            Action::EndMailing => {
                let end = Utc::now() + chrono::Duration::from_std(END_NOTICE).expect("small");
                let (_, id, end_at) = self
                    .mailings
                    .iter_mut()
                    .find(|(mailing, ..)| *mailing == Mailing::Ending)
                    .expect("the ending mailing is created first");
                let path = format!("/api/v1/mailings/{id}");
                let changed = self
                    .cluster
                    .api()
                    .patch(&path, &json!({ "end_at": crate::mailings::rfc3339(end) }))
                    .await;
                *end_at = changed["end_at"]
                    .as_str()
                    .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                    .map(|at| at.to_utc())
                    .unwrap_or_else(|| panic!("PATCH {path} answered without end_at: {changed}"));
                let what = format!(
                    "ending mailing's end moved to {} ahead",
                    seconds(END_NOTICE)
                );
                (what, *end_at)
            }
            Action::CreateMailingThenKillApi {
                kill_after,
                down_for,
            } => {
                let end = Utc::now() + chrono::Duration::hours(2);
                let id = self
                    .cluster
                    .api()
                    .create_mailing(&Mailing::Late.body(Utc::now(), end))
                    .await;
                self.mailings.push((Mailing::Late, id, end));
                self.integrator.watch(id);
                tokio::time::sleep(*kill_after).await;
                let struck = Utc::now();
                self.cluster.kill(Service::Api);
                tokio::time::sleep(*down_for).await;
                self.cluster.restart(Service::Api).await;
                let what = format!(
                    "late mailing created, SIGKILL mailing-api {} ms after, restarted after {}",
                    kill_after.as_millis(),
                    seconds(*down_for)
                );
                (what, struck)
            }
        }
    }

    /// Stops a server, starts it again, and waits until every service is ready again.
    async fn restart(&mut self, server: Server, stop: Stop, down_for: Duration) {
        tokio::task::block_in_place(|| match server {
            Server::Postgres => self.postgres.stop(stop),
            Server::RabbitMq => self.rabbitmq.stop(stop),
        });
        tokio::time::sleep(down_for).await;
        let started = tokio::task::block_in_place(|| match server {
            Server::Postgres => self.postgres.run(),
            Server::RabbitMq => self.rabbitmq.run(),
        });
        if let Err(error) = started {
            panic!("{server:?} did not start again: {error}");
        }
        for service in [Service::Api, Service::Scheduler, Service::Sender] {
            for replica in 0..self.cluster.replicas(service) {
                self.cluster.await_replica_ready(service, replica).await;
            }
        }
    }

    async fn probe(&self, change: &ProbeChange) -> String {
        let (min, max) = self.scale.baseline_latency_ms;
        let healthy = json!({
            "latency_ms": { "min": min, "max": max },
            "error_500_share": 0.0, "error_429_share": 0.0, "malformed_share": 0.0,
            "hang_share": 0.0,
        });
        match change {
            ProbeChange::Slow { min_ms, max_ms } => {
                self.sim()
                    .configure(&json!({ "latency_ms": { "min": min_ms, "max": max_ms } }))
                    .await;
                format!("probe slow: {min_ms}..{max_ms} ms")
            }
            ProbeChange::Failing => {
                self.sim()
                    .configure(&json!({
                        "error_500_share": 0.1, "error_429_share": 0.1, "malformed_share": 0.1,
                        "hang_share": 0.05, "hang_ms": HANG_MS, "retry_after_seconds": 1,
                    }))
                    .await;
                "probe failing: 10 % 500, 10 % 429, 10 % malformed, 5 % hangs".to_owned()
            }
            ProbeChange::Healthy => {
                self.sim().configure(&healthy).await;
                "probe healthy".to_owned()
            }
            ProbeChange::Outage {
                seconds: length,
                drop_connections,
            } => {
                let mode = if *drop_connections {
                    "drop"
                } else {
                    "unavailable"
                };
                self.sim().configure(&json!({ "outage_mode": mode })).await;
                self.sim().outage(*length).await;
                format!(
                    "probe down for {} ({})",
                    seconds(Duration::from_secs_f64(*length)),
                    if *drop_connections {
                        "connections dropped"
                    } else {
                        "503"
                    }
                )
            }
        }
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
