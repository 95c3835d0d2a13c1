//! Merging the layers and reading the tree out of them.

use super::values::{Origins, Reader};
use super::variables::{self, CONFIG_FILE, SIM_CONFIG_FILE, VARIABLES};
use super::*;
use config::{Config, ConfigBuilder, FileFormat, Value, ValueKind, builder::DefaultState};
use mailing_bus::BusAddress;
use secrecy::{ExposeSecret as _, SecretString};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Where `mailing`'s own defaults sit in `defaults.toml`.
const ALL_IN_ONE_DEFAULTS: &str = "all_in_one.defaults";
const MIN_JWT_SECRET_BYTES: usize = 32;
const MIN_PRODUCTION_PASSWORD_CHARS: usize = 10;

pub(super) fn load(
    program: Program,
    vars: Vec<(String, String)>,
) -> Result<Settings, SettingsError> {
    // An empty variable, as templates leave them, means "not set".
    let vars: HashMap<String, String> = vars
        .into_iter()
        .filter(|(name, value)| is_ours(name) && !value.trim().is_empty())
        .collect();
    let mut builder = defaults(program)?;
    let mut origins = Origins::default();
    let file_variable = match program {
        Program::ProbeSim => SIM_CONFIG_FILE,
        _ => CONFIG_FILE,
    };
    if let Some(path) = vars.get(file_variable) {
        let (file, keys) = read_file(file_variable, path)?;
        builder = builder.add_source(file);
        origins.file = Some((PathBuf::from(path), keys));
    }
    for variable in VARIABLES {
        if let Some(value) = vars.get(variable.name) {
            builder = builder
                .set_override(variable.key, value.as_str())
                .map_err(|error| unreadable(variable.name, &error))?;
            origins.from_environment.insert(variable.key);
        }
    }
    let merged = builder
        .build()
        .map_err(|error| unreadable("the settings", &error))?;
    let reader = Reader {
        merged: &merged,
        origins: &origins,
    };
    let mut settings = read(&reader, program)?;
    settings.unknown_variables = unknown_variables(&vars);
    check_for(&reader, program, &settings)?;
    Ok(settings)
}

fn is_ours(name: &str) -> bool {
    name.starts_with("MAILING_") || name.starts_with("PROBE_SIM_")
}

/// Every key of `defaults.toml` as a default, with `mailing`'s own over them for `mailing`.
fn defaults(program: Program) -> Result<ConfigBuilder<DefaultState>, SettingsError> {
    let embedded = Config::builder()
        .add_source(config::File::from_str(DEFAULTS_TOML, FileFormat::Toml))
        .build()
        .map_err(|error| unreadable("the built-in defaults", &error))?;
    let table = embedded
        .cache
        .clone()
        .into_table()
        .map_err(|error| unreadable("the built-in defaults", &error))?;
    let mut leaves = Vec::new();
    collect_leaves("", &table, &mut leaves);
    let (own, general): (Vec<_>, Vec<_>) = leaves
        .into_iter()
        .partition(|(key, _)| key.starts_with(&format!("{ALL_IN_ONE_DEFAULTS}.")));
    let mut builder = Config::builder();
    for (key, value) in general {
        builder = builder
            .set_default(key, value)
            .map_err(|error| unreadable("the built-in defaults", &error))?;
    }
    if program == Program::AllInOne {
        for (key, value) in own {
            let key = &key[ALL_IN_ONE_DEFAULTS.len() + 1..];
            builder = builder
                .set_default(key, value)
                .map_err(|error| unreadable("the built-in defaults", &error))?;
        }
    }
    Ok(builder)
}

/// `(dotted key, value)` of every value under `table`.
fn collect_leaves(
    prefix: &str,
    table: &config::Map<String, Value>,
    into: &mut Vec<(String, Value)>,
) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match &value.kind {
            ValueKind::Table(inner) => collect_leaves(&key, inner, into),
            _ => into.push((key, value.clone())),
        }
    }
}

