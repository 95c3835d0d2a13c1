//! `mailing-api`: serves the HTTP API (default), or runs one operational job and exits.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mailing_api::config::Settings;
use mailing_api::fixtures::Fixtures;
use mailing_api::openapi;
use mailing_api::startup::{Application, open_store};
use mailing_runtime::telemetry;

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
async fn main() -> anyhow::Result<()> {
    mailing_runtime::memory::return_large_allocations();
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", serde_json::to_string_pretty(&openapi::document())?);
        return Ok(());
    }
    let settings = Settings::load().context("loading settings")?;
    telemetry::init(settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(
                port = app.port(),
                docs = format!("http://localhost:{}/api/v1/docs", app.port()),
                "mailing-api listening"
            );
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            open_store(&settings, true).await?;
            tracing::info!("database schema is up to date");
        }
        Command::LoadFixtures { path } => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let fixtures = Fixtures::from_json(&text)?;
            let store = open_store(&settings, false).await?;
            let loaded = tokio::task::spawn_blocking(move || fixtures.load(store.as_ref()))
                .await
                .context("fixture task")??;
            tracing::info!(?loaded, path = %path.display(), "fixtures loaded");
        }
        Command::Openapi => unreachable!("handled before settings are read"),
    }
    Ok(())
}
