//! The order of work: check what the setups need, run the selected scenarios per setup,
//! print each setup's table as it completes, and write the JSON.

use crate::cli::{Options, Scenario};
use crate::machine::{self, Machine};
use crate::procfs;
use crate::report::{self, Report, SetupResult};
use crate::scenarios::drain::{self, Variant};
use crate::scenarios::{self, Failure, api, contacts, expansion, guarded};
use anyhow::{Context as _, bail};
use chrono::Utc;
use mailing_e2e::{ClusterOptions, Setup};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where the harness finds PostgreSQL and RabbitMQ (its defaults, and the variables that
/// change them).
const DATABASE_URL_VAR: &str = "MAILING_TEST_DATABASE_URL";
const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const AMQP_URL_VAR: &str = "MAILING_TEST_AMQP_URL";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Share of a core other processes may use before the run warns that its numbers suffer.
pub const BUSY: f64 = 20.0;

/// Whether every selected scenario ran to its end (a missed target still counts as run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Complete,
    /// This many scenario runs failed; the others are reported.
    Failed(usize),
}

/// Runs the benchmark as `options` say, prints the tables and writes the JSON.
pub async fn run(options: Options) -> anyhow::Result<Completion> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let bin_dir = mailing_e2e::cluster::bin_dir();
    let setups = options.setups();
    preflight(&options, &setups, &bin_dir)?;
    let out = options.out.clone().unwrap_or_else(|| {
        let target = bin_dir.parent().unwrap_or(&bin_dir);
        target.join("bench").join(format!(
            "results-{}.json",
            started_at.format("%Y%m%dT%H%M%SZ")
        ))
    });

    let mut machine = Machine::collect(&bin_dir);
    if setups.contains(&Setup::Distributed) {
        let url = std::env::var(AMQP_URL_VAR).unwrap_or_else(|_| AMQP_URL.to_owned());
        machine.rabbitmq = Some(
            machine::rabbitmq_version(&url).unwrap_or_else(|error| format!("unknown ({error})")),
        );
    }
    println!(
        "mailing-bench: {} on {} cores ({}), {} MiB; {} binaries in {}",
        setups
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
        machine.cores,
        machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        machine.memory_mib.unwrap_or(0),
        machine.profile,
        bin_dir.display()
    );
    let (busy, busiest) = procfs::load_elsewhere(Duration::from_secs(1)).await;
    machine.load_at_start_percent = Some(busy);
    if busy >= BUSY {
        let busiest: Vec<String> = busiest
            .iter()
            .map(|s| format!("{} ({:.0} %)", s.process, s.percent))
            .collect();
        println!(
            "warning: the machine is already busy ({busy:.0} % of a core) before the benchmark \
             starts; the numbers will understate an idle machine. Busiest processes still \
             running: {}",
            busiest.join("; ")
        );
    }
    if let Ok(level) = std::env::var("RUST_LOG") {
        println!(
            "warning: RUST_LOG={level} reaches the services and changes what their logging \
             costs; unset it to measure them as they ship"
        );
    }
    if cfg!(debug_assertions) {
        println!(
            "warning: a debug build measures the debug binaries; `make bench` builds and runs \
             the release ones"
        );
    }

    let mut results = Vec::new();
    let mut failures = 0;
    for setup in setups {
        eprintln!("{setup}:");
        let mut result = run_setup(&options, setup).await;
        if setup == Setup::Distributed {
            result.bus.clone_from(&machine.rabbitmq);
        }
        match setup {
            Setup::Distributed => machine.postgresql = result.database.clone(),
            Setup::Embedded => machine.sqlite = result.database.clone(),
        }
        report::tabulate(&mut result, &options);
        print!("{}", report::render(&result, &options));
        failures += result.failures.len();
        results.push(result);
    }

    let report = Report {
        tool: "mailing-bench",
        version: env!("CARGO_PKG_VERSION"),
        started_at,
        finished_at: Utc::now(),
        wall_seconds: clock.elapsed().as_secs_f64(),
        arguments: std::env::args().skip(1).collect(),
        options,
        machine,
        setups: results,
    };
    report::write_json(&out, &report)?;
    println!(
        "\nResults: {}\nWall time: {:.0} s",
        out.display(),
        report.wall_seconds
    );
    Ok(match failures {
        0 => Completion::Complete,
        n => Completion::Failed(n),
    })
}

