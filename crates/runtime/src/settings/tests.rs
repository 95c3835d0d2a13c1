use super::*;
use secrecy::ExposeSecret as _;

fn load(program: Program, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::load_from(
        program,
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
}

fn error(program: Program, vars: &[(&str, &str)]) -> SettingsError {
    load(program, vars).expect_err("the settings are refused")
}

const PRODUCTION_API: &[(&str, &str)] = &[
    ("MAILING_PROFILE", "production"),
    ("MAILING_ADMIN_PASSWORD", "a-long-enough-password"),
    ("MAILING_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
];

#[test]
fn the_separate_services_default_to_postgresql_and_rabbitmq() {
    let settings = load(Program::Scheduler, &[]).unwrap();
    assert_eq!(settings.profile, Profile::Dev);
    assert!(
        settings
            .database
            .url
            .expose_secret()
            .starts_with("postgres://")
    );
    assert!(settings.bus.url.expose_secret().starts_with("amqp://"));
    assert_eq!(settings.database.max_connections, 10);
    assert_eq!(settings.http.addr.port(), 8000);
    assert_eq!(settings.scheduler.health_addr.port(), 8081);
    assert_eq!(settings.sender.health_addr.port(), 8082);
    assert_eq!(
        settings.api.admin_password.expose_secret(),
        DEV_ADMIN_PASSWORD
    );
    assert_eq!(settings.log.format, LogFormat::Text);
    assert_eq!(
        settings.sender.prefetch(),
        8,
        "256 slots need 6 jobs; 8 at least"
    );
}

#[test]
fn mailing_starts_from_its_own_defaults() {
    let settings = load(Program::AllInOne, &[]).unwrap();
    assert_eq!(
        settings.database.url.expose_secret(),
        "sqlite://data/mailing.db"
    );
    assert_eq!(settings.bus.url.expose_secret(), "memory://");
    assert_eq!(settings.scheduler.health_addr.port(), 0);
    assert!(settings.probe.url.is_none(), "the built-in simulator");
    assert_eq!(settings.probe_sim.addr.to_string(), "127.0.0.1:8090");
    assert_eq!(settings.all_in_one.components, Component::ALL);
    assert_eq!(
        settings.fixtures(),
        Fixtures::Load,
        "the built-in simulator"
    );
    // What it shares with the separate services stays the same.
    assert_eq!(settings.database.max_connections, 10);
}

#[test]
fn a_file_overrides_the_defaults_and_a_variable_the_file() {
    let dir = std::env::temp_dir().join(format!("mailing-settings-{:016x}", rand_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mailing.toml");
    std::fs::write(
        &file,
        "[sender]\nconcurrency = 64\nrate_limit = 100\n[database]\nmax_connections = 3\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let settings = load(
        Program::Sender,
        &[
            ("MAILING_CONFIG_FILE", path),
            ("MAILING_SENDER_CONCURRENCY", "32"),
        ],
    )
    .unwrap();
    assert_eq!(settings.sender.concurrency, 32, "the variable wins");
    assert_eq!(
        settings.sender.rate_limit, 100,
        "the file wins over the default"
    );
    assert_eq!(settings.database.max_connections, 3);

    std::fs::write(&file, "[sender]\nconcurency = 64\n").unwrap();
    let refused = error(Program::Sender, &[("MAILING_CONFIG_FILE", path)]);
    assert_eq!(refused.setting, format!("sender.concurency in {path}"));
    assert!(
        refused.problem.contains("did you mean sender.concurrency"),
        "{refused}"
    );

    std::fs::write(&file, "probe_token = \"a.jwt\"\n").unwrap();
    let refused = error(Program::Sender, &[("MAILING_CONFIG_FILE", path)]);
    assert!(
        refused.problem.contains("token = … under [probe]"),
        "a file of the older, flat form is told the new one: {refused}"
    );

    std::fs::write(&file, "[sender]\nconcurrency = 0\n").unwrap();
    let refused = error(Program::Sender, &[("MAILING_CONFIG_FILE", path)]);
    assert_eq!(refused.setting, format!("sender.concurrency in {path}"));
    assert_eq!(
        refused.example.as_deref(),
        Some("concurrency = \"256\" under [sender]")
    );

    std::fs::write(&file, "[sender\nconcurrency = 64\n").unwrap();
    let refused = error(Program::Sender, &[("MAILING_CONFIG_FILE", path)]);
    assert!(refused.problem.starts_with("not a TOML file"), "{refused}");
    std::fs::remove_dir_all(&dir).unwrap();

    let refused = error(
        Program::Sender,
        &[("MAILING_CONFIG_FILE", "/no/such/file.toml")],
    );
    assert_eq!(refused.setting, "MAILING_CONFIG_FILE=/no/such/file.toml");
    assert!(refused.problem.starts_with("cannot read"), "{refused}");
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[test]
fn empty_variables_count_as_unset() {
    let settings = load(
        Program::Api,
        &[
            ("MAILING_LOG_FORMAT", ""),
            ("MAILING_CONFIG_FILE", ""),
            ("MAILING_ADMIN_PASSWORD", " "),
            ("MAILING_SENDER_PREFETCH", ""),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.api.admin_password.expose_secret(),
        DEV_ADMIN_PASSWORD
    );
    assert_eq!(settings.sender.prefetch, None);
}

#[test]
fn every_malformed_value_names_its_variable_and_a_valid_example() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "MAILING_PROFILE",
            "staging",
            "must be one of dev, production",
        ),
        (
            "MAILING_DATABASE_URL",
            "mysql://db/mailing",
            "unsupported database URL scheme",
        ),
        (
            "MAILING_DATABASE_URL",
            "postgres://[oops",
            "not a well-formed database URL",
        ),
        ("MAILING_AMQP_URL", "memory://with space", "memory://<name>"),
        (
            "MAILING_AMQP_URL",
            "kafka://broker:9092",
            "unsupported bus URL",
        ),
        (
            "MAILING_PROBE_URL",
            "ftp://probe.example.com",
            "http:// or https://",
        ),
        ("MAILING_PROBE_URL", "probe.example.com", "is not a URL"),
        ("MAILING_DATABASE_MAX_CONNECTIONS", "0", "out of range"),
        (
            "MAILING_SENDER_CONCURRENCY",
            "lots",
            "is not a whole number",
        ),
        ("MAILING_SCHEDULER_JOB_SIZE", "0", "out of range"),
        ("MAILING_HTTP_ADDR", "8000", "host:port"),
        ("MAILING_SENDER_HEALTH_ADDR", "0.0.0.0:http", "host:port"),
        ("MAILING_SCHEDULER_TICK_MS", "5s", "is not a whole number"),
        ("MAILING_JWT_TTL_SECONDS", "-1", "is not a whole number"),
        ("MAILING_LOAD_FIXTURES", "yes", "must be true or false"),
        ("MAILING_COMPONENTS", "api,mailer", "\"mailer\""),
        ("MAILING_LOG_FORMAT", "xml", "must be one of text, json"),
        ("MAILING_AMQP_NAMESPACE", "no spaces", "namespace"),
        ("PROBE_SIM_HANG_SHARE", "1.5", "share from 0.0 to 1.0"),
        ("PROBE_SIM_OUTAGE_MODE", "sometimes", "unavailable, drop"),
        ("PROBE_SIM_WORKERS", "0", "out of range"),
        (
            "PROBE_SIM_REPLY_URL",
            "ftp://example.com/inbound",
            "http://",
        ),
        ("PROBE_SIM_REPLY_URL", "example.com/inbound", "is not a URL"),
        ("PROBE_SIM_REPLY_EVERY", "-1", "is not a whole number"),
        ("PROBE_SIM_REPLY_EVERY", "3", "needs PROBE_SIM_REPLY_URL"),
        ("MAILING_REPORT_TIME", "8am", "HH:MM"),
        ("MAILING_REPORT_TIME", "24:00", "HH:MM"),
        ("MAILING_REPORT_TIME_ZONE", "Mars/Olympus", "IANA"),
        ("MAILING_REPORT_DAY", "yesterday", "previous, current"),
        ("MAILING_REPORT_FROM", "nobody", "e-mail address"),
        (
            "MAILING_REPORT_ADMIN_URL",
            "mailing.example.com/admin",
            "http:// or https://",
        ),
        (
            "MAILING_SMTP_URL",
            "http://smtp.example.com",
            "smtp:// or smtps://",
        ),
        (
            "MAILING_SMTP_URL",
            "smtp://smtp.example.com?tls=maybe",
            "starttls, tls or none",
        ),
        ("MAILING_SMTP_TIMEOUT_MS", "0", "out of range"),
    ];
    for (name, value, problem) in cases {
        let refused = error(Program::AllInOne, &[(name, value)]);
        assert_eq!(refused.setting, *name, "{refused}");
        assert!(
            refused.problem.contains(problem),
            "{name}={value}: {refused}"
        );
        let example = refused.example.as_deref().unwrap_or_default();
        assert!(example.starts_with(&format!("{name}=")), "{refused}");
        let line = refused.to_string();
        assert!(!line.contains('\n'), "one line: {line}");
        assert!(!line.contains("failure:"), "plain words: {line}");
        // A valid example is valid.
        let valid = example.split_once('=').map(|(_, v)| v).unwrap_or_default();
        if !valid.contains(' ') {
            let mut vars = vec![
                (*name, valid),
                ("MAILING_PROBE_URL", "http://127.0.0.1:8090"),
            ];
            if *name == "MAILING_PROFILE" {
                vars.extend(PRODUCTION_API);
                vars.push(("MAILING_PROBE_TOKEN", "a.token.value"));
            }
            if name.starts_with("PROBE_SIM_REPLY_") {
                // A reply URL needs its secret, and replying to every N-th send needs both.
                vars.extend([
                    (
                        "PROBE_SIM_REPLY_URL",
                        "http://127.0.0.1:8000/api/v1/inbound",
                    ),
                    ("PROBE_SIM_REPLY_SECRET", "shared"),
                ]);
            }
            let loaded = load(Program::AllInOne, &vars);
            assert!(
                loaded.is_ok(),
                "the example {example} is refused: {loaded:?}"
            );
        }
    }
}

#[test]
fn the_retry_cap_may_not_be_below_its_base() {
    let refused = error(
        Program::Sender,
        &[
            ("MAILING_SENDER_RETRY_BASE_MS", "5000"),
            ("MAILING_SENDER_RETRY_CAP_MS", "1000"),
        ],
    );
    assert_eq!(refused.setting, "MAILING_SENDER_RETRY_CAP_MS");
    assert!(
        refused.problem.contains("below the retry base"),
        "{refused}"
    );
}

#[test]
fn the_in_process_bus_is_for_mailing_only() {
    for url in ["memory://", "memory://mailing"] {
        let settings = load(Program::AllInOne, &[("MAILING_AMQP_URL", url)]).unwrap();
        assert_eq!(settings.bus.url.expose_secret(), url);
        for program in [Program::Api, Program::Scheduler, Program::Sender] {
            let refused = error(program, &[("MAILING_AMQP_URL", url)]);
            assert_eq!(refused.setting, "MAILING_AMQP_URL");
            assert!(refused.problem.contains(program.binary()), "{refused}");
        }
    }
}

#[test]
fn production_requires_the_secrets_of_what_runs() {
    let mut vars = PRODUCTION_API.to_vec();
    let settings = load(Program::Api, &vars).unwrap();
    assert_eq!(settings.log.format, LogFormat::Json);
    assert_eq!(
        load(Program::Scheduler, &[("MAILING_PROFILE", "production")])
            .map(drop)
            .err(),
        None
    );

    let refused = error(Program::Api, &[("MAILING_PROFILE", "production")]);
    assert_eq!(refused.setting, "MAILING_ADMIN_PASSWORD");
    let refused = error(
        Program::Api,
        &[
            ("MAILING_PROFILE", "production"),
            ("MAILING_ADMIN_PASSWORD", "12345"),
        ],
    );
    assert_eq!(refused.setting, "MAILING_ADMIN_PASSWORD");
    let refused = error(
        Program::Api,
        &[
            ("MAILING_PROFILE", "production"),
            ("MAILING_ADMIN_PASSWORD", "a-long-enough-password"),
        ],
    );
    assert_eq!(refused.setting, "MAILING_JWT_SECRET");
    let refused = error(Program::Api, &[("MAILING_JWT_SECRET", "short")]);
    assert_eq!(refused.setting, "MAILING_JWT_SECRET");

    let refused = error(Program::Sender, &[("MAILING_PROFILE", "production")]);
    assert_eq!(refused.setting, "MAILING_PROBE_TOKEN");
    vars.push(("MAILING_PROBE_TOKEN", "a.token.value"));
    load(Program::AllInOne, &vars).expect("the built-in simulator needs no token");
    vars.push(("MAILING_COMPONENTS", "api,scheduler,sender"));
    let refused = error(Program::AllInOne, &vars);
    assert_eq!(refused.setting, "MAILING_PROBE_URL");
}

#[test]
fn the_components_of_mailing_are_read_in_a_fixed_order() {
    let settings = load(
        Program::AllInOne,
        &[
            ("MAILING_COMPONENTS", " sender, api ,api"),
            ("MAILING_PROBE_URL", "https://probe.example.com"),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.all_in_one.components,
        [Component::Api, Component::Sender]
    );
    assert!(settings.runs(Program::AllInOne, Component::Sender));
    assert!(!settings.runs(Program::AllInOne, Component::Scheduler));
    assert!(settings.runs(Program::Scheduler, Component::Scheduler));
}

#[test]
fn secrets_never_print() {
    let settings = load(
        Program::AllInOne,
        &[
            ("MAILING_ADMIN_PASSWORD", "hunter2-secret"),
            (
                "MAILING_DATABASE_URL",
                "postgres://mailing:hunter2-secret@db/mailing",
            ),
            ("MAILING_PROBE_TOKEN", "hunter2-secret"),
            (
                "PROBE_SIM_REPLY_URL",
                "http://127.0.0.1:8000/api/v1/inbound",
            ),
            ("PROBE_SIM_REPLY_SECRET", "hunter2-secret"),
        ],
    )
    .unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
    let refused = error(
        Program::AllInOne,
        &[(
            "MAILING_DATABASE_URL",
            "mysql://mailing:hunter2-secret@db/mailing",
        )],
    );
    assert!(!refused.to_string().contains("hunter2"), "{refused}");
    let refused = error(Program::Api, &[("MAILING_JWT_SECRET", "hunter2")]);
    assert!(!refused.to_string().contains("hunter2"), "{refused}");
}

#[test]
fn the_report_email_needs_addresses_and_a_server_and_keeps_its_password() {
    let refused = error(
        Program::Scheduler,
        &[("MAILING_REPORT_RECIPIENTS", "ops@example.com")],
    );
    assert_eq!(refused.setting, "MAILING_SMTP_URL", "{refused}");
    assert!(
        refused.problem.contains("MAILING_REPORT_RECIPIENTS"),
        "{refused}"
    );
    let refused = error(
        Program::Scheduler,
        &[
            ("MAILING_REPORT_RECIPIENTS", "ops@example.com, lead"),
            ("MAILING_SMTP_URL", "smtp://127.0.0.1:2525?tls=none"),
        ],
    );
    assert_eq!(refused.setting, "MAILING_REPORT_RECIPIENTS", "{refused}");
    assert!(refused.problem.contains("\"lead\""), "{refused}");

    let url = "smtp://reports%40example.com:hunter2-secret@smtp.example.com:587?tls=starttls";
    let settings = load(
        Program::Scheduler,
        &[
            (
                "MAILING_REPORT_RECIPIENTS",
                " ops@example.com,lead@example.com ",
            ),
            ("MAILING_SMTP_URL", url),
            ("MAILING_REPORT_TIME", "07:30"),
            ("MAILING_REPORT_TIME_ZONE", "Europe/Moscow"),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.report.recipients,
        ["ops@example.com", "lead@example.com"]
    );
    assert_eq!(settings.report.calendar.time.to_string(), "07:30:00");
    assert_eq!(settings.report.calendar.zone.name(), "Europe/Moscow");
    assert_eq!(
        settings.report.admin_url.as_str(),
        "http://localhost:8000/admin",
        "the api's port when unset"
    );
    assert_eq!(settings.smtp.as_ref().unwrap().url.expose_secret(), url);
    assert!(!format!("{settings:?}").contains("hunter2"));
    let refused = error(
        Program::Scheduler,
        &[(
            "MAILING_SMTP_URL",
            "smtp://reports:hunter2-secret@smtp.example.com?tls=maybe",
        )],
    );
    assert!(!refused.to_string().contains("hunter2"), "{refused}");
}

#[test]
fn the_simulator_replies_only_with_a_url_and_a_secret() {
    let settings = load(
        Program::ProbeSim,
        &[
            (
                "PROBE_SIM_REPLY_URL",
                "http://127.0.0.1:8000/api/v1/inbound",
            ),
            ("PROBE_SIM_REPLY_SECRET", "shared"),
            ("PROBE_SIM_REPLY_TEXT", "СТОП"),
            ("PROBE_SIM_REPLY_EVERY", "5"),
        ],
    )
    .unwrap();
    let section = &settings.probe_sim;
    assert_eq!(
        section.reply_url.as_ref().map(url::Url::as_str),
        Some("http://127.0.0.1:8000/api/v1/inbound")
    );
    assert_eq!(
        section.reply_secret.as_ref().map(|s| s.expose_secret()),
        Some("shared")
    );
    assert_eq!(
        (section.reply_text.as_str(), section.reply_every),
        ("СТОП", 5)
    );
    let unset = load(Program::ProbeSim, &[]).unwrap().probe_sim;
    assert!(unset.reply_url.is_none() && unset.reply_secret.is_none());
    assert_eq!((unset.reply_text.as_str(), unset.reply_every), ("STOP", 0));
    let refused = error(
        Program::ProbeSim,
        &[(
            "PROBE_SIM_REPLY_URL",
            "http://127.0.0.1:8000/api/v1/inbound",
        )],
    );
    assert_eq!(refused.setting, "PROBE_SIM_REPLY_SECRET", "{refused}");
}

#[test]
fn unknown_variables_are_reported_with_what_they_probably_meant() {
    let settings = load(
        Program::Sender,
        &[
            ("MAILING_SENDER_CONCURENCY", "64"),
            ("MAILING_HOME", "/srv/mailing"),
            // The tests' own, which a developer's .env may hold.
            ("MAILING_BIN", "/usr/bin/mailing"),
            (
                "MAILING_TEST_DATABASE_URL",
                "postgres://postgres@db/postgres",
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.unknown_variables,
        [
            "MAILING_HOME",
            "MAILING_SENDER_CONCURENCY (did you mean MAILING_SENDER_CONCURRENCY?)"
        ]
    );
}

const ENV_TEMPLATE: &str = include_str!("../../../../.env.template");

/// The assignments of `.env.template`: `(name, value, commented out)`, in order.
fn template_assignments() -> Vec<(&'static str, &'static str, bool)> {
    ENV_TEMPLATE
        .lines()
        .filter_map(|line| {
            let (line, commented) = match line.strip_prefix('#') {
                Some(rest) => (rest.trim_start(), true),
                None => (line.trim(), false),
            };
            let (name, value) = line.split_once('=')?;
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_name.then_some((name, value, commented))
        })
        .collect()
}

/// Every variable is documented beside its key in the defaults, every key there has a
/// variable, and `.env.template` lists exactly the variables, the settings files' and the
/// tools' own.
#[test]
fn defaults_variables_and_the_template_agree() {
    for variable in variables::VARIABLES {
        assert!(
            DEFAULTS_TOML.contains(variable.name),
            "{} is not named in defaults.toml",
            variable.name
        );
        let (section, name) = variable.key.rsplit_once('.').unwrap_or(("", variable.key));
        let in_section = if section.is_empty() {
            DEFAULTS_TOML.split("\n[").next().unwrap_or_default()
        } else {
            DEFAULTS_TOML
                .split(&format!("\n[{section}]\n"))
                .nth(1)
                .and_then(|rest| rest.split("\n[").next())
                .unwrap_or_else(|| panic!("no [{section}] in defaults.toml"))
        };
        let set = in_section.lines().any(|line| {
            let line = line.trim_start_matches("# ");
            line.starts_with(&format!("{name} = "))
        });
        assert!(
            set,
            "{} has no line in [{section}] of defaults.toml",
            variable.key
        );
    }
    let listed: Vec<&str> = template_assignments()
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let ours = variables::VARIABLES
        .iter()
        .map(|variable| variable.name)
        .chain([variables::CONFIG_FILE, variables::SIM_CONFIG_FILE])
        .chain(variables::TOOL_VARIABLES.iter().copied());
    for name in ours {
        assert!(
            listed.contains(&name),
            "{name} is missing from .env.template"
        );
    }
    for name in listed {
        if name.starts_with("MAILING_") || name.starts_with("PROBE_SIM_") {
            assert!(
                variables::by_name(name).is_some()
                    || [variables::CONFIG_FILE, variables::SIM_CONFIG_FILE].contains(&name)
                    || variables::TOOL_VARIABLES.contains(&name),
                "{name} in .env.template is not a setting nor a tool's variable"
            );
        }
    }
}

/// `make` reads `.env` and exports all of it, over the variables of the shell: a copy of the
/// template must set nothing, and a line uncommented as shown must change no program's
/// settings (`make run`'s `mailing` above all), so every value shown is the default.
#[test]
fn a_copy_of_the_template_changes_nothing() {
    let assignments = template_assignments();
    for (name, value, commented) in &assignments {
        assert!(
            commented,
            "{name}={value} is set in .env.template: every line must be commented out"
        );
    }
    for program in [
        Program::AllInOne,
        Program::Api,
        Program::Scheduler,
        Program::Sender,
        Program::ProbeSim,
    ] {
        let unset = format!("{:?}", load(program, &[]).unwrap());
        for (name, value, _) in &assignments {
            if !name.starts_with("MAILING_") && !name.starts_with("PROBE_SIM_") {
                continue;
            }
            // A secret never shows in the settings' Debug form, so only empty is safe.
            if variables::by_name(name).is_some_and(|variable| variable.secret) {
                assert_eq!(*value, "", "{name} in .env.template shows a value");
            }
            let set = load(program, &[(name, value)])
                .unwrap_or_else(|error| panic!("{name}={value} is refused: {error}"));
            assert_eq!(
                format!("{set:?}"),
                unset,
                "{name}={value} in .env.template is not what {} uses when it is unset",
                program.binary()
            );
        }
    }
}

#[test]
fn the_documentation_shows_the_defaults_as_compiled() {
    let documented = include_str!("../../../../docs/configuration.md");
    assert!(
        documented.contains(DEFAULTS_TOML),
        "docs/configuration.md must hold crates/runtime/src/settings/defaults.toml verbatim"
    );
}

#[test]
fn the_prefetch_follows_the_concurrency_unless_set() {
    let prefetch = |vars: &[(&str, &str)]| load(Program::Sender, vars).unwrap().sender.prefetch();
    assert_eq!(prefetch(&[]), 8, "256 slots need 6 jobs; 8 at least");
    assert_eq!(
        prefetch(&[("MAILING_SENDER_CONCURRENCY", "2000")]),
        40,
        "2 x 2000 slots / 100 ids per job"
    );
    assert_eq!(
        prefetch(&[
            ("MAILING_SENDER_CONCURRENCY", "2000"),
            ("MAILING_SENDER_PREFETCH", "3")
        ]),
        3
    );
}

#[test]
fn fixtures_load_only_towards_a_simulator_in_dev_unless_asked_for() {
    let fixtures = |program, vars: &[(&str, &str)]| load(program, vars).unwrap().fixtures();
    let local = ("MAILING_PROBE_URL", "http://127.0.0.1:8090");
    assert_eq!(fixtures(Program::Api, &[local]), Fixtures::Load);
    assert_eq!(
        fixtures(
            Program::Api,
            &[("MAILING_PROBE_URL", "http://localhost:9000")]
        ),
        Fixtures::Load
    );
    let real = ("MAILING_PROBE_URL", "https://probe.example.com");
    for program in [Program::Api, Program::AllInOne] {
        assert!(
            matches!(fixtures(program, &[real]), Fixtures::Skip(reason) if reason.contains("MAILING_PROBE_URL"))
        );
        assert_eq!(
            fixtures(program, &[real, ("MAILING_LOAD_FIXTURES", "true")]),
            Fixtures::Load
        );
    }
    let production = [
        ("MAILING_PROFILE", "production"),
        ("MAILING_ADMIN_PASSWORD", "a-long-passphrase-of-our-own"),
        ("MAILING_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("MAILING_PROBE_TOKEN", "token"),
    ];
    assert!(matches!(
        fixtures(Program::AllInOne, &production),
        Fixtures::Skip(reason) if reason.contains("production")
    ));
    let asked = [production.as_slice(), &[("MAILING_LOAD_FIXTURES", "true")]].concat();
    assert_eq!(fixtures(Program::AllInOne, &asked), Fixtures::Load);
    let refused = [("MAILING_LOAD_FIXTURES", "false")];
    assert!(matches!(
        fixtures(Program::AllInOne, &refused),
        Fixtures::Skip(_)
    ));
    let typo = error(Program::AllInOne, &[("MAILING_LOAD_FIXTURES", "yes")]);
    assert_eq!(typo.setting, "MAILING_LOAD_FIXTURES");
}

#[test]
fn trusted_proxies_are_addresses_or_blocks() {
    let proxies = |value: &str| {
        load(Program::Api, &[("MAILING_TRUSTED_PROXIES", value)])
            .unwrap()
            .http
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert!(proxies("").is_empty());
    assert_eq!(
        proxies(" 10.1.2.3/8, 192.168.1.7 ,::1"),
        ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    );
    let bad = error(
        Program::Api,
        &[("MAILING_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")],
    );
    assert_eq!(bad.setting, "MAILING_TRUSTED_PROXIES");
    assert!(bad.problem.contains("\"proxy.local\""), "{}", bad.problem);
}

#[test]
fn database_tasks_need_no_api_secret_in_production() {
    let production = [("MAILING_PROFILE", "production")];
    assert_eq!(
        error(Program::Api, &production).setting,
        "MAILING_ADMIN_PASSWORD"
    );
    let task = load(Program::DatabaseTask, &production).expect("a migration needs no secret");
    assert!(
        !Component::ALL
            .iter()
            .any(|c| task.runs(Program::DatabaseTask, *c))
    );
}
