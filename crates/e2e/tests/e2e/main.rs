//! End-to-end scenarios: each test starts its own deployment of the real binaries (see
//! `mailing_e2e::Cluster`) and drives it as an integrator and an operator would. Every scenario
//! is written once and runs in both setups, as `<scenario>::distributed` (PostgreSQL and
//! RabbitMQ must be running locally) and `<scenario>::embedded` (needs no external service).
//!
//! Run `cargo build --bins` first.

/// Declares the tests of `scenario`, an `async fn(Setup)`: one per setup named after the colon,
/// both by default.
macro_rules! scenario {
    ($scenario:ident) => {
        scenario!($scenario: distributed, embedded);
    };
    ($scenario:ident: $($setup:ident),+) => {
        mod $scenario {
            $(scenario!(@test $scenario $setup);)+
        }
    };
    (@test $scenario:ident distributed) => {
        #[tokio::test]
        async fn distributed() {
            super::$scenario(mailing_e2e::Setup::Distributed).await;
        }
    };
    (@test $scenario:ident embedded) => {
        #[tokio::test]
        async fn embedded() {
            super::$scenario(mailing_e2e::Setup::Embedded).await;
        }
    };
}

mod attributes;
mod auto_pause;
mod crashes;
mod daily_report;
mod end_at;
mod faults;
mod frequency_cap;
mod future_start;
mod graceful_shutdown;
mod helpers;
mod idempotency;
mod immediate;
mod import;
mod local_time;
mod mailing_changes;
mod metrics;
mod observability;
mod outbox;
mod pause_resume;
mod personalised;
mod production;
mod rate_limit;
mod reclaim;
mod resend;
mod secrets;
mod send_window;
mod settings;
mod stop_reply;
mod token;
