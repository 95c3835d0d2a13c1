//! `mailing`: the whole product in one process, for a first run, development and small
//! deployments. It runs the components `MAILING_COMPONENTS` names (by default the api, the
//! scheduler, the sender and the probe simulator) on one store and one bus: a SQLite file and
//! the in-process bus unless the settings name PostgreSQL or RabbitMQ, and its built-in
//! simulator unless `MAILING_PROBE_URL` names a provider.
//!
//! This is the composition root of the embedded mode: it opens each handle once and gives
//! every component the narrow part it needs, then runs them until the stop signal.

mod banner;
mod fixtures;

use anyhow::Context as _;
use mailing_api::startup::Application;
use mailing_bus::{Bus, BusAddress, InProcessBus};
use mailing_domain::store::Store;
use mailing_runtime::settings::Fixtures;
use mailing_runtime::{Component, Handles, Program, Settings, handles, process, stop};
use mailing_scheduler::SchedulerService;
use mailing_sender::SenderService;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;

#[actix_web::main]
async fn main() {
    let settings = process::start(Program::AllInOne);
    process::run(Program::AllInOne, &settings, run(settings.clone())).await;
}

async fn run(mut settings: Settings) -> anyhow::Result<()> {
    let (stopper, stop) = stop::channel();
    stopper.on_signal();
    // The simulator stands in for a provider only where none is named.
    let simulator =
        if settings.runs(Program::AllInOne, Component::Sim) && settings.probe.url.is_none() {
            Some(start_simulator(&mut settings)?)
        } else {
            None
        };
    let runs = |component| settings.runs(Program::AllInOne, component);
    let store: Arc<dyn Store> = handles::open_store(&settings.database)?;
    let buses = Buses::open(&settings);
    let handles_of = |component: &str| -> anyhow::Result<Handles<dyn Store>> {
        Ok(Handles {
            store: store.clone(),
            bus: buses.connect(component)?,
            stop: stop.clone(),
        })
    };

    let mut api = None;
    if runs(Component::Api) {
        let mut app = Application::build(&settings, handles_of("api")?.for_api()).await?;
        // The workers start on a schema that is there, and the fixtures go into it.
        app.wait_until_prepared().await?;
        match settings.fixtures() {
            Fixtures::Load => fixtures::load_on_first_start(store.clone()).await?,
            Fixtures::Skip(reason) => {
                tracing::info!(reason, "development fixtures not loaded");
            }
        }
        api = Some(app);
    }
    let scheduler = runs(Component::Scheduler)
        .then(|| SchedulerService::build(&settings, handles_of("scheduler")?.for_scheduler()))
        .transpose()?;
    let sender = runs(Component::Sender)
        .then(|| SenderService::build(&settings, handles_of("sender")?.for_sender()))
        .transpose()?;

    banner::print(
        &settings,
        api.as_ref().map(Application::port),
        simulator.as_ref(),
    );

    // Each runs until the stop signal; one that fails stops the others.
    let (api, scheduler, sender) = tokio::join!(
        until_done(api.map(Application::run_until_stopped), &stopper),
        until_done(scheduler.map(SchedulerService::run_until_stopped), &stopper),
        until_done(sender.map(SenderService::run_until_stopped), &stopper),
    );
    if let Some(simulator) = simulator {
        simulator.handle.stop(true).await;
    }
    api.context("api")?;
    scheduler.context("scheduler")?;
    sender.context("sender")
}

/// Runs a component if there is one; when it fails, asks the others to stop.
async fn until_done(
    running: Option<impl std::future::Future<Output = anyhow::Result<()>>>,
    stopper: &mailing_runtime::Stopper,
) -> anyhow::Result<()> {
    let Some(running) = running else {
        return Ok(());
    };
    let result = running.await;
    if result.is_err() {
        stopper.stop();
    }
    result
}

/// How the components reach each other: the one in-process bus, or each its own connection to
/// RabbitMQ, as separate processes would have.
enum Buses {
    InProcess(InProcessBus),
    RabbitMq(mailing_runtime::settings::BusSettings),
}

impl Buses {
    fn open(settings: &Settings) -> Buses {
        match settings.bus.address {
            BusAddress::InProcess { .. } => Buses::InProcess(InProcessBus::new()),
            BusAddress::RabbitMq => Buses::RabbitMq(settings.bus.clone()),
        }
    }

    fn connect(&self, component: &str) -> anyhow::Result<Arc<dyn Bus>> {
        Ok(match self {
            Buses::InProcess(bus) => bus.connect(component),
            Buses::RabbitMq(settings) => {
                handles::connect_bus(settings, &format!("mailing-{component}"))?
            }
        })
    }
}

/// The built-in probe simulator, running.
pub(crate) struct Simulator {
    pub(crate) port: u16,
    handle: actix_web::dev::ServerHandle,
}

/// Starts the built-in simulator and points the sender at it, with a token signed by the
/// simulator's own secret.
fn start_simulator(settings: &mut Settings) -> anyhow::Result<Simulator> {
    let sim_settings = probe_sim::SimSettings::from_section(&settings.probe_sim)?;
    let token = probe_sim::token::mint(
        sim_settings.jwt_secret.expose_secret().as_bytes(),
        "mailing",
        chrono::Utc::now().timestamp(),
        10 * 365 * 24 * 3600,
    )
    .context("minting a token for the built-in simulator")?;
    let simulator =
        probe_sim::Simulator::build(sim_settings).context("starting the probe simulator")?;
    let port = simulator.port();
    let handle = simulator.handle();
    tokio::spawn(simulator.run_until_stopped());
    settings.probe.url = Some(SecretString::from(format!("http://127.0.0.1:{port}")));
    settings.probe.token = Some(SecretString::from(token));
    Ok(Simulator { port, handle })
}
