//! The scenarios, each on deployments of its own, and what they share: starting a
//! deployment with the benchmark's settings, sampling its memory, and running a scenario so
//! that a failure is reported rather than ending the benchmark.

pub mod api;
pub mod contacts;
pub mod drain;
pub mod expansion;

use crate::cli::Options;
use crate::procfs::{self, deployment_processes};
use chrono::{DateTime, SecondsFormat, Utc};
use mailing_e2e::db::Session;
use mailing_e2e::{Cluster, ClusterOptions, Setup};
use serde::Serialize;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a fresh deployment is left alone before its idle memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// Every deployment's clients live here; generated clients are in UTC.
pub const TIME_ZONE: &str = "UTC";

/// A running deployment of one scenario run, with a database connection for readings.
pub struct Deployment {
    pub cluster: Cluster,
    pub session: Session,
    /// The database server's version as it reports it.
    pub database: String,
    pub memory: MemoryRecord,
}

impl Deployment {
    /// Starts a deployment named `bench-<scenario>-<run>` (its logs go to
    /// `target/e2e-logs/bench-<scenario>-<run>-<setup>/`) with the binaries' own defaults,
    /// `settings` (the scenario's), then the `--env` settings; reads its idle memory.
    pub async fn start(
        options: &Options,
        setup: Setup,
        scenario: &str,
        run: u32,
        settings: impl FnOnce(ClusterOptions) -> ClusterOptions,
    ) -> Deployment {
        let mut cluster_options = settings(
            ClusterOptions::new(&format!("bench-{scenario}-{run}"), setup)
                .binary_defaults()
                .sim("PROBE_SIM_WORKERS", options.sim_workers)
                // The simulator stands in for a provider on other machines: its line per
                // request would only take CPU from the product here.
                .sim("RUST_LOG", "warn"),
        );
        for extra in &options.env {
            cluster_options = cluster_options.env(extra.service, &extra.key, &extra.value);
        }
        let cluster = Cluster::start(&cluster_options).await;
        let session = Session::open(cluster.database_url()).await;
        let database = session.server_version().await;
        tokio::time::sleep(SETTLE).await;
        let processes = deployment_processes(&cluster)
            .into_iter()
            .map(|(process, pid)| ProcessMemory {
                idle_kib: procfs::memory(pid).map(|m| m.rss_kib),
                peak_kib: None,
                process,
            })
            .collect();
        Deployment {
            cluster,
            session,
            database,
            memory: MemoryRecord {
                scenario: scenario.to_owned(),
                run,
                processes,
            },
        }
    }

    /// The memory record with each process's peak (VmHWM) as of now.
    pub fn memory_with_peaks(&self) -> MemoryRecord {
        let mut record = self.memory.clone();
        let pids = deployment_processes(&self.cluster);
        for process in &mut record.processes {
            process.peak_kib = pids
                .iter()
                .find(|(name, _)| *name == process.process)
                .and_then(|(_, pid)| procfs::memory(*pid))
                .map(|m| m.peak_kib);
        }
        record
    }
}

/// Resident memory of one process of a deployment.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessMemory {
    pub process: String,
    /// VmRSS a second after the deployment was ready, before any data or load.
    pub idle_kib: Option<u64>,
    /// VmHWM when the scenario ended.
    pub peak_kib: Option<u64>,
}

/// The memory of one deployment's processes.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryRecord {
    pub scenario: String,
    pub run: u32,
    pub processes: Vec<ProcessMemory>,
}

/// A scenario run that did not complete.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub scenario: String,
    pub run: u32,
    pub message: String,
}

/// Runs `scenario` as a task of its own, so that a panic of the harness (a process that does
/// not start, a database that refuses) becomes a [`Failure`] and the deployment is stopped and
/// removed as the task unwinds.
pub async fn guarded<T: Send + 'static>(
    scenario: &str,
    run: u32,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, Failure> {
    tokio::spawn(work).await.map_err(|error| {
        let message = match error.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panicked".to_owned()),
            Err(error) => error.to_string(),
        };
        Failure {
            scenario: scenario.to_owned(),
            run,
            message,
        }
    })
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Seconds from `from` to `to` on the wall clock (the services and the database share this
/// machine's clock).
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

/// One progress line on stderr, so stdout holds only the results.
pub fn progress(setup: Setup, scenario: &str, run: u32, what: &str) {
    eprintln!("  [{setup} {scenario} #{run}] {what}");
}

/// Runs `step` and says how long it took.
pub async fn timed<T>(step: impl Future<Output = T>) -> (T, f64) {
    let started = Instant::now();
    let value = step.await;
    (value, started.elapsed().as_secs_f64())
}