/// Fails early, saying what to do, when a binary or a server the run needs is missing.
fn preflight(options: &Options, setups: &[Setup], bin_dir: &Path) -> anyhow::Result<()> {
    let mut binaries = vec!["probe-sim"];
    if setups.contains(&Setup::Distributed) {
        binaries.extend(["mailing-api", "mailing-scheduler", "mailing-sender"]);
    }
    if setups.contains(&Setup::Embedded) {
        binaries.push("mailing");
    }
    for binary in binaries {
        let path = bin_dir.join(binary);
        if !path.is_file() {
            bail!(
                "{} not found: build the binaries first with `cargo build --release --bins` \
                 (`make bench` does)",
                path.display()
            );
        }
    }
    if setups.contains(&Setup::Distributed) {
        let database = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| DATABASE_URL.to_owned());
        reachable(&database, 5432).with_context(|| {
            format!(
                "PostgreSQL is not answering at {} (the distributed setup needs it; \
                 `--setup embedded` does without). Start it with: \
                 pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
                redacted(&database)
            )
        })?;
        let broker = std::env::var(AMQP_URL_VAR).unwrap_or_else(|_| AMQP_URL.to_owned());
        reachable(&broker, 5672).with_context(|| {
            format!(
                "RabbitMQ is not answering at {} (the distributed setup needs it; \
                 `--setup embedded` does without). Start it with: rabbitmq-server -detached",
                redacted(&broker)
            )
        })?;
    }
    if let Some(out) = &options.out
        && out.is_dir()
    {
        bail!("--out {} is a directory; name a file", out.display());
    }
    Ok(())
}

/// Whether a TCP connection to the URL's host and port opens.
fn reachable(url: &str, default_port: u16) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url).context("unreadable URL")?;
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(default_port);
    let address = (host, port)
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    TcpStream::connect_timeout(&address, Duration::from_secs(3))?;
    Ok(())
}

/// The URL without its password.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Runs the selected scenarios on one setup, each run on a deployment of its own.
async fn run_setup(options: &Options, setup: Setup) -> SetupResult {
    let mut result = SetupResult::new(setup);
    let mut memory = Vec::new();
    for (scenario, variant) in [
        (Scenario::Drain, Variant::drain()),
        (Scenario::Latency, Variant::latency(options)),
    ] {
        if !options.selected(scenario) {
            continue;
        }
        for run in 1..=options.runs {
            let work = drain::run_once(options.clone(), setup, variant.clone(), run);
            match guarded(variant.scenario, run, work).await {
                Ok(outcome) => {
                    result.database.get_or_insert(outcome.database.clone());
                    memory.push(outcome.memory.clone());
                    match scenario {
                        Scenario::Drain => result.drain.push(outcome),
                        _ => result.latency.push(outcome),
                    }
                }
                Err(failure) => result.failures.push(failure),
            }
        }
    }

    let want_api = options.selected(Scenario::Api);
    let want_expansion = options.selected(Scenario::Expansion);
    let mut prepared = None;
    if want_expansion || want_api {
        // Without `expansion` selected, one run prepares the api scenario's mailing.
        let runs = if want_expansion { options.runs } else { 1 };
        for run in 1..=runs {
            let keep = want_api && run == runs;
            let work = expansion::run_once(options.clone(), setup, run, keep);
            match guarded("expansion", run, work).await {
                Ok((outcome, kept)) => {
                    result.database.get_or_insert(outcome.database.clone());
                    if kept.is_none() {
                        memory.push(outcome.memory.clone());
                    }
                    if want_expansion {
                        result.expansion.push(outcome);
                    }
                    prepared = kept.or(prepared);
                }
                Err(failure) => result.failures.push(failure),
            }
        }
    }
    if want_api {
        match prepared {
            Some(prepared) => {
                let runs = options.runs;
                let api_options = options.clone();
                let work = async move {
                    let mut api_runs = Vec::new();
                    for run in 1..=runs {
                        api_runs.push(api::run_once(&api_options, setup, &prepared, run).await);
                    }
                    (api_runs, api::memory(&prepared))
                };
                match guarded("api", 1, work).await {
                    Ok((api_runs, record)) => {
                        result.api = api_runs;
                        memory.push(record);
                    }
                    Err(failure) => result.failures.push(failure),
                }
            }
            None => result.failures.push(Failure {
                scenario: "api".to_owned(),
                run: 1,
                message: "no expanded mailing to read: the expansion scenario did not finish"
                    .to_owned(),
            }),
        }
    }

    if options.selected(Scenario::Contacts) {
        for run in 1..=options.runs {
            let work = contacts::run_once(options.clone(), setup, run);
            match guarded("contacts", run, work).await {
                Ok(outcome) => {
                    result.database.get_or_insert(outcome.database.clone());
                    memory.push(outcome.memory.clone());
                    result.contacts.push(outcome);
                }
                Err(failure) => result.failures.push(failure),
            }
        }
    }

    if options.selected(Scenario::Memory) && memory.is_empty() && result.failures.is_empty() {
        // Memory alone: a deployment that only idles.
        let memory_options = options.clone();
        let work = async move {
            scenarios::progress(setup, "memory", 1, "starting the deployment");
            let deployment = scenarios::Deployment::start(
                &memory_options,
                setup,
                "memory",
                1,
                |o: ClusterOptions| o,
            )
            .await;
            (deployment.database.clone(), deployment.memory_with_peaks())
        };
        match guarded("memory", 1, work).await {
            Ok((database, record)) => {
                result.database.get_or_insert(database);
                memory.push(record);
            }
            Err(failure) => result.failures.push(failure),
        }
    }
    result.memory = memory;
    result
}
