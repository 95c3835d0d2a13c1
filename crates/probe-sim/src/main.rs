//! `probe-sim`: serves the simulated delivery provider (default), or prints a token it accepts.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use mailing_runtime::settings::{LogFormat, ProbeSimSettings};
use mailing_runtime::{Program, fatal, telemetry};
use probe_sim::faults::{Latency, OutageMode, RetryAfterFormat};
use probe_sim::{SimSettings, Simulator, token};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    args_conflicts_with_subcommands = true,
    about = "Simulator of the probe SMS delivery provider",
    long_about = "Simulator of the probe SMS delivery provider. Settings come from PROBE_SIM_* \
                  variables (and PROBE_SIM_CONFIG_FILE); flags override them. The admin API \
                  under /_sim/ has no authentication: never expose the simulator."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulator (the default).
    Serve(Box<ServeArgs>),
    /// Print an HS256 JWT the simulator accepts (e.g. for MAILING_PROBE_TOKEN).
    Token {
        /// Signing secret [default: PROBE_SIM_JWT_SECRET, else the development secret]
        #[arg(long, value_parser = parse_secret)]
        secret: Option<SecretString>,
        /// How long the token stays valid (negative: already expired).
        #[arg(long, default_value_t = 365 * 24 * 3600, allow_negative_numbers = true)]
        ttl_seconds: i64,
        /// The `name` claim.
        #[arg(long, default_value = "mailing")]
        name: String,
    },
}

