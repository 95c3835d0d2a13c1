//! `mailing`: the whole product in one process, for a first run, development and small
//! deployments. The api, scheduler, sender and probe simulator run together on a SQLite file
//! (`./data/mailing.db` by default) and the in-process bus; any `MAILING_*` or `PROBE_SIM_*`
//! variable overrides the embedded defaults, so the same binary can also point at PostgreSQL
//! or RabbitMQ, or at a real provider (`MAILING_PROBE_URL`), in which case no simulator runs.

use anyhow::Context as _;
use mailing_api::fixtures::Fixtures;
use mailing_api::startup::{Application, open_store};
use mailing_domain::store::PageRequest;
use mailing_runtime::telemetry;
use secrecy::ExposeSecret;
use std::collections::HashMap;

/// Defaults that make one process a whole deployment; the environment wins over each.
const EMBEDDED_DEFAULTS: &[(&str, &str)] = &[
    ("MAILING_DATABASE_URL", "sqlite://data/mailing.db"),
    ("MAILING_AMQP_URL", "memory://mailing"),
    ("MAILING_HTTP_ADDR", "0.0.0.0:8000"),
    // The workers' health endpoints are for separate containers; in one process the api's
    // own /readyz speaks for all.
    ("MAILING_SCHEDULER_HEALTH_ADDR", "127.0.0.1:0"),
    ("MAILING_SENDER_HEALTH_ADDR", "127.0.0.1:0"),
    ("PROBE_SIM_ADDR", "127.0.0.1:8090"),
    // A first run finds operators, tags and clients to try a mailing on; a deployment with
    // data of its own, or a test that counts its clients, turns this off.
    ("MAILING_LOAD_FIXTURES", "true"),
];

const FIXTURES: &str = include_str!("../../../fixtures/dev.json");

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    mailing_runtime::memory::return_large_allocations();
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    for (key, value) in EMBEDDED_DEFAULTS {
        if vars.get(*key).is_none_or(|set| set.is_empty()) {
            vars.insert((*key).to_owned(), (*value).to_owned());
        }
    }
    let load_fixtures = flag(&vars, "MAILING_LOAD_FIXTURES")?;
    let probe = start_probe(&mut vars)?;

    let api_settings = mailing_api::config::Settings::load_from(vars.clone())
        .context("loading the api settings")?;
    telemetry::init(api_settings.log_format);
    let scheduler_settings = mailing_scheduler::Settings::load_from(vars.clone())
        .context("loading the scheduler settings")?;
    let sender_settings =
        mailing_sender::Settings::load_from(vars.clone()).context("loading the sender settings")?;

    let admin_source = if vars
        .get("MAILING_ADMIN_PASSWORD")
        .is_some_and(|p| !p.is_empty())
    {
        "from MAILING_ADMIN_PASSWORD"
    } else {
        "the dev profile's default, 12345; set MAILING_ADMIN_PASSWORD to change it"
    };
    let app = Application::build(api_settings.clone()).await?;
    if load_fixtures {
        load_fixtures_on_first_start(&api_settings).await?;
    }

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let scheduler = tokio::spawn(mailing_scheduler::service::run(
        scheduler_settings,
        until_stopped(stopped.clone()),
    ));
    let sender = tokio::spawn(mailing_sender::service::run(
        sender_settings,
        until_stopped(stopped.clone()),
    ));

    let port = app.port();
    println!("mailing is running");
    println!("  admin UI:        http://localhost:{port}/admin");
    println!("  API:             http://localhost:{port}/api/v1");
    println!("  Swagger UI:      http://localhost:{port}/api/v1/docs");
    match &probe {
        Probe::BuiltIn { port, .. } => {
            println!("  probe simulator: http://localhost:{port}/_sim/stats");
        }
        Probe::External { shown } => println!("  probe:           {shown}"),
    }
    println!(
        "  admin account:   {} / password {admin_source}",
        api_settings.admin_username
    );
    println!("  data:            {}", redacted_location(&vars));

    // The api stops on Ctrl-C or SIGTERM; then the workers finish what they hold.
    app.run_until_stopped().await?;
    let _ = stop.send(true);
    scheduler.await.context("scheduler task")??;
    sender.await.context("sender task")??;
    if let Probe::BuiltIn { handle, .. } = probe {
        handle.stop(true).await;
    }
    Ok(())
}

