//! Merging the layers: the defaults (with `mailing`'s own over them), the settings file, the
//! environment; then the tree is read out of them and checked for what the program runs.

use super::values::{Origins, Reader};
use super::variables::{self, CONFIG_FILE, SIM_CONFIG_FILE, VARIABLES};
use super::*;
use config::{Config, ConfigBuilder, FileFormat, Value, ValueKind, builder::DefaultState};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Where `mailing`'s own defaults sit in `defaults.toml`.
const ALL_IN_ONE_DEFAULTS: &str = "all_in_one.defaults";

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
    let mut settings = super::read::read(&reader, program)?;
    settings.unknown_variables = unknown_variables(&vars);
    super::requirements::check(&reader, program, &settings)?;
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

/// Our variables that set nothing, named with the setting each probably meant; the tools'
/// own variables are not among them.
fn unknown_variables(vars: &HashMap<String, String>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .keys()
        .filter(|name| {
            variables::by_name(name).is_none()
                && *name != CONFIG_FILE
                && *name != SIM_CONFIG_FILE
                && !variables::TOOL_VARIABLES.contains(&name.as_str())
        })
        .map(|name| match variables::closest(name) {
            Some(meant) => format!("{name} (did you mean {}?)", meant.name),
            None => name.clone(),
        })
        .collect();
    unknown.sort();
    unknown
}
