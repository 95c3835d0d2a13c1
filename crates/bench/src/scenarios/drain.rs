//! Drain and latency hiding: a mailing to every one of N clients, starting now, until its last
//! message is sent. Timed from the api call to the last `sent_at` the database records, so the
//! polling interval does not count.

use super::{Deployment, MemoryRecord, TIME_ZONE, progress, rfc3339, seconds_between, timed};
use crate::cli::Options;
use crate::procfs::{CpuMeter, CpuShare};
use chrono::{Duration as Span, Utc};
use mailing_e2e::Setup;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often the simulator's count is read while the mailing drains.
const POLL: Duration = Duration::from_millis(100);
/// Every this many polls the database is asked too, so a mailing whose messages fail or
/// expire (and so never reach the simulator) is seen to have settled.
const DATABASE_EVERY: u32 = 20;

/// What varies between the two scenarios.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    pub scenario: &'static str,
    /// PROBE_SIM_LATENCY_MS, when set.
    pub probe_latency_ms: Option<String>,
    /// MAILING_SENDER_CONCURRENCY, when set; otherwise the sender's default.
    pub sender_concurrency: Option<u32>,
}

impl Variant {
    pub fn drain() -> Variant {
        Variant {
            scenario: "drain",
            probe_latency_ms: None,
            sender_concurrency: None,
        }
    }

    pub fn latency(options: &Options) -> Variant {
        Variant {
            scenario: "latency",
            probe_latency_ms: Some(options.latency_ms.clone()),
            sender_concurrency: Some(options.sender_concurrency),
        }
    }
}

/// One run's result.
#[derive(Debug, Clone, Serialize)]
pub struct DrainRun {
    pub run: u32,
    pub variant: Variant,
    pub sim_workers: u32,
    pub clients: u64,
    /// Seconds the clients took to insert (setup, not measured).
    pub insert_seconds: f64,
    /// Whether every message settled before the timeout.
    pub finished: bool,
    pub sent: u64,
    /// Seconds from the api call to the last `sent_at`.
    pub seconds: Option<f64>,
    pub messages_per_second: Option<f64>,
    /// Seconds from the api call to the first `sent_at`.
    pub first_sent_seconds: Option<f64>,
    pub by_status: BTreeMap<String, i64>,
    /// Probe requests, repeats and the most in flight at once, as the simulator counted them.
    pub probe_requests: u64,
    pub probe_duplicates: u64,
    pub probe_max_in_flight: u64,
    pub cpu: Vec<CpuShare>,
    pub memory: MemoryRecord,
    pub database: String,
}

/// One run of the scenario on a deployment of its own.
pub async fn run_once(options: Options, setup: Setup, variant: Variant, run: u32) -> DrainRun {
    let say = |what: &str| progress(setup, variant.scenario, run, what);
    say("starting the deployment");
    let deployment = Deployment::start(&options, setup, variant.scenario, run, |mut o| {
        if let Some(latency) = &variant.probe_latency_ms {
            o = o.sim("PROBE_SIM_LATENCY_MS", latency);
        }
        if let Some(concurrency) = variant.sender_concurrency {
            o = o.sender("MAILING_SENDER_CONCURRENCY", concurrency);
        }
        o
    })
    .await;
    let cluster = &deployment.cluster;
    let session = &deployment.session;
    let clients = options.clients;
    say(&format!("inserting {clients} clients"));
    let ((), insert_seconds) = timed(cluster.insert_generated_clients(0, clients, TIME_ZONE)).await;

    say("delivering a mailing to all of them");
    let cpu = CpuMeter::start(cluster);
    let called_at = Utc::now();
    let mailing_id = cluster
        .api()
        .create_mailing(&json!({
            "text": format!("Benchmark: {} to every client", variant.scenario),
            "start_at": rfc3339(called_at),
            "end_at": rfc3339(called_at + Span::days(1)),
            "filter": {},
        }))
        .await;
    let deadline = Instant::now() + Duration::from_secs(options.timeout);
    let mut polls = 0u32;
    let finished = loop {
        tokio::time::sleep(POLL).await;
        polls += 1;
        let probe_has_all = cluster.sim().stats().await.unique_ids >= clients;
        if (probe_has_all || polls.is_multiple_of(DATABASE_EVERY))
            && session.expanded(mailing_id).await
            && session.unsettled(mailing_id).await == 0
        {
            break true;
        }
        if Instant::now() >= deadline {
            say(&format!(
                "not settled after {} s (--timeout)",
                options.timeout
            ));
            break false;
        }
    };
    let cpu = cpu.finish();

    let span = session.sent_span(mailing_id).await;
    let by_status = session.status_counts(mailing_id).await;
    let sim = cluster.sim().stats().await;
    let sent = u64::try_from(span.sent).unwrap_or(0);
    let seconds = span
        .last
        .map(|last| seconds_between(called_at, last))
        .filter(|_| finished);
    DrainRun {
        run,
        variant: variant.clone(),
        sim_workers: options.sim_workers,
        clients,
        insert_seconds,
        finished,
        sent,
        seconds,
        messages_per_second: seconds.map(|s| sent as f64 / s),
        first_sent_seconds: span.first.map(|first| seconds_between(called_at, first)),
        by_status,
        probe_requests: sim.requests_total,
        probe_duplicates: sim.duplicates,
        probe_max_in_flight: sim.max_in_flight,
        cpu,
        memory: deployment.memory_with_peaks(),
        database: deployment.database.clone(),
    }
}
