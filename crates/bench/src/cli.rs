//! The command line: which setups and scenarios, how big, how often.

use clap::{Parser, ValueEnum};
use mailing_e2e::{Service, Setup};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Each scenario starts its own deployment (own PostgreSQL database and RabbitMQ namespace, or own
SQLite file) from the binaries beside this one, so build them first: `make bench` runs
`cargo build --release --bins` and then this program. The distributed setup needs PostgreSQL on
127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (MAILING_TEST_DATABASE_URL and
MAILING_TEST_AMQP_URL point elsewhere); the embedded one needs nothing.

By default every scenario runs once, which takes a few minutes per setup. For numbers to
compare, take medians: `--runs 3` (or 5) repeats each scenario and reports the median with the
minimum and maximum.

Examples:
  make bench
  make bench ARGS=\"--runs 3\"
  make bench ARGS=\"--setup distributed --only drain,latency --clients 1000000\"
  make bench ARGS=\"--only latency --env sender:MAILING_SENDER_PREFETCH=32\"";

/// Measures the mailing service against its performance targets (docs/performance.md) in the distributed
/// and the embedded setup, prints a table per setup with each target met (✓) or missed (✗),
/// and writes the results with the machine's facts as JSON.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(name = "mailing-bench", version, after_help = AFTER_HELP)]
pub struct Options {
    /// Which setups to measure.
    #[arg(long, value_enum, default_value_t = SetupChoice::Both)]
    pub setup: SetupChoice,

    /// Scenarios to run, comma-separated (default: all). `api` reads the statistics of the
    /// expansion scenario's mailing and prepares one if `expansion` is not selected.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SCENARIOS")]
    pub only: Vec<Scenario>,

    /// Runs of each scenario; with more than one, the table shows medians with min–max.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,

    /// Clients (one message each) of the drain and latency mailings.
    #[arg(long, default_value_t = 100_000, value_parser = population)]
    pub clients: u64,

    /// Clients (one message each) of the expansion mailing, whose statistics `api` reads.
    #[arg(long, default_value_t = 1_000_000, value_parser = population)]
    pub expansion_clients: u64,

    /// Rows of the file the contacts scenario imports, then exports.
    #[arg(long, default_value_t = 1_000_000, value_parser = population)]
    pub contacts_rows: u64,

    /// Simulated probe latency in the latency scenario, in milliseconds: `200` or a uniform
    /// range `150..250` (PROBE_SIM_LATENCY_MS).
    #[arg(long, default_value = "200", value_name = "MS")]
    pub latency_ms: String,

    /// Probe requests in flight per sender in the latency scenario
    /// (MAILING_SENDER_CONCURRENCY); the drain scenario keeps the sender's default.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub sender_concurrency: u32,

    /// HTTP worker threads of the probe simulator in every scenario (PROBE_SIM_WORKERS).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub sim_workers: u32,

    /// Concurrent connections of the api load client.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub api_connections: u32,

    /// Seconds each api measurement lasts, after a one-second warm-up that is not counted.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub api_seconds: u64,

    /// Longest wait, in seconds, for a mailing to be delivered or expanded; a scenario that
    /// takes longer is reported as unfinished with what it reached.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// An extra setting for every deployment, applied after the benchmark's own:
    /// SERVICE:KEY=VALUE with SERVICE one of probe-sim, api, scheduler, sender (in the embedded
    /// setup the last three go to the one `mailing` process). Repeatable.
    #[arg(long = "env", value_name = "SERVICE:KEY=VALUE", value_parser = ExtraEnv::parse)]
    pub env: Vec<ExtraEnv>,

    /// Where to write the JSON results [default: target/bench/results-<UTC timestamp>.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl Options {
    pub fn setups(&self) -> Vec<Setup> {
        match self.setup {
            SetupChoice::Distributed => vec![Setup::Distributed],
            SetupChoice::Embedded => vec![Setup::Embedded],
            SetupChoice::Both => vec![Setup::Distributed, Setup::Embedded],
        }
    }

    pub fn selected(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SetupChoice {
    Distributed,
    Embedded,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// A mailing to every client, probe answering at once.
    Drain,
    /// The same with simulated probe latency.
    Latency,
    /// A million-client mailing becoming messages.
    Expansion,
    /// Requests per second and latency of a few endpoints.
    Api,
    /// A million-row CSV import of clients, then their export.
    Contacts,
    /// Resident memory of each process, idle and at its peak.
    Memory,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scenario::Drain => "drain",
            Scenario::Latency => "latency",
            Scenario::Expansion => "expansion",
            Scenario::Api => "api",
            Scenario::Contacts => "contacts",
            Scenario::Memory => "memory",
        })
    }
}

/// One `--env` setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraEnv {
    #[serde(serialize_with = "service_name")]
    pub service: Service,
    pub key: String,
    pub value: String,
}

impl ExtraEnv {
    fn parse(text: &str) -> Result<ExtraEnv, String> {
        let shape = || format!("`{text}` is not SERVICE:KEY=VALUE");
        let (service, setting) = text.split_once(':').ok_or_else(shape)?;
        let (key, value) = setting.split_once('=').ok_or_else(shape)?;
        let service = match service {
            "probe-sim" | "sim" => Service::ProbeSim,
            "api" => Service::Api,
            "scheduler" => Service::Scheduler,
            "sender" => Service::Sender,
            other => {
                return Err(format!(
                    "unknown service `{other}`: one of probe-sim, api, scheduler, sender"
                ));
            }
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{key}` is not an environment variable name"));
        }
        Ok(ExtraEnv {
            service,
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

impl fmt::Display for ExtraEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}={}",
            service_label(self.service),
            self.key,
            self.value
        )
    }
}

pub fn service_label(service: Service) -> &'static str {
    match service {
        Service::ProbeSim => "probe-sim",
        Service::Api => "api",
        Service::Scheduler => "scheduler",
        Service::Sender => "sender",
    }
}

fn service_name<S: serde::Serializer>(service: &Service, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(service_label(*service))
}

/// A client count: at least one, and within the eight digits generated phone numbers have.
fn population(text: &str) -> Result<u64, String> {
    let count: u64 = text
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    if (1..=10_000_000).contains(&count) {
        Ok(count)
    } else {
        Err("between 1 and 10,000,000".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_settings_name_a_service_a_key_and_a_value() {
        let env = ExtraEnv::parse("sender:MAILING_SENDER_PREFETCH=32").unwrap();
        assert_eq!(
            (env.service, env.key.as_str(), env.value.as_str()),
            (Service::Sender, "MAILING_SENDER_PREFETCH", "32")
        );
        assert!(ExtraEnv::parse("sender:MAILING_X").is_err());
        assert!(ExtraEnv::parse("db:MAILING_X=1").is_err());
    }

    #[test]
    fn the_command_line_parses_with_defaults() {
        let options = Options::try_parse_from(["mailing-bench", "--only", "drain,api"]).unwrap();
        assert!(options.selected(Scenario::Drain) && !options.selected(Scenario::Latency));
        assert_eq!(options.setups(), vec![Setup::Distributed, Setup::Embedded]);
        assert_eq!((options.runs, options.clients), (1, 100_000));
    }
}
