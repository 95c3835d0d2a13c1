//! The fault-injection suite (docs/faults.md): during a mailing in the distributed setup it kills the
//! services, restarts PostgreSQL and RabbitMQ and makes the probe slow, failing and down, with
//! two schedulers and three senders at work; then it checks the promises against the probe
//! simulator's record of every delivery:
//!
//! - no message lost, and no (mailing, client) pair with two messages;
//! - nothing delivered at or after a mailing's end;
//! - what the probe received beyond one delivery per sent message stays within the bound the
//!   in-flight limit sets;
//! - the database's statuses match what the probe recorded.
//!
//! A run has PostgreSQL and RabbitMQ servers of its own ([`servers`]), started from the
//! machine's installed binaries, so restarting them disturbs nothing else. [`plan`] draws what
//! goes wrong and when from a seed; [`chaos`] does it; [`verdict`] counts. `make faults` runs
//! the full scale ([`Scale::full`]) with the release binaries; `make test` runs the short one.

pub mod blame;
pub mod chaos;
pub mod integrator;
pub mod mailings;
pub mod plan;
pub mod report;
pub mod run;
pub mod scale;
pub mod servers;
pub mod verdict;

pub use run::{RunReport, run};
pub use scale::Scale;
