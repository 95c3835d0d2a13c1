//! Settings: built-in defaults, then an optional TOML file named by `PROBE_SIM_CONFIG_FILE`,
//! then `PROBE_SIM_*` environment variables; the binary's flags override them last. Checked once
//! at start; a bad value stops the process with a message naming the variable.

use crate::faults::{Faults, Latency, OutageMode, RetryAfterFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Secret the simulator accepts tokens for unless told otherwise; `probe-sim token` signs with
/// it by default, so a development setup works without configuring either side.
pub const DEV_JWT_SECRET: &str = "probe-sim-dev-secret-never-use-in-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings as read, before they are checked.
#[derive(Debug, Deserialize)]
struct RawSettings {
    addr: String,
    jwt_secret: Option<SecretString>,
    seed: Option<u64>,
    latency_ms: String,
    error_500_share: f64,
    error_429_share: f64,
    error_503_share: f64,
    retry_after_seconds: u64,
    retry_after_format: RetryAfterFormat,
    malformed_share: f64,
    hang_share: f64,
    hang_ms: u64,
    outage_seconds: u64,
    outage_mode: OutageMode,
    workers: Option<usize>,
    log_format: LogFormat,
}

/// Checked settings of the simulator.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub jwt_secret: SecretString,
    /// Seed of the fault decisions; `None` picks one at random (shown by `GET /_sim/config`).
    pub seed: Option<u64>,
    pub faults: Faults,
    /// An outage from the start for this long (zero: none).
    pub outage: Duration,
    /// HTTP worker threads; `None` leaves actix's default (one per core).
    pub workers: Option<usize>,
    pub log_format: LogFormat,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read settings: {0}")]
    Read(#[from] config::ConfigError),
    #[error("{variable}: {problem}")]
    Invalid {
        variable: &'static str,
        problem: String,
    },
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        variable,
        problem: problem.into(),
    }
}

impl Settings {
    /// Settings for a test: an OS-chosen port on the loopback interface, no faults, a fixed
    /// seed, two workers.
    pub fn for_tests(jwt_secret: &str) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            jwt_secret: SecretString::from(jwt_secret),
            seed: Some(0),
            faults: Faults::default(),
            outage: Duration::ZERO,
            workers: Some(2),
            log_format: LogFormat::Text,
        }
    }

    /// Reads the settings from defaults, the optional file and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(std::env::vars())
    }

    /// Reads the settings with `vars` standing in for the environment (tests pass their own).
    pub fn load_from(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: std::collections::HashMap<String, String> = vars
            .into_iter()
            // An empty variable (as templates leave them) means "not set".
            .filter(|(key, value)| key.starts_with("PROBE_SIM_") && !value.is_empty())
            .collect();
        let defaults = Faults::default();
        let mut builder = config::Config::builder()
            .set_default("addr", "0.0.0.0:8090")?
            .set_default("latency_ms", "0")?
            .set_default("error_500_share", 0.0)?
            .set_default("error_429_share", 0.0)?
            .set_default("error_503_share", 0.0)?
            .set_default("retry_after_seconds", defaults.retry_after_seconds)?
            .set_default("retry_after_format", "seconds")?
            .set_default("malformed_share", 0.0)?
            .set_default("hang_share", 0.0)?
            .set_default("hang_ms", defaults.hang_ms)?
            .set_default("outage_seconds", 0)?
            .set_default("outage_mode", "unavailable")?
            .set_default("log_format", "text")?;
        if let Some(file) = vars.get("PROBE_SIM_CONFIG_FILE") {
            builder = builder.add_source(config::File::new(file, config::FileFormat::Toml));
        }
        let raw: RawSettings = builder
            .add_source(
                config::Environment::with_prefix("PROBE_SIM")
                    .try_parsing(true)
                    .source(Some(vars.into_iter().collect())),
            )
            .build()?
            .try_deserialize()?;
        Self::check(raw)
    }

    fn check(raw: RawSettings) -> Result<Self, ConfigError> {
        let addr = raw.addr.parse().map_err(|_| {
            invalid(
                "PROBE_SIM_ADDR",
                "must be an address with a port, e.g. 0.0.0.0:8090",
            )
        })?;
        let jwt_secret = match raw.jwt_secret {
            Some(secret) if !secret.expose_secret().is_empty() => secret,
            _ => SecretString::from(DEV_JWT_SECRET),
        };
        let latency_ms = Latency::parse(&raw.latency_ms)
            .map_err(|error| invalid("PROBE_SIM_LATENCY_MS", error.to_string()))?;
        let faults = Faults {
            latency_ms,
            error_500_share: raw.error_500_share,
            error_429_share: raw.error_429_share,
            error_503_share: raw.error_503_share,
            retry_after_seconds: raw.retry_after_seconds,
            retry_after_format: raw.retry_after_format,
            malformed_share: raw.malformed_share,
            hang_share: raw.hang_share,
            hang_ms: raw.hang_ms,
            outage_mode: raw.outage_mode,
        };
        faults.validate().map_err(|error| {
            let crate::faults::FaultsError::Invalid { field, problem } = error;
            invalid(variable_of(field), problem)
        })?;
        if raw.workers == Some(0) {
            return Err(invalid("PROBE_SIM_WORKERS", "must be at least 1"));
        }
        Ok(Self {
            addr,
            jwt_secret,
            seed: raw.seed,
            faults,
            outage: Duration::from_secs(raw.outage_seconds),
            workers: raw.workers,
            log_format: raw.log_format,
        })
    }
}

