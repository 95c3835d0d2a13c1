//! What every mailing program does the same way: reading the one settings tree, stopping at
//! once on a bad setting, setting up logs, opening the handles services are built from (the
//! store, the bus, the stop signal), running storage calls off the async workers, serving health
//! and metrics endpoints, giving memory back, and stopping on a signal.

pub mod blocking;
pub mod consume;
pub mod fatal;
pub mod handles;
pub mod health;
pub mod memory;
pub mod metrics;
pub mod process;
pub mod settings;
pub mod signature;
pub mod stop;
pub mod telemetry;

pub use handles::Handles;
pub use settings::{Component, Profile, Program, Settings};
pub use stop::{Stop, Stopper};