/// The settings file as a layer, and the keys it sets; a key that is no setting is refused.
fn read_file(
    variable: &'static str,
    path: &str,
) -> Result<
    (
        config::File<config::FileSourceFile, FileFormat>,
        HashSet<String>,
    ),
    SettingsError,
> {
    let problem = |problem: String| SettingsError {
        setting: format!("{variable}={path}"),
        problem,
        example: Some(format!("{variable}=/etc/mailing/mailing.toml")),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| problem(format!("cannot read the settings file: {error}")))?;
    let alone = Config::builder()
        .add_source(config::File::from_str(&text, FileFormat::Toml))
        .build()
        .and_then(|config| config.cache.into_table())
        .map_err(|error| problem(format!("not a TOML file: {error}")))?;
    let mut leaves = Vec::new();
    collect_leaves("", &alone, &mut leaves);
    let mut keys = HashSet::new();
    for (key, _) in leaves {
        if !VARIABLES.iter().any(|setting| setting.key == key) {
            let hint = match variables::by_flat_name(&key) {
                // Files once took the variables' names without prefix, in no section.
                Some(setting) => format!(
                    " (settings files have sections now: write it as {} = … under [{}])",
                    setting
                        .key
                        .rsplit_once('.')
                        .map_or(setting.key, |(_, name)| name),
                    setting
                        .key
                        .rsplit_once('.')
                        .map_or("", |(section, _)| section),
                ),
                None => variables::closest(&key)
                    .map(|setting| format!(" (did you mean {}?)", setting.key))
                    .unwrap_or_default(),
            };
            return Err(SettingsError {
                setting: format!("{key} in {path}"),
                problem: format!("is not a setting{hint}"),
                example: Some(
                    "concurrency = 256 under [sender]; docs/configuration.md lists every key"
                        .to_owned(),
                ),
            });
        }
        keys.insert(key);
    }
    let file = config::File::new(path, FileFormat::Toml);
    Ok((file, keys))
}

fn unreadable(what: &str, error: &config::ConfigError) -> SettingsError {
    SettingsError {
        setting: what.to_owned(),
        problem: format!("cannot be read: {error}"),
        example: None,
    }
}

/// Our variables that set nothing, named with the setting each probably meant.
fn unknown_variables(vars: &HashMap<String, String>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .keys()
        .filter(|name| {
            variables::by_name(name).is_none() && *name != CONFIG_FILE && *name != SIM_CONFIG_FILE
        })
        .map(|name| match variables::closest(name) {
            Some(meant) => format!("{name} (did you mean {}?)", meant.name),
            None => name.clone(),
        })
        .collect();
    unknown.sort();
    unknown
}

