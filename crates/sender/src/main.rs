//! `mailing-sender`: delivers queued messages to the probe.

use anyhow::Context as _;
use mailing_runtime::{shutdown, telemetry};
use mailing_sender::{Settings, service};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mailing_runtime::memory::return_large_allocations();
    let settings = Settings::load().context("loading settings")?;
    telemetry::init(settings.log_format());
    service::run(settings, shutdown::signal()).await
}
