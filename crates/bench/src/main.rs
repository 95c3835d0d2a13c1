//! `mailing-bench`: see the crate documentation, or `mailing-bench --help`.

use clap::Parser as _;
use mailing_bench::Completion;
use mailing_bench::cli::Options;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let outcome = tokio::select! {
        outcome = mailing_bench::run(options) => outcome,
        _ = tokio::signal::ctrl_c() => {
            // Dropping the run stops its processes and removes its databases.
            eprintln!("mailing-bench: interrupted; nothing written");
            return ExitCode::from(130);
        }
    };
    match outcome {
        Ok(Completion::Complete) => ExitCode::SUCCESS,
        Ok(Completion::Failed(runs)) => {
            eprintln!("mailing-bench: {runs} scenario run(s) failed; see \"Failed\" above");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("mailing-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
