//! The life of a program, as each binary's `main` lives it: settings loaded and logs set up
//! first (a bad setting ends the process there), the handles of a service that runs alone
//! opened, and a failure at start reported the way the logs are written.

use crate::handles::{self, Handles};
use crate::settings::{Program, Settings};
use crate::{fatal, memory, stop, telemetry};
use mailing_domain::store::Store;
use std::future::Future;

/// What every binary does first: tunes the allocator, loads the settings (or ends the process
/// with the one that cannot be used), and sets up logs.
pub fn start(program: Program) -> Settings {
    memory::tune_allocator();
    let settings = fatal::settings_or_exit(program);
    telemetry::init(settings.log.format);
    telemetry::warn_about_unknown_variables(&settings);
    settings
}

/// Runs the program's `work`; if it fails, ends the process with the error on one line.
pub async fn run(
    program: Program,
    settings: &Settings,
    work: impl Future<Output = anyhow::Result<()>>,
) {
    if let Err(error) = work.await {
        fatal::exit_with(program, settings.log.format, &error);
    }
}

/// The handles of a service running in a process of its own: the store the settings name,
/// a connection to the broker named after the binary, and a stop signal that SIGTERM or
/// Ctrl-C gives. Call it inside a tokio runtime.
pub fn alone(program: Program, settings: &Settings) -> anyhow::Result<Handles<dyn Store>> {
    let (stopper, stop) = stop::channel();
    stopper.on_signal();
    Ok(Handles {
        store: handles::open_store(&settings.database)?,
        bus: handles::connect_bus(&settings.bus, program.binary())?,
        stop,
    })
}