/// Where the sender's requests go.
enum Probe {
    /// The simulator running in this process.
    BuiltIn {
        port: u16,
        handle: actix_web::dev::ServerHandle,
    },
    /// A provider elsewhere; `shown` is its address without credentials.
    External { shown: String },
}

/// Starts the built-in simulator unless `MAILING_PROBE_URL` names a provider, and points the
/// sender at it with a token signed by the simulator's own secret.
fn start_probe(vars: &mut HashMap<String, String>) -> anyhow::Result<Probe> {
    if let Some(url) = vars.get("MAILING_PROBE_URL").filter(|url| !url.is_empty()) {
        return Ok(Probe::External {
            shown: redacted_url(url),
        });
    }
    let sim_settings =
        probe_sim::Settings::load_from(vars.clone()).context("probe simulator settings")?;
    let token = probe_sim::token::mint(
        sim_settings.jwt_secret.expose_secret().as_bytes(),
        "mailing",
        chrono::Utc::now().timestamp(),
        10 * 365 * 24 * 3600,
    )
    .context("minting a token for the built-in simulator")?;
    let sim = probe_sim::Simulator::build(sim_settings).context("starting the probe simulator")?;
    let port = sim.port();
    let handle = sim.handle();
    tokio::spawn(sim.run_until_stopped());
    vars.insert(
        "MAILING_PROBE_URL".to_owned(),
        format!("http://127.0.0.1:{port}"),
    );
    vars.insert("MAILING_PROBE_TOKEN".to_owned(), token);
    Ok(Probe::BuiltIn { port, handle })
}

/// A URL as it may be printed: no user, password, query or fragment.
fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "the provider in MAILING_PROBE_URL".to_owned(),
    }
}

/// A `true`/`false` variable; anything else stops the start, naming the variable.
fn flag(vars: &HashMap<String, String>, key: &str) -> anyhow::Result<bool> {
    match vars.get(key).map(|value| value.trim()) {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        other => anyhow::bail!("{key}: must be true or false, not {other:?}"),
    }
}

/// Loads the development fixtures into a database that has no operator yet.
async fn load_fixtures_on_first_start(
    settings: &mailing_api::config::Settings,
) -> anyhow::Result<()> {
    let store = open_store(settings, false).await?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let first = PageRequest {
            offset: 0,
            limit: 1,
        };
        if store.list_operators(first)?.total == 0 {
            let loaded = Fixtures::from_json(FIXTURES)?.load(store.as_ref())?;
            tracing::info!(?loaded, "fixtures loaded on first start");
        }
        Ok(())
    })
    .await
    .context("fixture task")?
}

/// Where the data lives, without credentials.
fn redacted_location(vars: &HashMap<String, String>) -> String {
    let url = vars
        .get("MAILING_DATABASE_URL")
        .map(String::as_str)
        .unwrap_or_default();
    match url.strip_prefix("sqlite://") {
        Some(path) => path.to_owned(),
        None => "the database in MAILING_DATABASE_URL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_provider_urls_carry_no_credentials() {
        assert_eq!(
            redacted_url("https://user:secret@probe.example.com/v1?token=abc#x"),
            "https://probe.example.com/v1"
        );
    }

    #[test]
    fn flags_take_true_or_false_only() {
        let vars = |value: &str| HashMap::from([("FLAG".to_owned(), value.to_owned())]);
        assert!(flag(&vars("true"), "FLAG").unwrap());
        assert!(!flag(&vars(" false "), "FLAG").unwrap());
        let error = flag(&vars("no"), "FLAG").unwrap_err().to_string();
        assert!(error.starts_with("FLAG:"), "{error}");
    }
}
