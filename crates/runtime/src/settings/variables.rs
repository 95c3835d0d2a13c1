//! The environment variables that set each key of the settings tree, with a valid example of
//! each for error messages. The names are a contract with every deployment: never rename one.

/// One setting: the variable that sets it, its key in the tree (and in a settings file), an
/// example of a valid value, and whether its value must never be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub key: &'static str,
    pub example: &'static str,
    pub secret: bool,
}

const fn plain(name: &'static str, key: &'static str, example: &'static str) -> Variable {
    Variable {
        name,
        key,
        example,
        secret: false,
    }
}

/// Never shown: a password, a token, or a URL that may carry one.
const fn secret(name: &'static str, key: &'static str, example: &'static str) -> Variable {
    Variable {
        name,
        key,
        example,
        secret: true,
    }
}

/// The variable naming a settings file, for every program but the simulator.
pub const CONFIG_FILE: &str = "MAILING_CONFIG_FILE";
/// The variable naming the simulator's settings file.
pub const SIM_CONFIG_FILE: &str = "PROBE_SIM_CONFIG_FILE";

/// Variables with the settings' prefix that the tests and tools read, not the product: the
/// servers the tests create their databases and queues on, the seed of the short fault run and
/// the binary the browser tests start. `.env.template` lists them too, and a program does not
/// take one for a mistyped setting.
pub const TOOL_VARIABLES: &[&str] = &[
    "MAILING_TEST_DATABASE_URL",
    "MAILING_TEST_AMQP_URL",
    "MAILING_FAULTS_SEED",
    "MAILING_BIN",
];

