//! The scheduler: turns mailings into messages when they start and hands due messages to the
//! senders.
//!
//! The database is the source of truth and the scheduler scans it on a short tick, so a
//! future start fires on time and a missed event or a restart loses nothing; mailing events
//! from the api only make it react sooner. Every step is one set-based transaction that
//! several replicas may run at once (claims use `FOR UPDATE SKIP LOCKED`).

pub mod events;
pub mod metrics;
pub mod service;
pub mod tick;

pub use service::SchedulerService;
pub use tick::{Scheduler, TickReport};
