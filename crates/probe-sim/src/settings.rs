//! The simulator's settings: the `[probe_sim]` section of the mailing settings tree, turned
//! into the simulator's own types and checked for what only it knows (the latency's form, the
//! fault shares together).

use crate::faults::{Faults, FaultsError, Latency, OutageMode, RetryAfterFormat};
use crate::replies::ReplySettings;
use mailing_runtime::settings::{LogFormat, ProbeSimSettings, SettingsError};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

/// Secret the simulator accepts tokens for unless told otherwise; `probe-sim token` signs with
/// it by default, so a development setup works without configuring either side.
pub const DEV_JWT_SECRET: &str = "probe-sim-dev-secret-never-use-in-production";

/// Checked settings of the simulator.
#[derive(Debug, Clone)]
pub struct SimSettings {
    pub addr: SocketAddr,
    pub jwt_secret: SecretString,
    /// Seed of the fault decisions; `None` picks one at random (shown by `GET /_sim/config`).
    pub seed: Option<u64>,
    pub faults: Faults,
    /// An outage from the start for this long (zero: none).
    pub outage: Duration,
    /// HTTP worker threads; `None` leaves actix's default (one per core).
    pub workers: Option<usize>,
    /// The replies it makes up (off unless a URL is set).
    pub replies: ReplySettings,
    pub log_format: LogFormat,
}

impl SimSettings {
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
            replies: ReplySettings::default(),
            log_format: LogFormat::Text,
        }
    }

    /// The simulator's settings from the tree's `[probe_sim]` section.
    pub fn from_section(section: &ProbeSimSettings) -> Result<Self, SettingsError> {
        let latency_ms = Latency::parse(&section.latency_ms).map_err(|error| {
            let FaultsError::Invalid { problem, .. } = error;
            SettingsError::invalid("probe_sim.latency_ms", problem)
        })?;
        let faults = Faults {
            latency_ms,
            error_500_share: section.error_500_share,
            error_429_share: section.error_429_share,
            error_503_share: section.error_503_share,
            retry_after_seconds: section.retry_after_seconds,
            retry_after_format: match section.retry_after_format.as_str() {
                "date" => RetryAfterFormat::Date,
                "none" => RetryAfterFormat::Omitted,
                _ => RetryAfterFormat::Seconds,
            },
            malformed_share: section.malformed_share,
            hang_share: section.hang_share,
            hang_ms: section.hang_ms,
            outage_mode: match section.outage_mode.as_str() {
                "drop" => OutageMode::Drop,
                _ => OutageMode::Unavailable,
            },
        };
        faults.validate().map_err(|error| {
            let FaultsError::Invalid { field, problem } = error;
            SettingsError::invalid(&format!("probe_sim.{field}"), problem)
        })?;
        let replies = ReplySettings {
            url: section.reply_url.clone(),
            secret: section.reply_secret.clone(),
            text: section.reply_text.clone(),
            every: section.reply_every,
        };
        replies.validate().map_err(|error| {
            let FaultsError::Invalid { field, problem } = error;
            SettingsError::invalid(&format!("probe_sim.{field}"), problem)
        })?;
        Ok(Self {
            addr: section.addr,
            jwt_secret: section
                .jwt_secret
                .clone()
                .unwrap_or_else(|| SecretString::from(DEV_JWT_SECRET)),
            seed: section.seed,
            faults,
            outage: section.outage,
            workers: section.workers,
            replies,
            log_format: section.log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailing_runtime::{Program, Settings};
    use secrecy::ExposeSecret as _;

    fn load(vars: &[(&str, &str)]) -> Result<SimSettings, SettingsError> {
        let settings = Settings::load_from(
            Program::ProbeSim,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )?;
        SimSettings::from_section(&settings.probe_sim)
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
            (
                "PROBE_SIM_REPLY_URL",
                "http://127.0.0.1:8000/api/v1/inbound",
            ),
            ("PROBE_SIM_REPLY_SECRET", "shared"),
            ("PROBE_SIM_REPLY_TEXT", "СТОП"),
            ("PROBE_SIM_REPLY_EVERY", "10"),
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
        assert_eq!(
            settings.replies.url.as_ref().map(|url| url.as_str()),
            Some("http://127.0.0.1:8000/api/v1/inbound")
        );
        assert_eq!(
            settings.replies.secret.as_ref().map(|s| s.expose_secret()),
            Some("shared")
        );
        assert_eq!(settings.replies.text, "СТОП");
        assert_eq!(settings.replies.every, 10);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("PROBE_SIM_ADDR", "nonsense"),
            ("PROBE_SIM_LATENCY_MS", "9..1"),
            ("PROBE_SIM_HANG_SHARE", "1.5"),
            ("PROBE_SIM_OUTAGE_MODE", "sometimes"),
            ("PROBE_SIM_RETRY_AFTER_FORMAT", "minutes"),
            ("PROBE_SIM_WORKERS", "0"),
            ("PROBE_SIM_REPLY_URL", "mailto:ops@example.com"),
            ("PROBE_SIM_REPLY_EVERY", "2"),
        ] {
            let err = load(&[(name, value)]).unwrap_err();
            assert_eq!(err.setting, name, "{err}");
        }
        let err = load(&[
            ("PROBE_SIM_ERROR_500_SHARE", "0.6"),
            ("PROBE_SIM_ERROR_429_SHARE", "0.6"),
        ])
        .unwrap_err();
        assert!(err.problem.contains("add up to"), "{err}");
    }

    #[test]
    fn the_secret_does_not_print() {
        let settings = load(&[
            ("PROBE_SIM_JWT_SECRET", "hunter2-secret"),
            (
                "PROBE_SIM_REPLY_URL",
                "http://127.0.0.1:8000/api/v1/inbound",
            ),
            ("PROBE_SIM_REPLY_SECRET", "hunter2-secret"),
        ])
        .unwrap();
        assert!(!format!("{settings:?}").contains("hunter2-secret"));
    }
}
