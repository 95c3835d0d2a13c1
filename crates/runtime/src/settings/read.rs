//! Reading each section of the merged layers into its typed, checked form.

use super::values::Reader;
use super::*;
use mailing_bus::BusAddress;
use mailing_domain::campaign::FailureShare;
use mailing_domain::{AutoPause, FrequencyCap};
use secrecy::{ExposeSecret as _, SecretString};
use std::collections::HashSet;

const MIN_JWT_SECRET_BYTES: usize = 32;

pub(super) fn read(reader: &Reader<'_>, program: Program) -> Result<Settings, SettingsError> {
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
        load_fixtures: reader.optional_flag("load_fixtures")?,
        database: DatabaseSettings {
            url: database_url(reader)?,
            max_connections: reader.whole("database.max_connections", 1..=1000)?,
            acquire_timeout: reader.millis("database.acquire_timeout_ms", 1..=600_000)?,
        },
        bus: bus(reader)?,
        http: HttpSettings {
            addr: reader.listen_address("http.addr")?,
            max_body_bytes: reader.whole("http.max_body_bytes", 1024..=16 * 1024 * 1024)?,
            trusted_proxies: trusted_proxies(reader)?,
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
        inbound: InboundSettings {
            secret: reader.secret("inbound.secret")?,
            opt_out_keywords: keywords(reader, "inbound.opt_out_keywords")?,
            opt_in_keywords: keywords(reader, "inbound.opt_in_keywords")?,
        },
        oidc: oidc(reader)?,
        report: report(reader)?,
        smtp: smtp(reader)?,
        all_in_one: AllInOneSettings {
            components: components(reader)?,
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
            reply_url: reply_url(reader)?,
            reply_secret: reply_secret(reader)?,
            reply_text: reader.required("probe_sim.reply_text")?,
            reply_every: reply_every(reader)?,
            // The simulator logs like the services: JSON in the production profile.
            log_format: log_format("probe_sim.log_format", profile_format)?,
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

fn bus(reader: &Reader<'_>) -> Result<BusSettings, SettingsError> {
    const KEY: &str = "bus.url";
    let url = reader.required(KEY)?;
    let address = BusAddress::parse(url.trim())
        .map_err(|error| reader.invalid(KEY, None, &plain(&error.to_string())))?;
    Ok(BusSettings {
        url: SecretString::from(url.trim()),
        address,
        namespace: namespace(reader)?,
    })
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

/// Single sign-on, when its issuer is set; then the client, its secret and the redirect URL
/// must be too, and the role map must name at least one group.
fn oidc(reader: &Reader<'_>) -> Result<Option<OidcSettings>, SettingsError> {
    let Some(issuer) = reader.optional("oidc.issuer")? else {
        return Ok(None);
    };
    let web_url = |key: &str, raw: &str| -> Result<url::Url, SettingsError> {
        match url::Url::parse(raw.trim()) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() =>
            {
                Ok(parsed)
            }
            _ => Err(reader.invalid(
                key,
                Some(raw),
                "must be an http:// or https:// URL with a host",
            )),
        }
    };
    let needed = |key: &str| -> Result<String, SettingsError> {
        reader
            .optional(key)?
            .ok_or_else(|| reader.invalid(key, None, "must be set when MAILING_OIDC_ISSUER is"))
    };
    let issuer = web_url("oidc.issuer", &issuer)?;
    let client_id = needed("oidc.client_id")?.trim().to_owned();
    let client_secret = reader.secret("oidc.client_secret")?.ok_or_else(|| {
        reader.invalid(
            "oidc.client_secret",
            None,
            "must be set when MAILING_OIDC_ISSUER is",
        )
    })?;
    let raw_redirect = needed("oidc.redirect_url")?;
    let redirect_url = web_url("oidc.redirect_url", &raw_redirect)?;
    if redirect_url.path() != "/admin/oidc/callback" {
        return Err(reader.invalid(
            "oidc.redirect_url",
            Some(&raw_redirect),
            "must end with the path /admin/oidc/callback",
        ));
    }
    let raw_map = reader.required("oidc.role_map")?;
    let role_map = mailing_domain::RoleMap::parse(&raw_map)
        .map_err(|problem| reader.invalid("oidc.role_map", Some(&raw_map), &problem))?;
    if role_map.is_empty() {
        return Err(reader.invalid(
            "oidc.role_map",
            Some(&raw_map),
            "must map at least one group, or nobody could sign in",
        ));
    }
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret,
        redirect_url,
        role_claim: reader.required("oidc.role_claim")?.trim().to_owned(),
        role_map,
        provider_name: reader
            .optional("oidc.provider_name")?
            .map(|name| name.trim().to_owned()),
    }))
}

