//! `mailing-scheduler`: expands started mailings and dispatches due messages to the senders.

use mailing_domain::store::SchedulerStore;
use mailing_runtime::{Handles, Program, fatal, handles, stop, telemetry};
use mailing_scheduler::SchedulerService;

#[tokio::main]
async fn main() {
    mailing_runtime::memory::tune_allocator();
    let settings = fatal::settings_or_exit(Program::Scheduler);
    telemetry::init(settings.log.format);
    telemetry::warn_about_unknown_variables(&settings);
    if let Err(error) = run(settings.clone()).await {
        fatal::exit_with(Program::Scheduler, settings.log.format, &error);
    }
}

async fn run(settings: mailing_runtime::Settings) -> anyhow::Result<()> {
    let (stopper, stop) = stop::channel();
    stopper.on_signal();
    let handles: Handles<dyn SchedulerStore> = Handles {
        store: handles::open_store(&settings.database)?,
        bus: handles::connect_bus(&settings.bus, Program::Scheduler.binary())?,
        stop,
    };
    SchedulerService::build(&settings, handles)?
        .run_until_stopped()
        .await
}
