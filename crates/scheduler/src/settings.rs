//! The scheduler's settings (see `.env.template` for each variable).

use mailing_runtime::settings::ConfigError;
use mailing_runtime::telemetry::LogFormat;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub profile: String,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub amqp_url: SecretString,
    /// Prefix of every exchange and queue name.
    pub amqp_namespace: String,
    /// Where `/healthz` and `/readyz` listen.
    pub scheduler_health_addr: SocketAddr,
    /// How often the database is scanned for due work, in milliseconds.
    pub scheduler_tick_ms: u64,
    /// Messages claimed per transaction.
    pub scheduler_claim_batch: u32,
    /// Message ids per send job on the bus.
    pub scheduler_job_size: usize,
    /// How long a claimed message may stay `queued` before it is taken back from its sender.
    pub scheduler_claim_lease_seconds: u64,
    pub log_format: Option<LogFormat>,
}

impl Settings {
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(std::env::vars())
    }

    pub fn load_from(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let settings: Settings = mailing_runtime::settings::load(
            &[
                ("profile", "dev"),
                ("database_url", "postgres://postgres@127.0.0.1:5432/mailing"),
                ("database_max_connections", "5"),
                ("amqp_url", "amqp://guest:guest@127.0.0.1:5672/%2f"),
                ("amqp_namespace", "mailing"),
                ("scheduler_health_addr", "0.0.0.0:8081"),
                ("scheduler_tick_ms", "500"),
                ("scheduler_claim_batch", "2000"),
                ("scheduler_job_size", "100"),
                ("scheduler_claim_lease_seconds", "300"),
            ],
            vars,
        )?;
        settings.check()
    }

    fn check(self) -> Result<Self, ConfigError> {
        let problem = |message: &str| Err(ConfigError::Message(message.to_owned()));
        if self.scheduler_tick_ms == 0 {
            return problem("MAILING_SCHEDULER_TICK_MS: must be at least 1");
        }
        if self.scheduler_claim_batch == 0 {
            return problem("MAILING_SCHEDULER_CLAIM_BATCH: must be at least 1");
        }
        if self.scheduler_job_size == 0 {
            return problem("MAILING_SCHEDULER_JOB_SIZE: must be at least 1");
        }
        if self.scheduler_claim_lease_seconds == 0 {
            return problem("MAILING_SCHEDULER_CLAIM_LEASE_SECONDS: must be at least 1");
        }
        Ok(self)
    }

    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.scheduler_tick_ms)
    }

    pub fn claim_lease(&self) -> Duration {
        Duration::from_secs(self.scheduler_claim_lease_seconds)
    }

    pub fn log_format(&self) -> LogFormat {
        LogFormat::or_profile_default(self.log_format, &self.profile)
    }
}
