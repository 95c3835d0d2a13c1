//! End-to-end scenarios: each test starts its own deployment of the real binaries (see
//! `mailing_e2e::Cluster`) and drives it as an integrator and an operator would.
//!
//! Run `cargo build --bins` first; PostgreSQL and RabbitMQ must be running locally.

mod crashes;
mod end_at;
mod faults;
mod future_start;
mod helpers;
mod immediate;
mod local_time;
mod mailing_changes;
mod outbox;
mod reclaim;
mod send_window;
mod token;
