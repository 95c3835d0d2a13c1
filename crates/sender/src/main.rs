//! `mailing-sender`: delivers queued messages to the probe.

use mailing_domain::store::SenderStore;
use mailing_runtime::{Handles, Program, Settings, fatal, handles, stop, telemetry};
use mailing_sender::SenderService;

#[tokio::main]
async fn main() {
    mailing_runtime::memory::tune_allocator();
    let settings = fatal::settings_or_exit(Program::Sender);
    telemetry::init(settings.log.format);
    telemetry::warn_about_unknown_variables(&settings);
    if let Err(error) = run(settings.clone()).await {
        fatal::exit_with(Program::Sender, settings.log.format, &error);
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let (stopper, stop) = stop::channel();
    stopper.on_signal();
    let handles: Handles<dyn SenderStore> = Handles {
        store: handles::open_store(&settings.database)?,
        bus: handles::connect_bus(&settings.bus, Program::Sender.binary())?,
        stop,
    };
    SenderService::build(&settings, handles)?
        .run_until_stopped()
        .await
}
