//! `mailing-api`: serves the HTTP API (default), or runs one operational job and exits.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mailing_api::fixtures::Fixtures;
use mailing_api::openapi;
use mailing_api::prepare;
use mailing_api::startup::Application;
use mailing_domain::store::Store;
use mailing_runtime::settings::{Fixtures as FixturesDecision, LogFormat};
use mailing_runtime::{Program, Settings, blocking, fatal, process};
use secrecy::ExposeSecret as _;
use std::sync::Arc;

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
    let settings = process::start(Program::Api);
    let command = cli.command.unwrap_or(Command::Serve);
    process::run(Program::Api, &settings, run(command, &settings)).await;
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
        Command::LoadFixtures { path } => {
            if let FixturesDecision::Skip(reason) = settings.fixtures() {
                anyhow::bail!("not loading {}: {reason}", path.display());
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let fixtures = Fixtures::from_json(&text)?;
            let store = connected_store(settings, false).await?;
            let loaded = blocking::run(move || fixtures.load(store.as_ref())).await?;
            tracing::info!(?loaded, path = %path.display(), "fixtures loaded");
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
