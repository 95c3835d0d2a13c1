//! The sender: takes send jobs from the bus and delivers each message to the probe.
//!
//! Right before an attempt it checks that the mailing still runs, the client's window is open
//! and the end has not come. Attempts run concurrently under a concurrency limit, this
//! sender's share of the deployment's rate limit (see [`share`]) and a circuit breaker;
//! outcomes are written in batches, and a job is acknowledged only once every outcome in it is
//! committed, so a crash loses nothing (the broker delivers the job again).

pub mod breaker;
pub mod claims;
pub mod decide;
pub mod failing;
pub mod limiter;
pub mod mailings;
pub mod metrics;
pub mod probe;
pub mod service;
pub mod share;
mod trips;
mod worker;
pub mod writer;

pub use service::SenderService;