fn read(reader: &Reader<'_>, program: Program) -> Result<Settings, SettingsError> {
    let profile = match reader.choice("profile", &["dev", "production"])? {
        "production" => Profile::Production,
        _ => Profile::Dev,
    };
    let log_format = |key: &str, default: LogFormat| -> Result<LogFormat, SettingsError> {
        Ok(match reader.optional_choice(key, &["text", "json"])? {
            Some("json") => LogFormat::Json,
            Some(_) => LogFormat::Text,
            None => default,
        })
    };
    let profile_format = match profile {
        Profile::Production => LogFormat::Json,
        Profile::Dev => LogFormat::Text,
    };
    Ok(Settings {
        profile,
        database: DatabaseSettings {
            url: database_url(reader)?,
            max_connections: reader.whole("database.max_connections", 1..=1000)?,
            acquire_timeout: reader.millis("database.acquire_timeout_ms", 1..=600_000)?,
        },
        bus: BusSettings {
            url: bus_url(reader)?,
            namespace: namespace(reader)?,
        },
        http: HttpSettings {
            addr: reader.listen_address("http.addr")?,
            max_body_bytes: reader.whole("http.max_body_bytes", 1024..=16 * 1024 * 1024)?,
        },
        api: api(reader, profile)?,
        scheduler: SchedulerSettings {
            health_addr: reader.listen_address("scheduler.health_addr")?,
            tick: reader.millis("scheduler.tick_ms", 1..=3_600_000)?,
            claim_batch: reader.whole("scheduler.claim_batch", 1..=100_000)?,
            job_size: reader.whole("scheduler.job_size", 1..=10_000)?,
            claim_lease: reader.seconds("scheduler.claim_lease_seconds", 1..=86_400)?,
        },
        sender: sender(reader)?,
        probe: ProbeSettings {
            url: probe_url(reader, program)?,
            token: reader.secret("probe.token")?,
            timeout: reader.millis("probe.timeout_ms", 1..=3_600_000)?,
        },
        log: LogSettings {
            format: log_format("log.format", profile_format)?,
        },
        all_in_one: AllInOneSettings {
            components: components(reader)?,
            load_fixtures: reader.flag("all_in_one.load_fixtures")?,
        },
        probe_sim: ProbeSimSettings {
            addr: reader.listen_address("probe_sim.addr")?,
            jwt_secret: reader.secret("probe_sim.jwt_secret")?,
            seed: reader.optional_whole("probe_sim.seed", 0..=u64::MAX)?,
            latency_ms: reader.required("probe_sim.latency_ms")?.trim().to_owned(),
            error_500_share: reader.share("probe_sim.error_500_share")?,
            error_429_share: reader.share("probe_sim.error_429_share")?,
            error_503_share: reader.share("probe_sim.error_503_share")?,
            malformed_share: reader.share("probe_sim.malformed_share")?,
            hang_share: reader.share("probe_sim.hang_share")?,
            retry_after_seconds: reader.whole("probe_sim.retry_after_seconds", 0..=86_400)?,
            retry_after_format: reader
                .choice("probe_sim.retry_after_format", &["seconds", "date", "none"])?
                .to_owned(),
            hang_ms: reader.whole("probe_sim.hang_ms", 0..=3_600_000)?,
            outage: reader.seconds("probe_sim.outage_seconds", 0..=86_400 * 365)?,
            outage_mode: reader
                .choice("probe_sim.outage_mode", &["unavailable", "drop"])?
                .to_owned(),
            workers: reader.optional_whole("probe_sim.workers", 1..=256)?,
            log_format: log_format("probe_sim.log_format", LogFormat::Text)?,
        },
        unknown_variables: Vec::new(),
    })
}

fn database_url(reader: &Reader<'_>) -> Result<SecretString, SettingsError> {
    const KEY: &str = "database.url";
    let url = reader.required(KEY)?;
    let url = url.trim();
    let backend = mailing_storage::Backend::of(url)
        .map_err(|error| reader.invalid(KEY, None, &plain(&error.to_string())))?;
    let well_formed = match backend {
        mailing_storage::Backend::Postgres => url::Url::parse(url).is_ok(),
        mailing_storage::Backend::Sqlite => url.len() > "sqlite://".len(),
    };
    if !well_formed {
        return Err(reader.invalid(KEY, None, "is not a well-formed database URL"));
    }
    Ok(SecretString::from(url))
}

fn bus_url(reader: &Reader<'_>) -> Result<SecretString, SettingsError> {
    const KEY: &str = "bus.url";
    let url = reader.required(KEY)?;
    BusAddress::parse(url.trim())
        .map_err(|error| reader.invalid(KEY, None, &plain(&error.to_string())))?;
    Ok(SecretString::from(url.trim()))
}

fn namespace(reader: &Reader<'_>) -> Result<String, SettingsError> {
    const KEY: &str = "bus.namespace";
    let namespace = reader.required(KEY)?;
    let options = mailing_bus::BusOptions {
        namespace: namespace.trim().to_owned(),
        ..Default::default()
    };
    options
        .validate()
        .map_err(|error| reader.invalid(KEY, Some(&namespace), &plain(&error.to_string())))?;
    Ok(options.namespace)
}

