//! `mailing-faults`: runs the fault-injection suite (see the crate documentation, or
//! `mailing-faults --help`) and exits non-zero if any run broke a promise.

use clap::Parser;
use mailing_faults::{Scale, report};
use std::process::ExitCode;

/// Runs a mailing through crashes, server restarts and a misbehaving probe, then checks that
/// nothing was lost, duplicated or delivered after its end (docs/faults.md). Needs PostgreSQL and
/// RabbitMQ installed (not running: each run starts servers of its own) and the workspace's
/// binaries built beside this one.
#[derive(Debug, Parser)]
#[command(name = "mailing-faults")]
struct Options {
    /// `full`: 100,000 recipients, several of every fault; `short`: 6,000, each fault once.
    #[arg(long, default_value = "full", value_parser = ["full", "short"])]
    scale: String,
    /// Runs, each with its own seed (the first seed, then the next ones).
    #[arg(long, default_value_t = 3)]
    runs: u64,
    /// The first run's seed; drawn at random (and printed) when not given. A seed fixes what
    /// goes wrong and at which delivery; the machine's timing still varies.
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let scale = match options.scale.as_str() {
        "short" => Scale::short(),
        _ => Scale::full(),
    };
    let first_seed = options.seed.unwrap_or_else(|| rand::random::<u32>().into());
    let mut failed = Vec::new();
    for seed in (0..options.runs).map(|run| first_seed + run) {
        println!("mailing-faults: {} run, seed {seed}", scale.name);
        let run_scale = scale.clone();
        // A run panics when the deployment cannot recover at all; that is a failed run.
        let outcome = tokio::spawn(async move { mailing_faults::run(&run_scale, seed).await });
        let outcome = tokio::select! {
            outcome = outcome => outcome,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("mailing-faults: interrupted");
                return ExitCode::from(130);
            }
        };
        match outcome {
            Ok(Ok(run)) => {
                println!("{}", report::render(&run));
                if !run.verdict.failures().is_empty() {
                    failed.push(seed);
                }
            }
            Ok(Err(error)) => {
                println!(
                    "mailing-faults: run with seed {seed} could not be carried out: {error:#}"
                );
                failed.push(seed);
            }
            Err(panicked) => {
                println!("mailing-faults: run with seed {seed} failed: {panicked}");
                failed.push(seed);
            }
        }
    }
    if failed.is_empty() {
        println!("mailing-faults: {} run(s) kept every promise", options.runs);
        ExitCode::SUCCESS
    } else {
        println!("mailing-faults: runs with seeds {failed:?} failed");
        ExitCode::FAILURE
    }
}
