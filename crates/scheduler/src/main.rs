//! `mailing-scheduler`: expands started mailings and dispatches due messages to the senders.

use mailing_runtime::{Program, process};
use mailing_scheduler::SchedulerService;

#[tokio::main]
async fn main() {
    let settings = process::start(Program::Scheduler);
    process::run(Program::Scheduler, &settings, async {
        let handles = process::alone(Program::Scheduler, &settings)?;
        SchedulerService::build(&settings, handles.for_scheduler())?
            .run_until_stopped()
            .await
    })
    .await;
}
