//! The sender's settings (see `.env.template` for each variable).

use mailing_runtime::settings::ConfigError;
use mailing_runtime::telemetry::LogFormat;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Message ids per send job unless the scheduler is told otherwise (`MAILING_SCHEDULER_JOB_SIZE`).
const DEFAULT_JOB_SIZE: usize = 100;
/// Jobs held at the least, so one slow job never idles the sender.
const MIN_PREFETCH: u16 = 8;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub profile: String,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub amqp_url: SecretString,
    pub amqp_namespace: String,
    /// Base URL of the probe; requests go to `{probe_url}/v1/send/{msgId}`.
    pub probe_url: String,
    pub probe_token: Option<SecretString>,
    pub probe_timeout_ms: u64,
    pub sender_health_addr: SocketAddr,
    /// Probe requests in flight at once.
    pub sender_concurrency: usize,
    /// Probe requests per second over all in flight; 0 means no limit.
    pub sender_rate_limit: u32,
    /// Send jobs taken from the bus before earlier ones are acknowledged; unset, see
    /// [`Settings::prefetch`].
    pub sender_prefetch: Option<u16>,
    pub sender_retry_base_ms: u64,
    pub sender_retry_cap_ms: u64,
    /// Consecutive retryable failures that open the circuit breaker.
    pub sender_breaker_threshold: u32,
    pub sender_breaker_cooldown_ms: u64,
    /// How long sending pauses after the probe rejected the token, before one try.
    pub sender_token_pause_ms: u64,
    /// How often the claims of messages in hand are renewed; keep it well below the
    /// scheduler's claim lease.
    pub sender_claim_renew_ms: u64,
    /// Outcomes written per transaction at most.
    pub sender_outcome_batch: usize,
    /// How long an outcome may wait for its batch, in milliseconds.
    pub sender_outcome_flush_ms: u64,
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
                ("probe_url", "http://127.0.0.1:8090"),
                ("probe_timeout_ms", "10000"),
                ("sender_health_addr", "0.0.0.0:8082"),
                ("sender_concurrency", "256"),
                ("sender_rate_limit", "0"),
                ("sender_retry_base_ms", "1000"),
                ("sender_retry_cap_ms", "300000"),
                ("sender_breaker_threshold", "20"),
                ("sender_breaker_cooldown_ms", "5000"),
                ("sender_token_pause_ms", "30000"),
                ("sender_claim_renew_ms", "30000"),
                ("sender_outcome_batch", "500"),
                ("sender_outcome_flush_ms", "20"),
            ],
            vars,
        )?;
        settings.check()
    }

    fn check(self) -> Result<Self, ConfigError> {
        let problem = |message: &str| Err(ConfigError::Message(message.to_owned()));
        if self.profile == "production" && self.probe_token.is_none() {
            return problem("MAILING_PROBE_TOKEN: is required in the production profile");
        }
        if !(self.probe_url.starts_with("http://") || self.probe_url.starts_with("https://")) {
            return problem("MAILING_PROBE_URL: must start with http:// or https://");
        }
        if self.probe_timeout_ms == 0 {
            return problem("MAILING_PROBE_TIMEOUT_MS: must be at least 1");
        }
        if self.sender_concurrency == 0 {
            return problem("MAILING_SENDER_CONCURRENCY: must be at least 1");
        }
        if self.sender_prefetch == Some(0) {
            return problem("MAILING_SENDER_PREFETCH: must be at least 1");
        }
        if self.sender_claim_renew_ms == 0 {
            return problem("MAILING_SENDER_CLAIM_RENEW_MS: must be at least 1");
        }
        if self.sender_outcome_batch == 0 {
            return problem("MAILING_SENDER_OUTCOME_BATCH: must be at least 1");
        }
        if self.sender_retry_base_ms == 0 || self.sender_retry_cap_ms < self.sender_retry_base_ms {
            return problem(
                "MAILING_SENDER_RETRY_BASE_MS / MAILING_SENDER_RETRY_CAP_MS: need 0 < base <= cap",
            );
        }
        Ok(self)
    }

    /// Send jobs held at once. Unset, enough jobs of the scheduler's default size to fill
    /// every concurrency slot twice: a job is acknowledged only once all its outcomes are
    /// written, so fewer would leave slots idle while the last messages of each job finish,
    /// and the concurrency could never hide the probe's latency.
    pub fn prefetch(&self) -> u16 {
        self.sender_prefetch.unwrap_or_else(|| {
            let jobs = (2 * self.sender_concurrency).div_ceil(DEFAULT_JOB_SIZE);
            u16::try_from(jobs).unwrap_or(u16::MAX).max(MIN_PREFETCH)
        })
    }

    pub fn probe_timeout(&self) -> Duration {
        Duration::from_millis(self.probe_timeout_ms)
    }

    pub fn log_format(&self) -> LogFormat {
        LogFormat::or_profile_default(self.log_format, &self.profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        Settings::load_from(
            vars.iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        )
        .expect("valid settings")
    }

    #[test]
    fn prefetch_follows_the_concurrency_unless_set() {
        assert_eq!(
            settings(&[]).prefetch(),
            8,
            "256 slots need 6 jobs; 8 at least"
        );
        let wide = settings(&[("MAILING_SENDER_CONCURRENCY", "2000")]);
        assert_eq!(wide.prefetch(), 40, "2 x 2000 slots / 100 ids per job");
        let set = settings(&[
            ("MAILING_SENDER_CONCURRENCY", "2000"),
            ("MAILING_SENDER_PREFETCH", "3"),
        ]);
        assert_eq!(set.prefetch(), 3);
    }

    #[test]
    fn a_zero_prefetch_is_refused_by_name() {
        let error = Settings::load_from([("MAILING_SENDER_PREFETCH".to_owned(), "0".to_owned())])
            .expect_err("zero prefetch");
        assert!(
            error.to_string().contains("MAILING_SENDER_PREFETCH"),
            "{error}"
        );
    }
}
