//! `mailing-api`: serves the HTTP API (default), or runs one operational job and exits.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mailing_api::fixtures::Fixtures;
use mailing_api::openapi;
use mailing_api::prepare;
use mailing_api::startup::Application;
use mailing_domain::store::{Store, StoreError};
use mailing_runtime::settings::{Fixtures as FixturesDecision, LogFormat};
use mailing_runtime::{Program, Settings, blocking, fatal, process};
use secrecy::ExposeSecret as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version, about = "Mailing service HTTP API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Wait until the database holds every migration this binary carries, then exit 0; exit
    /// non-zero if it does not within the timeout. For an init container: new pods start once
    /// the release's migration job ran.
    WaitForMigrations {
        /// How long to wait, in seconds.
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout_seconds: u64,
    },
    /// Load a fixture file into the database; records that exist are kept.
    LoadFixtures {
        #[arg(default_value = "fixtures/dev.json")]
        path: std::path::PathBuf,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[actix_web::main]
async fn main() {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        match serde_json::to_string_pretty(&openapi::document()) {
            Ok(document) => println!("{document}"),
            Err(error) => fatal::exit_with(Program::Api, LogFormat::Text, &error.into()),
        }
        return;
    }
    let command = cli.command.unwrap_or(Command::Serve);
    // The database chores need the database and nothing else: not the api's secrets, which
    // a migration Job or an init container does not get.
    let program = match command {
        Command::Migrate | Command::WaitForMigrations { .. } => Program::DatabaseTask,
        _ => Program::Api,
    };
    let settings = process::start(program);
    process::run(program, &settings, run(command, &settings)).await;
}

async fn run(command: Command, settings: &Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let handles = process::alone(Program::Api, settings)?.for_api();
            let app = Application::build(settings, handles).await?;
            tracing::info!(
                port = app.port(),
                docs = format!("http://localhost:{}/api/v1/docs", app.port()),
                "mailing-api listening"
            );
            app.run_until_stopped().await
        }
        Command::Migrate => {
            let store = connected_store(settings, true).await?;
            let applied = blocking::call(&store, |store| store.migrate())
                .await
                .context("applying migrations")?;
            for version in applied {
                tracing::info!(%version, "migration applied");
            }
            tracing::info!("database schema is up to date");
            Ok(())
        }
        Command::WaitForMigrations { timeout_seconds } => {
            wait_for_migrations(settings, Duration::from_secs(timeout_seconds)).await
        }
        Command::LoadFixtures { path } => {
            if let FixturesDecision::Skip(reason) = settings.fixtures() {
                anyhow::bail!("not loading {}: {reason}", path.display());
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let fixtures = Fixtures::from_json(&text)?;
            let store = connected_store(settings, false).await?;
            let loaded = blocking::run(move || fixtures.load(store.as_ref())).await?;
            tracing::info!(
                clients = loaded.clients,
                operators = loaded.operators,
                tags = loaded.tags,
                client_filters = loaded.client_filters,
                path = %path.display(),
                "fixtures loaded"
            );
            Ok(())
        }
        Command::Openapi => unreachable!("handled before settings are read"),
    }
}

/// The database, for a one-off job: it must answer now, not eventually. `create` makes the
/// database first where the server lacks it (a fresh dev server).
async fn connected_store(settings: &Settings, create: bool) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database.url.clone();
    let options = mailing_storage::ConnectOptions {
        max_connections: 2,
        acquire_timeout: settings.database.acquire_timeout,
    };
    blocking::run(move || {
        if create {
            prepare::create_database_if_missing(&url)
                .context("connecting to the database (MAILING_DATABASE_URL)")?;
        }
        mailing_storage::connect(url.expose_secret(), &options)
            .context("connecting to the database (MAILING_DATABASE_URL)")
    })
    .await
}

/// How often `wait-for-migrations` asks again.
const MIGRATION_POLL: Duration = Duration::from_secs(2);

/// Polls the database until it holds every migration this binary carries. An unreachable
/// database is waited for too: the migration job may be creating it.
async fn wait_for_migrations(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let url = settings.database.url.clone();
    let options = mailing_storage::ConnectOptions {
        max_connections: 1,
        // A probe that hangs on a dead server would overrun the deadline.
        acquire_timeout: settings.database.acquire_timeout.min(MIGRATION_POLL),
    };
    let store = mailing_storage::open(url.expose_secret(), &options)
        .context("opening the database (MAILING_DATABASE_URL)")?;
    let deadline = Instant::now() + timeout;
    let mut reported = None;
    loop {
        let state = match blocking::call(&store, |store| store.pending_migrations()).await {
            Ok(pending) if pending.is_empty() => {
                tracing::info!("database schema holds every migration of this release");
                return Ok(());
            }
            Ok(pending) => format!(
                "{} migrations pending: {}",
                pending.len(),
                pending.join(", ")
            ),
            Err(error @ StoreError::Unavailable(_)) => format!("database unreachable: {error}"),
            Err(error) => {
                return Err(anyhow::Error::from(error).context("checking the database schema"));
            }
        };
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the database schema did not get this release's migrations within {} s ({state}); \
                 has `mailing-api migrate` run?",
                timeout.as_secs()
            );
        }
        // Each change of state once, not every poll.
        if reported.as_ref() != Some(&state) {
            tracing::info!(%state, timeout_seconds = timeout.as_secs(), "waiting for the database schema");
            reported = Some(state);
        }
        tokio::time::sleep(MIGRATION_POLL.min(deadline.saturating_duration_since(Instant::now())))
            .await;
    }
}
