//! End-to-end test harness of the mailing service, in both of its setups (see the README): starts the
//! real binaries as child processes and gives tests typed clients for the API, the probe
//! simulator's admin API and the database.
//!
//! - **Distributed:** `probe-sim`, `mailing-api`, `mailing-scheduler` and `mailing-sender` on a
//!   fresh PostgreSQL database and a private RabbitMQ namespace.
//! - **Embedded:** one `mailing` process on a SQLite file of the test's own and its in-process
//!   bus, with `probe-sim` beside it as the provider; it needs no external service.
//!
//! The binaries come from the workspace's target directory, so run `cargo build --bins` before
//! `cargo test -p mailing-e2e`. The end-to-end scenarios live in `tests/e2e/`; the harness is a
//! library so that benchmark and fault suites can reuse it.

pub mod api;
pub mod cluster;
pub mod db;
pub mod numbers;
pub mod observe;
pub mod population;
pub mod sim;
pub mod wait;

pub use api::{ApiClient, MailingStats};
pub use cluster::{Cluster, ClusterOptions, Servers, Service, Setup};
pub use population::ClientSpec;
pub use sim::{SimClient, SimStats};
pub use wait::{bounded, wait_until};