/// The variable that sets a fault field, for error messages.
pub fn variable_of(field: &str) -> &'static str {
    match field {
        "latency_ms" => "PROBE_SIM_LATENCY_MS",
        "error_500_share" => "PROBE_SIM_ERROR_500_SHARE",
        "error_429_share" => "PROBE_SIM_ERROR_429_SHARE",
        "error_503_share" => "PROBE_SIM_ERROR_503_SHARE",
        "retry_after_seconds" => "PROBE_SIM_RETRY_AFTER_SECONDS",
        "malformed_share" => "PROBE_SIM_MALFORMED_SHARE",
        "hang_share" => "PROBE_SIM_HANG_SHARE",
        "hang_ms" => "PROBE_SIM_HANG_MS",
        _ => "PROBE_SIM_*",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_from(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_answer_at_once_on_8090() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.addr.port(), 8090);
        assert_eq!(settings.jwt_secret.expose_secret(), DEV_JWT_SECRET);
        assert_eq!(settings.faults, Faults::default());
        assert_eq!(settings.seed, None);
        assert_eq!(settings.outage, Duration::ZERO);
    }

    #[test]
    fn environment_sets_faults() {
        let settings = load(&[
            ("PROBE_SIM_ADDR", "127.0.0.1:9999"),
            ("PROBE_SIM_JWT_SECRET", "s3cret"),
            ("PROBE_SIM_SEED", "42"),
            ("PROBE_SIM_LATENCY_MS", "100..300"),
            ("PROBE_SIM_ERROR_500_SHARE", "0.1"),
            ("PROBE_SIM_ERROR_429_SHARE", "0.2"),
            ("PROBE_SIM_ERROR_503_SHARE", "0.15"),
            ("PROBE_SIM_RETRY_AFTER_SECONDS", "3"),
            ("PROBE_SIM_RETRY_AFTER_FORMAT", "date"),
            ("PROBE_SIM_MALFORMED_SHARE", "0.05"),
            ("PROBE_SIM_HANG_SHARE", "0.01"),
            ("PROBE_SIM_HANG_MS", "1000"),
            ("PROBE_SIM_OUTAGE_SECONDS", "30"),
            ("PROBE_SIM_OUTAGE_MODE", "drop"),
            ("PROBE_SIM_WORKERS", "3"),
            ("PROBE_SIM_LOG_FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(settings.addr.port(), 9999);
        assert_eq!(settings.jwt_secret.expose_secret(), "s3cret");
        assert_eq!(settings.seed, Some(42));
        assert_eq!(settings.faults.latency_ms, Latency { min: 100, max: 300 });
        assert_eq!(settings.faults.error_500_share, 0.1);
        assert_eq!(settings.faults.error_429_share, 0.2);
        assert_eq!(settings.faults.error_503_share, 0.15);
        assert_eq!(settings.faults.retry_after_seconds, 3);
        assert_eq!(settings.faults.retry_after_format, RetryAfterFormat::Date);
        assert_eq!(settings.faults.malformed_share, 0.05);
        assert_eq!(settings.faults.hang_share, 0.01);
        assert_eq!(settings.faults.hang_ms, 1000);
        assert_eq!(settings.faults.outage_mode, OutageMode::Drop);
        assert_eq!(settings.outage, Duration::from_secs(30));
        assert_eq!(settings.workers, Some(3));
        assert_eq!(settings.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = load(&[("PROBE_SIM_ADDR", "nonsense")]).unwrap_err();
        assert!(err.to_string().starts_with("PROBE_SIM_ADDR"), "{err}");
        let err = load(&[("PROBE_SIM_LATENCY_MS", "9..1")]).unwrap_err();
        assert!(err.to_string().starts_with("PROBE_SIM_LATENCY_MS"), "{err}");
        let err = load(&[("PROBE_SIM_HANG_SHARE", "1.5")]).unwrap_err();
        assert!(err.to_string().starts_with("PROBE_SIM_HANG_SHARE"), "{err}");
        assert!(load(&[("PROBE_SIM_OUTAGE_MODE", "sometimes")]).is_err());
        assert!(load(&[("PROBE_SIM_RETRY_AFTER_FORMAT", "minutes")]).is_err());
        assert!(load(&[("PROBE_SIM_WORKERS", "0")]).is_err());
    }

    #[test]
    fn the_secret_does_not_print() {
        let settings = load(&[("PROBE_SIM_JWT_SECRET", "hunter2-secret")]).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2-secret"));
    }
}