/// The daily report: its calendar, its recipients (which need an SMTP server) and its link.
fn report(reader: &Reader<'_>) -> Result<ReportSettings, SettingsError> {
    let raw_time = reader.required("report.time")?;
    let time = chrono::NaiveTime::parse_from_str(raw_time.trim(), "%H:%M")
        .or_else(|_| chrono::NaiveTime::parse_from_str(raw_time.trim(), "%H:%M:%S"))
        .map_err(|_| {
            reader.invalid(
                "report.time",
                Some(&raw_time),
                "must be a time of day as HH:MM or HH:MM:SS",
            )
        })?;
    let raw_zone = reader.required("report.time_zone")?;
    let zone = mailing_domain::TimeZone::parse(raw_zone.trim())
        .map_err(|_| {
            reader.invalid(
                "report.time_zone",
                Some(&raw_zone),
                "must be an IANA time zone name",
            )
        })?
        .tz();
    let day = match reader.choice("report.day", &["previous", "current"])? {
        "current" => mailing_domain::report::ReportDay::Current,
        _ => mailing_domain::report::ReportDay::Previous,
    };
    let recipients = match reader.optional("report.recipients")? {
        None => Vec::new(),
        Some(raw) => {
            let addresses: Vec<String> = raw
                .split(',')
                .map(str::trim)
                .filter(|address| !address.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(bad) = addresses
                .iter()
                .find(|address| !looks_like_address(address))
            {
                return Err(reader.invalid(
                    "report.recipients",
                    Some(&raw),
                    &format!("names \"{bad}\", which is not an e-mail address"),
                ));
            }
            if reader.optional("smtp.url")?.is_none() && !addresses.is_empty() {
                return Err(reader.invalid(
                    "smtp.url",
                    None,
                    "must be set when MAILING_REPORT_RECIPIENTS is: the report goes out through it",
                ));
            }
            addresses
        }
    };
    let from = reader.required("report.from")?.trim().to_owned();
    let bare_from = from
        .rsplit_once('<')
        .map(|(_, rest)| rest.trim_end_matches('>'))
        .unwrap_or(&from);
    if !looks_like_address(bare_from) {
        return Err(reader.invalid(
            "report.from",
            Some(&from),
            "must be an e-mail address, optionally with a name before it in <>",
        ));
    }
    let admin_url = match reader.optional("report.admin_url")? {
        Some(raw) => match url::Url::parse(raw.trim()) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() =>
            {
                parsed
            }
            _ => {
                return Err(reader.invalid(
                    "report.admin_url",
                    Some(&raw),
                    "must be an http:// or https:// URL with a host",
                ));
            }
        },
        None => {
            let port = reader.listen_address("http.addr")?.port();
            url::Url::parse(&format!("http://localhost:{port}/admin"))
                .expect("a URL from a port is well formed")
        }
    };
    Ok(ReportSettings {
        calendar: mailing_domain::report::ReportCalendar { time, zone, day },
        recipients,
        from,
        admin_url,
    })
}

/// `local@domain`, with no spaces or angle brackets: what an SMTP server takes as an address.
fn looks_like_address(address: &str) -> bool {
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
        }
        None => false,
    }
}

/// The SMTP server, when its URL is set: smtp:// or smtps:// with a host, and a known `tls`.
fn smtp(reader: &Reader<'_>) -> Result<Option<SmtpSettings>, SettingsError> {
    const KEY: &str = "smtp.url";
    let timeout = reader.millis("smtp.timeout_ms", 1..=600_000)?;
    let Some(raw) = reader.secret(KEY)? else {
        return Ok(None);
    };
    // Never quote the value: it may carry a password.
    let parsed = url::Url::parse(raw.expose_secret().trim()).map_err(|error| {
        reader.invalid(
            KEY,
            None,
            &format!("is not a URL ({})", plain(&error.to_string())),
        )
    })?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host().is_none() {
        return Err(reader.invalid(KEY, None, "must be an smtp:// or smtps:// URL with a host"));
    }
    for (name, value) in parsed.query_pairs() {
        match (name.as_ref(), value.as_ref()) {
            ("tls", "starttls" | "tls" | "none") => {}
            ("tls", _) => {
                return Err(reader.invalid(
                    KEY,
                    None,
                    "has a tls that is not starttls, tls or none",
                ));
            }
            (other, _) => {
                return Err(reader.invalid(
                    KEY,
                    None,
                    &format!("has a parameter \"{other}\"; only tls is known"),
                ));
            }
        }
    }
    if parsed.password().is_some() && parsed.username().is_empty() {
        return Err(reader.invalid(KEY, None, "has a password but no user"));
    }
    Ok(Some(SmtpSettings {
        url: SecretString::from(raw.expose_secret().trim()),
        timeout,
    }))
}

