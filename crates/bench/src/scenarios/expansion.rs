//! Expansion: how long a mailing to a million clients takes to become a million messages,
//! from the api call until the database shows the mailing expanded.
//!
//! The mailing's send window is closed while it expands (it opens two hours later), so its
//! messages wait as `scheduled`: nothing is dispatched or sent meanwhile, in either setup, and
//! the deployment stays quiet afterwards for the api scenario, which reads this mailing's
//! statistics.

use super::{Deployment, MemoryRecord, TIME_ZONE, progress, rfc3339, timed};
use crate::cli::Options;
use crate::procfs::{CpuMeter, CpuShare};
use chrono::{DateTime, Duration as Span, Timelike as _, Utc};
use mailing_e2e::Setup;
use mailing_e2e::population::ClientSpec;
use serde::Serialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How often the database is asked whether the mailing is expanded (a primary-key read).
const POLL: Duration = Duration::from_millis(20);
/// Clients of the small mailing whose statistics the api scenario reads beside the big one's.
pub const SMALL_MAILING: u64 = 100;

/// How the expansion is kept from being disturbed by sending, for the report.
pub const QUIET: &str = "send window closed while it expands (opens in 2 h): \
                         nothing is dispatched or sent during the measurement";

/// One run's result.
#[derive(Debug, Clone, Serialize)]
pub struct ExpansionRun {
    pub run: u32,
    pub clients: u64,
    pub insert_seconds: f64,
    pub finished: bool,
    /// Seconds from the api call until the mailing showed as expanded.
    pub seconds: Option<f64>,
    pub messages: i64,
    pub quiet: &'static str,
    pub cpu: Vec<CpuShare>,
    pub memory: MemoryRecord,
    pub database: String,
}

/// A deployment holding an expanded mailing of many messages and a small one, for the api
/// scenario.
pub struct Prepared {
    pub deployment: Deployment,
    pub big_mailing: i64,
    pub big_messages: i64,
    pub small_mailing: i64,
}

/// One run on a deployment of its own; with `keep`, the deployment is handed back for the api
/// scenario, with a small mailing beside the big one.
pub async fn run_once(
    options: Options,
    setup: Setup,
    run: u32,
    keep: bool,
) -> (ExpansionRun, Option<Prepared>) {
    let say = |what: &str| progress(setup, "expansion", run, what);
    say("starting the deployment");
    let deployment = Deployment::start(&options, setup, "expansion", run, |o| o).await;
    let cluster = &deployment.cluster;
    let session = &deployment.session;
    let clients = options.expansion_clients;
    say(&format!("inserting {clients} clients"));
    let ((), insert_seconds) = timed(cluster.insert_generated_clients(0, clients, TIME_ZONE)).await;

    say("expanding a mailing to all of them");
    let cpu = CpuMeter::start(cluster);
    let called_at = Utc::now();
    let started = Instant::now();
    let big_mailing = cluster
        .api()
        .create_mailing(&closed_window_mailing(called_at, json!({})))
        .await;
    let deadline = started + Duration::from_secs(options.timeout);
    let finished = loop {
        if session.expanded(big_mailing).await {
            break true;
        }
        if Instant::now() >= deadline {
            say(&format!(
                "not expanded after {} s (--timeout)",
                options.timeout
            ));
            break false;
        }
        tokio::time::sleep(POLL).await;
    };
    let seconds = finished.then(|| started.elapsed().as_secs_f64());
    let cpu = cpu.finish();
    let big_messages = session.status_counts(big_mailing).await.values().sum();

    let result = |deployment: &Deployment| ExpansionRun {
        run,
        clients,
        insert_seconds,
        finished,
        seconds,
        messages: big_messages,
        quiet: QUIET,
        cpu: cpu.clone(),
        memory: deployment.memory_with_peaks(),
        database: deployment.database.clone(),
    };
    if !keep || !finished {
        return (result(&deployment), None);
    }

    say(&format!(
        "preparing a {SMALL_MAILING}-client mailing beside it"
    ));
    let small: Vec<ClientSpec> = (0..SMALL_MAILING)
        .map(|n| ClientSpec::new(&format!("7920000{n:04}"), "small", &[], TIME_ZONE))
        .collect();
    cluster.insert_clients(small).await;
    let small_mailing = cluster
        .api()
        .create_mailing(&closed_window_mailing(
            Utc::now(),
            json!({ "operator_codes": ["small"] }),
        ))
        .await;
    let deadline = Instant::now() + Duration::from_secs(options.timeout);
    while !session.expanded(small_mailing).await {
        assert!(
            Instant::now() < deadline,
            "the {SMALL_MAILING}-client mailing was not expanded within {} s",
            options.timeout
        );
        tokio::time::sleep(POLL).await;
    }
    say("letting the database settle (PostgreSQL: VACUUM ANALYZE, as autovacuum soon would)");
    session.autovacuum_now().await;
    let run = result(&deployment);
    (
        run,
        Some(Prepared {
            deployment,
            big_mailing,
            big_messages,
            small_mailing,
        }),
    )
}

/// A mailing starting now and ending in two days whose daily send window (clients are in
/// UTC) opens two hours from now, so that its messages wait.
fn closed_window_mailing(now: DateTime<Utc>, filter: Value) -> Value {
    let opens = (now.hour() + 2) % 24;
    json!({
        "text": "Benchmark: expansion",
        "start_at": rfc3339(now),
        "end_at": rfc3339(now + Span::days(2)),
        "filter": filter,
        "send_window": {
            "start": format!("{opens:02}:00"),
            "end": format!("{:02}:00", (opens + 1) % 24),
        },
    })
}