/// The provider's URL; empty only where `mailing` runs its own simulator.
fn probe_url(reader: &Reader<'_>, program: Program) -> Result<Option<SecretString>, SettingsError> {
    const KEY: &str = "probe.url";
    let Some(url) = reader.optional(KEY)? else {
        return match program {
            Program::AllInOne => Ok(None),
            _ => Err(reader.invalid(
                KEY,
                None,
                "must not be empty: the sender needs the provider's address",
            )),
        };
    };
    let parsed = url::Url::parse(url.trim());
    match parsed {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(Some(SecretString::from(url.trim())))
        }
        Ok(_) => Err(reader.invalid(KEY, None, "must be an http:// or https:// URL with a host")),
        Err(error) => Err(reader.invalid(KEY, None, &format!("is not a URL ({error})"))),
    }
}

fn api(reader: &Reader<'_>, profile: Profile) -> Result<ApiSettings, SettingsError> {
    let admin_username = reader.required("api.admin_username")?.trim().to_owned();
    if admin_username.chars().count() > 100 {
        return Err(reader.invalid(
            "api.admin_username",
            Some(&admin_username),
            "must be 1 to 100 characters",
        ));
    }
    let admin_password = reader.secret("api.admin_password")?;
    let jwt_secret = reader.secret("api.jwt_secret")?;
    if let Some(secret) = &jwt_secret
        && secret.expose_secret().len() < MIN_JWT_SECRET_BYTES
    {
        return Err(reader.invalid(
            "api.jwt_secret",
            None,
            &format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
        ));
    }
    // Production's own rules are checked by the programs that run the api; the dev profile
    // fills in its defaults here.
    let dev_default = |given: Option<SecretString>, default: &str| match (given, profile) {
        (Some(given), _) => given,
        (None, Profile::Dev) => SecretString::from(default),
        (None, Profile::Production) => SecretString::from(""),
    };
    Ok(ApiSettings {
        admin_username,
        admin_password: dev_default(admin_password, DEV_ADMIN_PASSWORD),
        jwt_secret: dev_default(jwt_secret, DEV_JWT_SECRET),
        jwt_ttl: reader.seconds("api.jwt_ttl_seconds", 1..=86_400)?,
        admin_session_ttl: reader.seconds("api.admin_session_ttl_seconds", 60..=2_592_000)?,
        login_max_failures: reader.whole("api.login_max_failures", 1..=1000)?,
        login_failure_window: reader.seconds("api.login_failure_window_seconds", 1..=86_400)?,
        outbox_poll: reader.millis("api.outbox_poll_ms", 10..=3_600_000)?,
    })
}

fn sender(reader: &Reader<'_>) -> Result<SenderSettings, SettingsError> {
    let retry_base = reader.millis("sender.retry_base_ms", 1..=86_400_000)?;
    let retry_cap = reader.millis("sender.retry_cap_ms", 1..=86_400_000)?;
    if retry_cap < retry_base {
        let cap = retry_cap.as_millis().to_string();
        return Err(reader.invalid(
            "sender.retry_cap_ms",
            Some(&cap),
            &format!(
                "is below the retry base ({} ms): the cap must be at least the base",
                retry_base.as_millis()
            ),
        ));
    }
    Ok(SenderSettings {
        health_addr: reader.listen_address("sender.health_addr")?,
        concurrency: reader.whole("sender.concurrency", 1..=100_000)?,
        rate_limit: reader.whole("sender.rate_limit", 0..=1_000_000)?,
        prefetch: reader.optional_whole("sender.prefetch", 1..=u16::MAX)?,
        retry_base,
        retry_cap,
        breaker_threshold: reader.whole("sender.breaker_threshold", 1..=1_000_000)?,
        breaker_cooldown: reader.millis("sender.breaker_cooldown_ms", 1..=86_400_000)?,
        token_pause: reader.millis("sender.token_pause_ms", 1..=86_400_000)?,
        claim_renew: reader.millis("sender.claim_renew_ms", 1..=86_400_000)?,
        outcome_batch: reader.whole("sender.outcome_batch", 1..=100_000)?,
        outcome_flush: reader.millis("sender.outcome_flush_ms", 0..=60_000)?,
    })
}

