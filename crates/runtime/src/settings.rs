//! Layered settings: built-in defaults, then an optional TOML file named by
//! `MAILING_CONFIG_FILE`, then `MAILING_*` environment variables (an empty variable counts as
//! unset, as `.env.template` leaves them).

pub use config::ConfigError;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// Reads settings of type `T` from `defaults` and `vars` (the environment, or a test's own).
pub fn load<T: DeserializeOwned>(
    defaults: &[(&str, &str)],
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, config::ConfigError> {
    let vars: HashMap<String, String> = vars
        .into_iter()
        .filter(|(key, value)| key.starts_with("MAILING_") && !value.is_empty())
        .collect();
    let mut builder = config::Config::builder();
    for (key, value) in defaults {
        builder = builder.set_default(*key, *value)?;
    }
    if let Some(file) = vars.get("MAILING_CONFIG_FILE") {
        builder = builder.add_source(config::File::new(file, config::FileFormat::Toml));
    }
    builder
        .add_source(
            config::Environment::with_prefix("MAILING")
                .try_parsing(true)
                .source(Some(vars.into_iter().collect())),
        )
        .build()?
        .try_deserialize()
}
