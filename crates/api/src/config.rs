//! Settings: built-in defaults, then an optional TOML file named by `MAILING_CONFIG_FILE`, then
//! `MAILING_*` environment variables. Checked once at start; a bad value stops the process with
//! a message naming the variable.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;

/// Dev profile's admin password, as the earlier implementation had it; production refuses it.
pub const DEV_ADMIN_PASSWORD: &str = "12345";
const DEV_JWT_SECRET: &str = "mailing-dev-profile-jwt-secret-never-use-in-production";
const MIN_JWT_SECRET_BYTES: usize = 32;
const MIN_PRODUCTION_PASSWORD_CHARS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Dev,
    Production,
}

pub use mailing_runtime::telemetry::LogFormat;

/// Settings as read, before the profile's rules are applied.
#[derive(Debug, Deserialize)]
struct RawSettings {
    profile: Profile,
    http_addr: String,
    database_url: SecretString,
    database_max_connections: u32,
    database_acquire_timeout_ms: u64,
    admin_username: String,
    admin_password: Option<SecretString>,
    jwt_secret: Option<SecretString>,
    jwt_ttl_seconds: u64,
    admin_session_ttl_seconds: u64,
    login_max_failures: u32,
    login_failure_window_seconds: u64,
    max_body_bytes: usize,
    log_format: Option<LogFormat>,
    amqp_url: SecretString,
    amqp_namespace: String,
    outbox_poll_ms: u64,
}