/// Overrides of the PROBE_SIM_* settings of the same names.
#[derive(Args, Default)]
struct ServeArgs {
    /// Listen address [env: PROBE_SIM_ADDR] [default: 0.0.0.0:8090]
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Secret the bearer JWTs must be signed with [env: PROBE_SIM_JWT_SECRET]
    #[arg(long, value_parser = parse_secret)]
    jwt_secret: Option<SecretString>,
    /// Seed of the fault decisions [env: PROBE_SIM_SEED] [default: random, logged]
    #[arg(long)]
    seed: Option<u64>,
    /// Delay before answering: "200" or a uniform range "100..300" [env: PROBE_SIM_LATENCY_MS]
    #[arg(long, value_parser = parse_latency)]
    latency_ms: Option<Latency>,
    /// Share of requests answered 500 [env: PROBE_SIM_ERROR_500_SHARE]
    #[arg(long)]
    error_500_share: Option<f64>,
    /// Share of requests answered 429 [env: PROBE_SIM_ERROR_429_SHARE]
    #[arg(long)]
    error_429_share: Option<f64>,
    /// Share of requests answered 503 [env: PROBE_SIM_ERROR_503_SHARE]
    #[arg(long)]
    error_503_share: Option<f64>,
    /// Retry-After of 429 and 503 answers [env: PROBE_SIM_RETRY_AFTER_SECONDS] [default: 1]
    #[arg(long)]
    retry_after_seconds: Option<u64>,
    /// How Retry-After is written: seconds, an HTTP date, or not at all
    /// [env: PROBE_SIM_RETRY_AFTER_FORMAT] [default: seconds]
    #[arg(long, value_enum)]
    retry_after_format: Option<RetryAfterFormatArg>,
    /// Share of requests answered 200 with a wrong body [env: PROBE_SIM_MALFORMED_SHARE]
    #[arg(long)]
    malformed_share: Option<f64>,
    /// Share of requests left unanswered [env: PROBE_SIM_HANG_SHARE]
    #[arg(long)]
    hang_share: Option<f64>,
    /// How long a hanging request waits before a 504 [env: PROBE_SIM_HANG_MS] [default: 600000]
    #[arg(long)]
    hang_ms: Option<u64>,
    /// Be down for this long from the start [env: PROBE_SIM_OUTAGE_SECONDS]
    #[arg(long)]
    outage_seconds: Option<u64>,
    /// What an outage does: answer 503 or drop the connection [env: PROBE_SIM_OUTAGE_MODE]
    #[arg(long, value_enum)]
    outage_mode: Option<OutageModeArg>,
    /// HTTP worker threads [env: PROBE_SIM_WORKERS] [default: one per core]
    #[arg(long)]
    workers: Option<usize>,
    /// Where to post made-up replies, e.g. the api's /api/v1/inbound [env: PROBE_SIM_REPLY_URL]
    /// [default: none, no replies]
    #[arg(long)]
    reply_url: Option<reqwest::Url>,
    /// Secret the replies are signed with [env: PROBE_SIM_REPLY_SECRET]
    #[arg(long, value_parser = parse_secret)]
    reply_secret: Option<SecretString>,
    /// What a reply says [env: PROBE_SIM_REPLY_TEXT] [default: STOP]
    #[arg(long)]
    reply_text: Option<String>,
    /// Reply to every N-th send answered OK; 0: only through POST /_sim/replies
    /// [env: PROBE_SIM_REPLY_EVERY] [default: 0]
    #[arg(long)]
    reply_every: Option<u64>,
    /// Log format [env: PROBE_SIM_LOG_FORMAT] [default: json in the production profile, else text]
    #[arg(long, value_enum)]
    log_format: Option<LogFormatArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutageModeArg {
    Unavailable,
    Drop,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RetryAfterFormatArg {
    Seconds,
    Date,
    None,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

fn parse_secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

fn parse_latency(text: &str) -> Result<Latency, String> {
    Latency::parse(text).map_err(|error| error.to_string())
}

impl ServeArgs {
    fn apply(self, mut settings: SimSettings) -> anyhow::Result<SimSettings> {
        let faults = &mut settings.faults;
        macro_rules! set {
            ($($target:expr => $value:expr),* $(,)?) => {
                $(if let Some(value) = $value { $target = value; })*
            };
        }
        set! {
            settings.addr => self.addr,
            settings.seed => self.seed.map(Some),
            settings.workers => self.workers.map(Some),
            settings.replies.url => self.reply_url.map(Some),
            settings.replies.secret => self.reply_secret.map(Some),
            settings.replies.text => self.reply_text,
            settings.replies.every => self.reply_every,
            faults.latency_ms => self.latency_ms,
            faults.error_500_share => self.error_500_share,
            faults.error_429_share => self.error_429_share,
            faults.error_503_share => self.error_503_share,
            faults.retry_after_seconds => self.retry_after_seconds,
            faults.retry_after_format => self.retry_after_format.map(|format| match format {
                RetryAfterFormatArg::Seconds => RetryAfterFormat::Seconds,
                RetryAfterFormatArg::Date => RetryAfterFormat::Date,
                RetryAfterFormatArg::None => RetryAfterFormat::Omitted,
            }),
            faults.malformed_share => self.malformed_share,
            faults.hang_share => self.hang_share,
            faults.hang_ms => self.hang_ms,
            faults.outage_mode => self.outage_mode.map(|mode| match mode {
                OutageModeArg::Unavailable => OutageMode::Unavailable,
                OutageModeArg::Drop => OutageMode::Drop,
            }),
            settings.outage => self.outage_seconds.map(Duration::from_secs),
            settings.log_format => self.log_format.map(|format| match format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
        }
        if let Some(secret) = self.jwt_secret {
            anyhow::ensure!(
                !secret.expose_secret().is_empty(),
                "--jwt-secret must not be empty"
            );
            settings.jwt_secret = secret;
        }
        anyhow::ensure!(settings.workers != Some(0), "--workers must be at least 1");
        settings
            .faults
            .validate()
            .context("checking the fault flags")?;
        settings
            .replies
            .validate()
            .context("checking the reply flags")?;
        Ok(settings)
    }
}

/// How the simulator logs: reads like the other services' logs, and drops the error actix
/// logs for every connection the drop outage mode cuts off on purpose.
const LOG_LEVELS: &str = "info,actix_server=warn,actix_http::h1::dispatcher=off";

#[actix_web::main]
async fn main() {
    let cli = Cli::parse();
    let tree = fatal::settings_or_exit(Program::ProbeSim);
    let format = tree.probe_sim.log_format;
    if let Err(error) = run(cli, &tree.probe_sim).await {
        fatal::exit_with(Program::ProbeSim, format, &error);
    }
}

async fn run(cli: Cli, section: &ProbeSimSettings) -> anyhow::Result<()> {
    let settings = SimSettings::from_section(section)?;
    match cli.command {
        Some(Command::Token {
            secret,
            ttl_seconds,
            name,
        }) => {
            let secret = secret.unwrap_or(settings.jwt_secret);
            let token = token::mint(
                secret.expose_secret().as_bytes(),
                &name,
                chrono::Utc::now().timestamp(),
                ttl_seconds,
            )
            .context("signing the token")?;
            println!("{token}");
        }
        Some(Command::Serve(args)) => serve((*args).apply(settings)?).await?,
        None => serve(cli.serve.apply(settings)?).await?,
    }
    Ok(())
}

async fn serve(settings: SimSettings) -> anyhow::Result<()> {
    telemetry::init_with_levels(settings.log_format, LOG_LEVELS);
    let simulator = Simulator::build(settings)?;
    tracing::info!(
        port = simulator.port(),
        "probe-sim listening; the /_sim/ admin API is unauthenticated, do not expose it"
    );
    simulator.run_until_stopped().await?;
    Ok(())
}