/// Every setting, in the order of `defaults.toml`.
pub const VARIABLES: &[Variable] = &[
    plain("MAILING_PROFILE", "profile", "production"),
    plain("MAILING_LOAD_FIXTURES", "load_fixtures", "false"),
    secret(
        "MAILING_DATABASE_URL",
        "database.url",
        "postgres://mailing:secret@db.internal:5432/mailing",
    ),
    plain(
        "MAILING_DATABASE_MAX_CONNECTIONS",
        "database.max_connections",
        "10",
    ),
    plain(
        "MAILING_DATABASE_ACQUIRE_TIMEOUT_MS",
        "database.acquire_timeout_ms",
        "5000",
    ),
    secret(
        "MAILING_AMQP_URL",
        "bus.url",
        "amqp://mailing:secret@rabbitmq.internal:5672/%2f",
    ),
    plain("MAILING_AMQP_NAMESPACE", "bus.namespace", "mailing"),
    plain("MAILING_HTTP_ADDR", "http.addr", "0.0.0.0:8000"),
    plain("MAILING_MAX_BODY_BYTES", "http.max_body_bytes", "65536"),
    plain(
        "MAILING_TRUSTED_PROXIES",
        "http.trusted_proxies",
        "10.0.0.0/8,192.168.1.7",
    ),
    plain("MAILING_ADMIN_USERNAME", "api.admin_username", "admin"),
    secret(
        "MAILING_ADMIN_PASSWORD",
        "api.admin_password",
        "a-long-passphrase-of-your-own",
    ),
    secret(
        "MAILING_JWT_SECRET",
        "api.jwt_secret",
        "the output of `openssl rand -hex 32`",
    ),
    plain("MAILING_JWT_TTL_SECONDS", "api.jwt_ttl_seconds", "3600"),
    plain(
        "MAILING_ADMIN_SESSION_TTL_SECONDS",
        "api.admin_session_ttl_seconds",
        "28800",
    ),
    plain("MAILING_LOGIN_MAX_FAILURES", "api.login_max_failures", "10"),
    plain(
        "MAILING_LOGIN_FAILURE_WINDOW_SECONDS",
        "api.login_failure_window_seconds",
        "300",
    ),
    plain("MAILING_OUTBOX_POLL_MS", "api.outbox_poll_ms", "1000"),
    plain(
        "MAILING_IMPORT_MAX_BYTES",
        "api.import_max_bytes",
        "536870912",
    ),
    plain("MAILING_PASSWORD_LOGIN", "api.password_login", "false"),
    plain(
        "MAILING_SCHEDULER_HEALTH_ADDR",
        "scheduler.health_addr",
        "0.0.0.0:8081",
    ),
    plain("MAILING_SCHEDULER_TICK_MS", "scheduler.tick_ms", "500"),
    plain(
        "MAILING_SCHEDULER_CLAIM_BATCH",
        "scheduler.claim_batch",
        "2000",
    ),
    plain("MAILING_SCHEDULER_JOB_SIZE", "scheduler.job_size", "100"),
    plain(
        "MAILING_SCHEDULER_CLAIM_LEASE_SECONDS",
        "scheduler.claim_lease_seconds",
        "300",
    ),
    plain(
        "MAILING_SENDER_HEALTH_ADDR",
        "sender.health_addr",
        "0.0.0.0:8082",
    ),
    plain("MAILING_SENDER_CONCURRENCY", "sender.concurrency", "256"),
    plain("MAILING_SENDER_RATE_LIMIT", "sender.rate_limit", "500"),
    plain("MAILING_SENDER_PREFETCH", "sender.prefetch", "32"),
    plain(
        "MAILING_SENDER_RETRY_BASE_MS",
        "sender.retry_base_ms",
        "1000",
    ),
    plain(
        "MAILING_SENDER_RETRY_CAP_MS",
        "sender.retry_cap_ms",
        "300000",
    ),
    plain(
        "MAILING_SENDER_BREAKER_THRESHOLD",
        "sender.breaker_threshold",
        "20",
    ),
    plain(
        "MAILING_SENDER_BREAKER_COOLDOWN_MS",
        "sender.breaker_cooldown_ms",
        "5000",
    ),
    plain(
        "MAILING_SENDER_TOKEN_PAUSE_MS",
        "sender.token_pause_ms",
        "30000",
    ),
    plain(
        "MAILING_SENDER_CLAIM_RENEW_MS",
        "sender.claim_renew_ms",
        "30000",
    ),
    plain(
        "MAILING_SENDER_OUTCOME_BATCH",
        "sender.outcome_batch",
        "500",
    ),
    plain(
        "MAILING_SENDER_OUTCOME_FLUSH_MS",
        "sender.outcome_flush_ms",
        "20",
    ),
    plain("MAILING_SENDER_AUTO_PAUSE", "sender.auto_pause", "true"),
    plain(
        "MAILING_SENDER_AUTO_PAUSE_ATTEMPTS",
        "sender.auto_pause_attempts",
        "50",
    ),
    plain(
        "MAILING_SENDER_AUTO_PAUSE_FAILURE_SHARE",
        "sender.auto_pause_failure_share",
        "0.8",
    ),
    plain(
        "MAILING_SENDER_FREQUENCY_CAP_MAX",
        "sender.frequency_cap_max",
        "3",
    ),
    plain(
        "MAILING_SENDER_FREQUENCY_CAP_HOURS",
        "sender.frequency_cap_hours",
        "24",
    ),
    secret(
        "MAILING_PROBE_URL",
        "probe.url",
        "https://probe.example.com",
    ),
    secret(
        "MAILING_PROBE_TOKEN",
        "probe.token",
        "the JWT your provider issued you",
    ),
    plain("MAILING_PROBE_TIMEOUT_MS", "probe.timeout_ms", "10000"),
    plain("MAILING_LOG_FORMAT", "log.format", "json"),
    secret(
        "MAILING_INBOUND_SECRET",
        "inbound.secret",
        "the output of `openssl rand -hex 32`",
    ),
    plain(
        "MAILING_INBOUND_OPT_OUT_KEYWORDS",
        "inbound.opt_out_keywords",
        "STOP,СТОП",
    ),
    plain(
        "MAILING_INBOUND_OPT_IN_KEYWORDS",
        "inbound.opt_in_keywords",
        "START,СТАРТ",
    ),
    plain(
        "MAILING_OIDC_ISSUER",
        "oidc.issuer",
        "https://login.example.com/realms/staff",
    ),
    plain("MAILING_OIDC_CLIENT_ID", "oidc.client_id", "mailing"),
    secret(
        "MAILING_OIDC_CLIENT_SECRET",
        "oidc.client_secret",
        "the secret the provider issued",
    ),
    plain(
        "MAILING_OIDC_REDIRECT_URL",
        "oidc.redirect_url",
        "https://mailing.example.com/admin/oidc/callback",
    ),
    plain("MAILING_OIDC_ROLE_CLAIM", "oidc.role_claim", "groups"),
    plain(
        "MAILING_OIDC_ROLE_MAP",
        "oidc.role_map",
        "mailing-admins=admin,mailing-viewers=viewer",
    ),
    plain(
        "MAILING_OIDC_PROVIDER_NAME",
        "oidc.provider_name",
        "Company SSO",
    ),
    plain("MAILING_REPORT_TIME", "report.time", "08:00"),
    plain(
        "MAILING_REPORT_TIME_ZONE",
        "report.time_zone",
        "Europe/Moscow",
    ),
    plain("MAILING_REPORT_DAY", "report.day", "previous"),
    plain(
        "MAILING_REPORT_RECIPIENTS",
        "report.recipients",
        "ops@example.com, lead@example.com",
    ),
    plain(
        "MAILING_REPORT_FROM",
        "report.from",
        "Mailing reports <reports@example.com>",
    ),
    plain(
        "MAILING_REPORT_ADMIN_URL",
        "report.admin_url",
        "https://mailing.example.com/admin",
    ),
    secret(
        "MAILING_SMTP_URL",
        "smtp.url",
        "smtp://reports%40example.com:secret@smtp.example.com:587?tls=starttls",
    ),
    plain("MAILING_SMTP_TIMEOUT_MS", "smtp.timeout_ms", "30000"),
    plain(
        "MAILING_COMPONENTS",
        "all_in_one.components",
        "api,scheduler,sender",
    ),
    plain("PROBE_SIM_ADDR", "probe_sim.addr", "0.0.0.0:8090"),
    secret(
        "PROBE_SIM_JWT_SECRET",
        "probe_sim.jwt_secret",
        "a secret shared with whoever mints tokens",
    ),
    plain("PROBE_SIM_SEED", "probe_sim.seed", "42"),
    plain("PROBE_SIM_LATENCY_MS", "probe_sim.latency_ms", "100..300"),
    plain(
        "PROBE_SIM_ERROR_500_SHARE",
        "probe_sim.error_500_share",
        "0.1",
    ),
    plain(
        "PROBE_SIM_ERROR_429_SHARE",
        "probe_sim.error_429_share",
        "0.1",
    ),
    plain(
        "PROBE_SIM_ERROR_503_SHARE",
        "probe_sim.error_503_share",
        "0.1",
    ),
    plain(
        "PROBE_SIM_MALFORMED_SHARE",
        "probe_sim.malformed_share",
        "0.05",
    ),
    plain("PROBE_SIM_HANG_SHARE", "probe_sim.hang_share", "0.01"),
    plain(
        "PROBE_SIM_RETRY_AFTER_SECONDS",
        "probe_sim.retry_after_seconds",
        "1",
    ),
    plain(
        "PROBE_SIM_RETRY_AFTER_FORMAT",
        "probe_sim.retry_after_format",
        "date",
    ),
    plain("PROBE_SIM_HANG_MS", "probe_sim.hang_ms", "600000"),
    plain("PROBE_SIM_OUTAGE_SECONDS", "probe_sim.outage_seconds", "30"),
    plain("PROBE_SIM_OUTAGE_MODE", "probe_sim.outage_mode", "drop"),
    plain("PROBE_SIM_WORKERS", "probe_sim.workers", "2"),
    plain(
        "PROBE_SIM_REPLY_URL",
        "probe_sim.reply_url",
        "http://127.0.0.1:8000/api/v1/inbound",
    ),
    secret(
        "PROBE_SIM_REPLY_SECRET",
        "probe_sim.reply_secret",
        "the secret shared with the api",
    ),
    plain("PROBE_SIM_REPLY_TEXT", "probe_sim.reply_text", "STOP"),
    plain("PROBE_SIM_REPLY_EVERY", "probe_sim.reply_every", "10"),
    plain("PROBE_SIM_LOG_FORMAT", "probe_sim.log_format", "json"),
];