/// Checked settings of the API service.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: Profile,
    pub http_addr: SocketAddr,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub database_acquire_timeout: std::time::Duration,
    pub admin_username: String,
    pub admin_password: SecretString,
    pub jwt_secret: SecretString,
    pub jwt_ttl: std::time::Duration,
    /// How long an admin UI login lasts.
    pub admin_session_ttl: std::time::Duration,
    /// Failed logins one client may make for one account within the window (five times as
    /// many for any accounts) before it has to wait.
    pub login_max_failures: u32,
    pub login_failure_window: std::time::Duration,
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    /// The broker the outbox relay publishes mailing events to.
    pub amqp_url: SecretString,
    pub amqp_namespace: String,
    /// How often the relay looks for unpublished events when nothing wakes it.
    pub outbox_poll: std::time::Duration,
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
    /// Reads the settings from defaults, the optional file and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(std::env::vars())
    }

    /// Reads the settings with `vars` standing in for the environment (tests pass their own).
    pub fn load_from(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let raw: RawSettings = mailing_runtime::settings::load(
            &[
                ("profile", "dev"),
                ("http_addr", "0.0.0.0:8000"),
                ("database_url", "postgres://postgres@127.0.0.1:5432/mailing"),
                ("database_max_connections", "10"),
                ("database_acquire_timeout_ms", "5000"),
                ("admin_username", "admin"),
                ("jwt_ttl_seconds", "3600"),
                ("admin_session_ttl_seconds", "28800"),
                ("login_max_failures", "10"),
                ("login_failure_window_seconds", "300"),
                ("max_body_bytes", "65536"),
                ("amqp_url", "amqp://guest:guest@127.0.0.1:5672/%2f"),
                ("amqp_namespace", "mailing"),
                ("outbox_poll_ms", "1000"),
            ],
            vars,
        )?;
        Self::check(raw)
    }

    fn check(raw: RawSettings) -> Result<Self, ConfigError> {
        let production = raw.profile == Profile::Production;
        let http_addr = raw.http_addr.parse().map_err(|_| {
            invalid(
                "MAILING_HTTP_ADDR",
                "must be an address with a port, e.g. 0.0.0.0:8000",
            )
        })?;
        if raw.admin_username.trim().is_empty() || raw.admin_username.chars().count() > 100 {
            return Err(invalid(
                "MAILING_ADMIN_USERNAME",
                "must be 1 to 100 characters",
            ));
        }
        let admin_password = match raw.admin_password {
            Some(password) if !password.expose_secret().is_empty() => password,
            _ if production => {
                return Err(invalid(
                    "MAILING_ADMIN_PASSWORD",
                    "is required in the production profile",
                ));
            }
            _ => SecretString::from(DEV_ADMIN_PASSWORD),
        };
        if production {
            let password = admin_password.expose_secret();
            if password == DEV_ADMIN_PASSWORD
                || password.chars().count() < MIN_PRODUCTION_PASSWORD_CHARS
            {
                return Err(invalid(
                    "MAILING_ADMIN_PASSWORD",
                    format!(
                        "must not be the dev default and must have at least {MIN_PRODUCTION_PASSWORD_CHARS} characters in the production profile"
                    ),
                ));
            }
        }
        let jwt_secret = match raw.jwt_secret {
            Some(secret) if !secret.expose_secret().is_empty() => secret,
            _ if production => {
                return Err(invalid(
                    "MAILING_JWT_SECRET",
                    "is required in the production profile",
                ));
            }
            _ => SecretString::from(DEV_JWT_SECRET),
        };
        if jwt_secret.expose_secret().len() < MIN_JWT_SECRET_BYTES {
            return Err(invalid(
                "MAILING_JWT_SECRET",
                format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
            ));
        }
        if production && jwt_secret.expose_secret() == DEV_JWT_SECRET {
            return Err(invalid(
                "MAILING_JWT_SECRET",
                "must not be the dev default in the production profile",
            ));
        }
        if !(1..=86_400).contains(&raw.jwt_ttl_seconds) {
            return Err(invalid(
                "MAILING_JWT_TTL_SECONDS",
                "must be 1 to 86400 seconds",
            ));
        }
        if !(60..=2_592_000).contains(&raw.admin_session_ttl_seconds) {
            return Err(invalid(
                "MAILING_ADMIN_SESSION_TTL_SECONDS",
                "must be 60 to 2592000 seconds (30 days)",
            ));
        }
        if !(1..=1000).contains(&raw.login_max_failures) {
            return Err(invalid("MAILING_LOGIN_MAX_FAILURES", "must be 1 to 1000"));
        }
        if !(1..=86_400).contains(&raw.login_failure_window_seconds) {
            return Err(invalid(
                "MAILING_LOGIN_FAILURE_WINDOW_SECONDS",
                "must be 1 to 86400 seconds",
            ));
        }
        if raw.database_max_connections == 0 {
            return Err(invalid(
                "MAILING_DATABASE_MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&raw.max_body_bytes) {
            return Err(invalid(
                "MAILING_MAX_BODY_BYTES",
                "must be 1024 to 16777216 bytes",
            ));
        }
        Ok(Settings {
            profile: raw.profile,
            http_addr,
            database_url: raw.database_url,
            database_max_connections: raw.database_max_connections,
            database_acquire_timeout: std::time::Duration::from_millis(
                raw.database_acquire_timeout_ms,
            ),
            admin_username: raw.admin_username.trim().to_owned(),
            admin_password,
            jwt_secret,
            jwt_ttl: std::time::Duration::from_secs(raw.jwt_ttl_seconds),
            admin_session_ttl: std::time::Duration::from_secs(raw.admin_session_ttl_seconds),
            login_max_failures: raw.login_max_failures,
            login_failure_window: std::time::Duration::from_secs(raw.login_failure_window_seconds),
            max_body_bytes: raw.max_body_bytes,
            amqp_url: raw.amqp_url,
            amqp_namespace: raw.amqp_namespace,
            outbox_poll: std::time::Duration::from_millis(raw.outbox_poll_ms.max(10)),
            log_format: raw.log_format.unwrap_or(if production {
                LogFormat::Json
            } else {
                LogFormat::Text
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_from(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn dev_profile_has_working_defaults() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.profile, Profile::Dev);
        assert_eq!(settings.http_addr.port(), 8000);
        assert_eq!(settings.admin_username, "admin");
        assert_eq!(settings.admin_password.expose_secret(), DEV_ADMIN_PASSWORD);
        assert_eq!(settings.log_format, LogFormat::Text);
    }

    #[test]
    fn environment_overrides_defaults() {
        let settings = load(&[
            ("MAILING_HTTP_ADDR", "127.0.0.1:9000"),
            ("MAILING_JWT_TTL_SECONDS", "60"),
            ("MAILING_ADMIN_USERNAME", "root"),
        ])
        .unwrap();
        assert_eq!(settings.http_addr.port(), 9000);
        assert_eq!(settings.jwt_ttl.as_secs(), 60);
        assert_eq!(settings.admin_username, "root");
    }

    #[test]
    fn production_refuses_missing_or_default_secrets() {
        let secret = ("MAILING_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let err = load(&[("MAILING_PROFILE", "production"), secret]).unwrap_err();
        assert!(
            err.to_string().starts_with("MAILING_ADMIN_PASSWORD"),
            "{err}"
        );
        let err = load(&[
            ("MAILING_PROFILE", "production"),
            ("MAILING_ADMIN_PASSWORD", "12345"),
            secret,
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("MAILING_ADMIN_PASSWORD"),
            "{err}"
        );
        let err = load(&[
            ("MAILING_PROFILE", "production"),
            ("MAILING_ADMIN_PASSWORD", "a-long-enough-password"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("MAILING_JWT_SECRET"), "{err}");
        let settings = load(&[
            ("MAILING_PROFILE", "production"),
            ("MAILING_ADMIN_PASSWORD", "a-long-enough-password"),
            secret,
        ])
        .unwrap();
        assert_eq!(settings.log_format, LogFormat::Json);
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let settings = load(&[
            ("MAILING_LOG_FORMAT", ""),
            ("MAILING_CONFIG_FILE", ""),
            ("MAILING_ADMIN_PASSWORD", ""),
        ])
        .unwrap();
        assert_eq!(settings.admin_password.expose_secret(), DEV_ADMIN_PASSWORD);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = load(&[("MAILING_HTTP_ADDR", "nonsense")]).unwrap_err();
        assert!(err.to_string().starts_with("MAILING_HTTP_ADDR"), "{err}");
        let err = load(&[("MAILING_JWT_SECRET", "short")]).unwrap_err();
        assert!(err.to_string().starts_with("MAILING_JWT_SECRET"), "{err}");
        assert!(load(&[("MAILING_PROFILE", "staging")]).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let settings = load(&[("MAILING_ADMIN_PASSWORD", "hunter2-secret")]).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2-secret"));
    }
}