fn components(reader: &Reader<'_>) -> Result<Vec<Component>, SettingsError> {
    const KEY: &str = "all_in_one.components";
    let text = reader.required(KEY)?;
    let mut chosen = HashSet::new();
    for name in text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let component = Component::ALL
            .into_iter()
            .find(|component| component.name() == name.to_ascii_lowercase())
            .ok_or_else(|| {
                reader.invalid(
                    KEY,
                    Some(&text),
                    &format!("names \"{name}\", which is none of api, scheduler, sender, sim"),
                )
            })?;
        chosen.insert(component);
    }
    if chosen.is_empty() {
        return Err(reader.invalid(KEY, Some(&text), "names no component"));
    }
    Ok(Component::ALL
        .into_iter()
        .filter(|component| chosen.contains(component))
        .collect())
}

/// What the parts `program` runs require beyond well-formed values.
fn check_for(
    reader: &Reader<'_>,
    program: Program,
    settings: &Settings,
) -> Result<(), SettingsError> {
    let runs = |component| settings.runs(program, component);
    let in_process = matches!(
        BusAddress::parse(settings.bus.url.expose_secret()),
        Ok(BusAddress::InProcess { .. })
    );
    if in_process && program != Program::AllInOne && program != Program::ProbeSim {
        return Err(reader.invalid(
            "bus.url",
            None,
            &format!(
                "names the in-process bus, which only services in one process share, and {} \
                 runs alone: give it the broker's amqp:// URL, or run `mailing`",
                program.binary()
            ),
        ));
    }
    if runs(Component::Sender) && settings.probe.url.is_none() && !runs(Component::Sim) {
        return Err(reader.invalid(
            "probe.url",
            None,
            "must name the provider when the simulator is not among MAILING_COMPONENTS",
        ));
    }
    if settings.profile != Profile::Production {
        return Ok(());
    }
    if runs(Component::Api) {
        let password = settings.api.admin_password.expose_secret();
        if password.is_empty() {
            return Err(reader.invalid(
                "api.admin_password",
                None,
                "is required in the production profile",
            ));
        }
        if password == DEV_ADMIN_PASSWORD
            || password.chars().count() < MIN_PRODUCTION_PASSWORD_CHARS
        {
            return Err(reader.invalid(
                "api.admin_password",
                None,
                &format!(
                    "must not be the dev default and must have at least \
                     {MIN_PRODUCTION_PASSWORD_CHARS} characters in the production profile"
                ),
            ));
        }
        let secret = settings.api.jwt_secret.expose_secret();
        if secret.is_empty() {
            return Err(reader.invalid(
                "api.jwt_secret",
                None,
                "is required in the production profile",
            ));
        }
        if secret == DEV_JWT_SECRET {
            return Err(reader.invalid(
                "api.jwt_secret",
                None,
                "must not be the dev default in the production profile",
            ));
        }
    }
    let built_in_probe = settings.probe.url.is_none() && runs(Component::Sim);
    if runs(Component::Sender) && !built_in_probe && settings.probe.token.is_none() {
        return Err(reader.invalid("probe.token", None, "is required in the production profile"));
    }
    Ok(())
}

/// A library's error text as part of a sentence.
fn plain(text: &str) -> String {
    text.strip_prefix("invalid bus configuration: ")
        .unwrap_or(text)
        .to_owned()
}
