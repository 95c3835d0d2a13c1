//! `mailing-sender`: delivers queued messages to the probe.

use mailing_runtime::{Program, process};
use mailing_sender::SenderService;

#[tokio::main]
async fn main() {
    let settings = process::start(Program::Sender);
    process::run(Program::Sender, &settings, async {
        let handles = process::alone(Program::Sender, &settings)?;
        SenderService::build(&settings, handles.for_sender())?
            .run_until_stopped()
            .await
    })
    .await;
}