/// Where the simulator posts its replies: an http(s) URL with a host, like the provider's.
fn reply_url(reader: &Reader<'_>) -> Result<Option<url::Url>, SettingsError> {
    const KEY: &str = "probe_sim.reply_url";
    let Some(url) = reader.optional(KEY)? else {
        return Ok(None);
    };
    match url::Url::parse(url.trim()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(Some(parsed))
        }
        Ok(_) => Err(reader.invalid(
            KEY,
            Some(&url),
            "must be an http:// or https:// URL with a host",
        )),
        Err(error) => Err(reader.invalid(KEY, Some(&url), &format!("is not a URL ({error})"))),
    }
}

/// The api refuses unsigned replies, so a reply URL without a secret could only fail.
fn reply_secret(reader: &Reader<'_>) -> Result<Option<SecretString>, SettingsError> {
    const KEY: &str = "probe_sim.reply_secret";
    let secret = reader.secret(KEY)?;
    if secret.is_none() && reader.optional("probe_sim.reply_url")?.is_some() {
        return Err(reader.invalid(
            KEY,
            None,
            "must be set when PROBE_SIM_REPLY_URL is: the replies are signed with it",
        ));
    }
    Ok(secret)
}

/// Replying to every N-th send needs somewhere to post the replies.
fn reply_every(reader: &Reader<'_>) -> Result<u64, SettingsError> {
    const KEY: &str = "probe_sim.reply_every";
    let every = reader.whole(KEY, 0..=1_000_000_000)?;
    if every > 0 && reader.optional("probe_sim.reply_url")?.is_none() {
        return Err(reader.invalid(
            KEY,
            Some(&every.to_string()),
            "needs PROBE_SIM_REPLY_URL: without it there is nowhere to post the replies",
        ));
    }
    Ok(every)
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
        import_max_bytes: reader.whole("api.import_max_bytes", 1024..=16 * 1024 * 1024 * 1024)?,
        password_login: reader.flag("api.password_login")?,
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
        auto_pause: AutoPause {
            enabled: reader.flag("sender.auto_pause")?,
            attempts: reader.whole("sender.auto_pause_attempts", 1..=AutoPause::MAX_ATTEMPTS)?,
            failure_share: failure_share(reader, "sender.auto_pause_failure_share")?,
        },
        frequency_cap: frequency_cap(reader)?,
    })
}

fn failure_share(reader: &Reader<'_>, key: &str) -> Result<FailureShare, SettingsError> {
    let share = reader.share(key)?;
    FailureShare::new(share)
        .map_err(|rule| reader.invalid(key, Some(&share.to_string()), &rule.to_string()))
}

/// The deployment's cap: none without a maximum.
fn frequency_cap(reader: &Reader<'_>) -> Result<Option<FrequencyCap>, SettingsError> {
    let Some(max) =
        reader.optional_whole("sender.frequency_cap_max", 1..=FrequencyCap::MAX_MESSAGES)?
    else {
        return Ok(None);
    };
    let hours = reader.whole("sender.frequency_cap_hours", 1..=FrequencyCap::MAX_HOURS)?;
    FrequencyCap::new(max, hours)
        .map(Some)
        .map_err(|(_, rule)| {
            reader.invalid(
                "sender.frequency_cap_hours",
                Some(&hours.to_string()),
                &rule.to_string(),
            )
        })
}

/// Addresses and CIDR blocks, comma-separated; an address alone is a block of one.
fn trusted_proxies(reader: &Reader<'_>) -> Result<Vec<ipnet::IpNet>, SettingsError> {
    const KEY: &str = "http.trusted_proxies";
    let Some(text) = reader.optional(KEY)? else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|block| block.trunc())
                .map_err(|_| {
                    reader.invalid(
                        KEY,
                        Some(&text),
                        &format!(
                            "names \"{entry}\", which is neither an IP address nor a CIDR block"
                        ),
                    )
                })
        })
        .collect()
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

/// A comma-separated list of keywords, each at most 100 characters; empty entries are skipped.
/// An empty list is allowed: it turns that kind of reply off.
fn keywords(reader: &Reader<'_>, key: &str) -> Result<Vec<String>, SettingsError> {
    let Some(text) = reader.optional(key)? else {
        return Ok(Vec::new());
    };
    let words: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(long) = words.iter().find(|word| word.chars().count() > 100) {
        return Err(reader.invalid(
            key,
            Some(&text),
            &format!("names \"{long}\", longer than 100 characters"),
        ));
    }
    Ok(words)
}

/// A library's error text as part of a sentence.
fn plain(text: &str) -> String {
    ["invalid bus configuration: ", "storage failure: "]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .unwrap_or(text)
        .to_owned()
}
