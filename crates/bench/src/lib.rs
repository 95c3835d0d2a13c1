//! Measures the mailing service against its performance targets (docs/performance.md), in the distributed
//! setup (the separate binaries on PostgreSQL and RabbitMQ) and the embedded one (`mailing` on
//! SQLite and its in-process bus), and reports each number beside its target.
//!
//! Every scenario starts a deployment of its own through the end-to-end harness
//! (`mailing-e2e`), with its own database and bus namespace, fills it with generated clients
//! straight in the database, and measures from the outside:
//!
//! - **drain**: a mailing to every client with the probe simulator answering at once; the time
//!   from the api call to the last `sent_at` the database records, and messages per second;
//! - **latency**: the same with simulated probe latency and a high sender concurrency;
//! - **expansion**: how long a million-client mailing takes to become messages;
//! - **api**: requests per second and latency percentiles of a few endpoints, under a load
//!   client of this crate;
//! - **memory**: resident memory of each process, idle and at its peak.
//!
//! The binaries come from the target directory the benchmark runs from, so a release build of
//! the benchmark measures release binaries. Results go to a table on stdout and to JSON.

pub mod cli;
pub mod load;
pub mod machine;
pub mod procfs;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod stats;
pub mod targets;

pub use run::{Completion, run};
