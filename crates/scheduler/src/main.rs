//! `mailing-scheduler`: expands started mailings and dispatches due messages to the senders.

use anyhow::Context as _;
use mailing_runtime::{shutdown, telemetry};
use mailing_scheduler::{Settings, service};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load().context("loading settings")?;
    telemetry::init(settings.log_format());
    service::run(settings, shutdown::signal()).await
}
