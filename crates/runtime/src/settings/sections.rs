//! The settings tree, one struct per section of `defaults.toml`, each value checked and typed.

use mailing_domain::{AutoPause, FrequencyCap};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

/// How strict a deployment is about its secrets, and how it logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Readable logs, the built-in admin password, migrations applied at start.
    Dev,
    /// JSON logs; refuses to start without real secrets.
    Production,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Production => "production",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The part of the product a process runs; `mailing` runs several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Api,
    Scheduler,
    Sender,
    /// The probe simulator.
    Sim,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Api,
        Component::Scheduler,
        Component::Sender,
        Component::Sim,
    ];

    /// Its name in `MAILING_COMPONENTS`.
    pub fn name(self) -> &'static str {
        match self {
            Component::Api => "api",
            Component::Scheduler => "scheduler",
            Component::Sender => "sender",
            Component::Sim => "sim",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct BusSettings {
    pub url: SecretString,
    /// What the URL names: RabbitMQ, or the in-process bus.
    pub address: mailing_bus::BusAddress,
    pub namespace: String,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    pub max_body_bytes: usize,
    /// The proxies whose `X-Forwarded-For` is believed; empty: none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub admin_username: String,
    /// The configured password, or the dev profile's default.
    pub admin_password: SecretString,
    /// The configured secret, or the dev profile's default.
    pub jwt_secret: SecretString,
    pub jwt_ttl: Duration,
    pub admin_session_ttl: Duration,
    pub login_max_failures: u32,
    pub login_failure_window: Duration,
    pub outbox_poll: Duration,
    /// The largest CSV file one import takes, in bytes.
    pub import_max_bytes: u64,
    /// Whether people may sign in with a password.
    pub password_login: bool,
}

#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    pub health_addr: SocketAddr,
    pub tick: Duration,
    pub claim_batch: u32,
    pub job_size: usize,
    pub claim_lease: Duration,
}

#[derive(Debug, Clone)]
pub struct SenderSettings {
    pub health_addr: SocketAddr,
    pub concurrency: usize,
    /// Requests per second; 0 means no limit.
    pub rate_limit: u32,
    /// Send jobs held at once; see [`SenderSettings::prefetch`].
    pub prefetch: Option<u16>,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    pub token_pause: Duration,
    pub claim_renew: Duration,
    pub outcome_batch: usize,
    pub outcome_flush: Duration,
    /// When a mailing pauses itself, unless it says otherwise.
    pub auto_pause: AutoPause,
    /// The cap for mailings without their own.
    pub frequency_cap: Option<FrequencyCap>,
}

/// Message ids per send job unless the scheduler is told otherwise.
const DEFAULT_JOB_SIZE: usize = 100;
/// Jobs held at the least, so one slow job never idles the sender.
const MIN_PREFETCH: u16 = 8;

impl SenderSettings {
    /// Send jobs held at once. Unset, enough jobs of the scheduler's default size to fill
    /// every concurrency slot twice: a job is acknowledged only once all its outcomes are
    /// written, so fewer would leave slots idle while the last messages of each job finish,
    /// and the concurrency could never hide the probe's latency.
    pub fn prefetch(&self) -> u16 {
        self.prefetch.unwrap_or_else(|| {
            let jobs = (2 * self.concurrency).div_ceil(DEFAULT_JOB_SIZE);
            u16::try_from(jobs).unwrap_or(u16::MAX).max(MIN_PREFETCH)
        })
    }
}

#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// The provider's base URL; `None` in `mailing` means its built-in simulator.
    pub url: Option<SecretString>,
    pub token: Option<SecretString>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// How the api reads the replies a provider forwards.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    /// The secret replies are signed with; `None` refuses every reply.
    pub secret: Option<SecretString>,
    /// Words that opt a number out, as configured.
    pub opt_out_keywords: Vec<String>,
    /// Words that opt a number back in.
    pub opt_in_keywords: Vec<String>,
}

/// Single sign-on to the admin UI through an OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: url::Url,
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_url: url::Url,
    /// The ID token claim that lists the person's groups.
    pub role_claim: String,
    pub role_map: mailing_domain::RoleMap,
    /// The login button's name; `None`: the issuer's host.
    pub provider_name: Option<String>,
}

/// The daily statistics report: when it is sent, what it covers, and whom it goes to.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub calendar: mailing_domain::report::ReportCalendar,
    /// Who gets the e-mail; empty: nobody.
    pub recipients: Vec<String>,
    pub from: String,
    /// The admin UI, for the e-mail's link.
    pub admin_url: url::Url,
}

/// The SMTP server the report goes through.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// smtp:// or smtps://, which may carry a password.
    pub url: SecretString,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct AllInOneSettings {
    /// What `mailing` runs, each once, in [`Component::ALL`] order.
    pub components: Vec<Component>,
}

/// The probe simulator's settings as read; `probe-sim` turns the fault values into its own
/// types (and checks what only it knows, such as the latency's form).
#[derive(Debug, Clone)]
pub struct ProbeSimSettings {
    pub addr: SocketAddr,
    /// Unset: the simulator's development secret.
    pub jwt_secret: Option<SecretString>,
    pub seed: Option<u64>,
    pub latency_ms: String,
    pub error_500_share: f64,
    pub error_429_share: f64,
    pub error_503_share: f64,
    pub malformed_share: f64,
    pub hang_share: f64,
    pub retry_after_seconds: u64,
    pub retry_after_format: String,
    pub hang_ms: u64,
    pub outage: Duration,
    pub outage_mode: String,
    pub workers: Option<usize>,
    /// Where the simulator posts the replies it makes up; unset: it makes none.
    pub reply_url: Option<url::Url>,
    /// What the replies are signed with; always set when `reply_url` is.
    pub reply_secret: Option<SecretString>,
    pub reply_text: String,
    /// Reply to every this many sends answered OK; 0: only on demand.
    pub reply_every: u64,
    pub log_format: LogFormat,
}
