//! `mailing-scheduler`: expands started mailings and dispatches due messages to the senders.

use anyhow::Context as _;
use mailing_runtime::{shutdown, telemetry};
use mailing_scheduler::{Settings, service};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mailing_runtime::memory::return_large_allocations();
    let settings = Settings::load().context("loading settings")?;
    telemetry::init(settings.log_format());
    service::run(settings, shutdown::signal()).await
}