/// The setting at `key`.
///
/// # Panics
/// For a key that is not in [`VARIABLES`]: a typo in the code reading it.
pub fn by_key(key: &str) -> &'static Variable {
    VARIABLES
        .iter()
        .find(|variable| variable.key == key)
        .unwrap_or_else(|| panic!("no setting has the key {key}"))
}

/// The setting a variable sets.
pub fn by_name(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|variable| variable.name == name)
}

/// The setting whose variable, without its `MAILING_` or `PROBE_SIM_` prefix and in lower case,
/// is `flat` (`sender_concurrency`): how settings files named keys before they had sections.
pub fn by_flat_name(flat: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|variable| {
        let unprefixed = variable
            .name
            .strip_prefix("MAILING_")
            .or_else(|| variable.name.strip_prefix("PROBE_SIM_"))
            .unwrap_or(variable.name);
        unprefixed.eq_ignore_ascii_case(flat)
    })
}

/// The setting whose variable or key is closest to `typed` (a mistyped name), if one is close.
pub fn closest(typed: &str) -> Option<&'static Variable> {
    VARIABLES
        .iter()
        .map(|variable| {
            let distance =
                edit_distance(typed, variable.name).min(edit_distance(typed, variable.key));
            (distance, variable)
        })
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, variable)| variable)
}

/// Levenshtein distance, ignoring case.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_are_unique() {
        for (i, variable) in VARIABLES.iter().enumerate() {
            for other in &VARIABLES[i + 1..] {
                assert_ne!(variable.name, other.name);
                assert_ne!(variable.key, other.key);
            }
        }
    }

    #[test]
    fn a_near_miss_finds_the_setting_meant() {
        assert_eq!(
            closest("MAILING_SENDER_CONCURENCY").map(|v| v.name),
            Some("MAILING_SENDER_CONCURRENCY")
        );
        assert_eq!(
            closest("sender.concurency").map(|v| v.key),
            Some("sender.concurrency")
        );
        assert_eq!(closest("MAILING_BIN"), None);
    }
}
