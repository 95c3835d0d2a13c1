//! The short fault run, in `make test`: every kind of fault once during a 6,000-recipient
//! mailing, on the debug binaries (run `cargo build --bins` first). PostgreSQL and RabbitMQ
//! must be installed; the run starts servers of its own.

use mailing_faults::{Scale, report};

/// Fixed so that CI repeats one plan; `MAILING_FAULTS_SEED` tries another.
const SEED: u64 = 20_261_202;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_fault_run_keeps_every_promise() {
    let seed = std::env::var("MAILING_FAULTS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(SEED);
    let run = mailing_faults::run(&Scale::short(), seed)
        .await
        .unwrap_or_else(|error| panic!("the run could not be carried out: {error:#}"));
    println!("{}", report::render(&run));
    let failures = run.verdict.failures();
    assert!(failures.is_empty(), "promises broken: {failures:?}");
}
