//! What every mailing service process does the same way: reading layered settings, setting up
//! logs, serving health and metrics endpoints beside its work, giving memory back, and stopping
//! on a signal.

pub mod health;
pub mod memory;
pub mod metrics;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
