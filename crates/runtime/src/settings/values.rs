//! Reading each key of the merged layers as the type it holds, with an error that names where
//! the value came from and gives a valid example.

use super::error::SettingsError;
use super::variables::{self, Variable};
use secrecy::SecretString;
use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Which layer set which keys, so an error can name the right one.
#[derive(Debug, Default)]
pub(super) struct Origins {
    /// Keys set by a (non-empty) environment variable.
    pub(super) from_environment: HashSet<&'static str>,
    /// The settings file and the keys it sets.
    pub(super) file: Option<(PathBuf, HashSet<String>)>,
}

/// The merged layers, read key by key.
pub(super) struct Reader<'a> {
    pub(super) merged: &'a config::Config,
    pub(super) origins: &'a Origins,
}

impl Reader<'_> {
    /// The value at `key` as text; `None` when no layer sets it, or a layer sets it empty.
    pub(super) fn optional(&self, key: &str) -> Result<Option<String>, SettingsError> {
        match self.merged.get_string(key) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => Ok(Some(value)),
            Err(config::ConfigError::NotFound(_)) => Ok(None),
            Err(_) => Err(self.invalid(key, None, "must be a single value, not a table or a list")),
        }
    }

    /// The value at `key`, which the defaults always set.
    pub(super) fn required(&self, key: &str) -> Result<String, SettingsError> {
        self.optional(key)?
            .ok_or_else(|| self.invalid(key, None, "must not be empty"))
    }

    /// A whole number within `range`.
    pub(super) fn whole<T>(&self, key: &str, range: RangeInclusive<T>) -> Result<T, SettingsError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let text = self.required(key)?;
        self.whole_of(key, &text, range)
    }

    /// Like [`Reader::whole`] for a key that may be unset.
    pub(super) fn optional_whole<T>(
        &self,
        key: &str,
        range: RangeInclusive<T>,
    ) -> Result<Option<T>, SettingsError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        self.optional(key)?
            .map(|text| self.whole_of(key, &text, range))
            .transpose()
    }

    fn whole_of<T>(
        &self,
        key: &str,
        text: &str,
        range: RangeInclusive<T>,
    ) -> Result<T, SettingsError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let bounds = format!("a whole number from {} to {}", range.start(), range.end());
        match text.trim().parse::<T>() {
            Ok(number) if range.contains(&number) => Ok(number),
            Ok(_) => Err(self.invalid(
                key,
                Some(text),
                &format!("is out of range: must be {bounds}"),
            )),
            Err(_) => Err(self.invalid(key, Some(text), &format!("is not {bounds}"))),
        }
    }

    /// A number of milliseconds within `range`.
    pub(super) fn millis(
        &self,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, SettingsError> {
        self.whole(key, range).map(Duration::from_millis)
    }

    /// A number of seconds within `range`.
    pub(super) fn seconds(
        &self,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, SettingsError> {
        self.whole(key, range).map(Duration::from_secs)
    }

    /// A share from 0 to 1.
    pub(super) fn share(&self, key: &str) -> Result<f64, SettingsError> {
        let text = self.required(key)?;
        match text.trim().parse::<f64>() {
            Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
            _ => Err(self.invalid(key, Some(&text), "is not a share from 0.0 to 1.0")),
        }
    }

    /// `true` or `false`.
    pub(super) fn flag(&self, key: &str) -> Result<bool, SettingsError> {
        let text = self.required(key)?;
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid(key, Some(&text), "must be true or false")),
        }
    }

    /// `true` or `false`, or `None` when unset.
    pub(super) fn optional_flag(&self, key: &str) -> Result<Option<bool>, SettingsError> {
        match self.optional(key)? {
            None => Ok(None),
            Some(_) => self.flag(key).map(Some),
        }
    }

    /// One of `choices`, as written there.
    pub(super) fn choice<'c>(
        &self,
        key: &str,
        choices: &[&'c str],
    ) -> Result<&'c str, SettingsError> {
        let text = self.required(key)?;
        self.choice_of(key, &text, choices)
    }

    /// Like [`Reader::choice`] for a key that may be unset.
    pub(super) fn optional_choice<'c>(
        &self,
        key: &str,
        choices: &[&'c str],
    ) -> Result<Option<&'c str>, SettingsError> {
        self.optional(key)?
            .map(|text| self.choice_of(key, &text, choices))
            .transpose()
    }

    fn choice_of<'c>(
        &self,
        key: &str,
        text: &str,
        choices: &[&'c str],
    ) -> Result<&'c str, SettingsError> {
        let wanted = text.trim().to_ascii_lowercase();
        choices
            .iter()
            .find(|choice| **choice == wanted)
            .copied()
            .ok_or_else(|| {
                self.invalid(
                    key,
                    Some(text),
                    &format!("must be one of {}", choices.join(", ")),
                )
            })
    }

    /// A `host:port` to listen on; a host name is resolved now.
    pub(super) fn listen_address(&self, key: &str) -> Result<SocketAddr, SettingsError> {
        let text = self.required(key)?;
        let problem = "is not an address with a port (host:port)";
        if let Ok(address) = text.trim().parse::<SocketAddr>() {
            return Ok(address);
        }
        let Some((host, port)) = text.trim().rsplit_once(':') else {
            return Err(self.invalid(key, Some(&text), problem));
        };
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(self.invalid(key, Some(&text), problem));
        }
        (host, port.parse::<u16>().unwrap_or_default())
            .to_socket_addrs()
            .ok()
            .and_then(|mut addresses| addresses.next())
            .ok_or_else(|| self.invalid(key, Some(&text), "names a host that does not resolve"))
    }

    /// A value that must not be shown.
    pub(super) fn secret(&self, key: &str) -> Result<Option<SecretString>, SettingsError> {
        Ok(self.optional(key)?.map(SecretString::from))
    }

    /// An error about the value at `key`; `value` is quoted unless the setting is secret.
    pub(super) fn invalid(&self, key: &str, value: Option<&str>, problem: &str) -> SettingsError {
        let variable = variables::by_key(key);
        let quoted = match value {
            Some(value) if !variable.secret => format!("\"{}\" {problem}", value.escape_debug()),
            _ => problem.to_owned(),
        };
        SettingsError {
            setting: self.origin_of(variable),
            problem: quoted,
            example: Some(self.example_of(variable)),
        }
    }

    /// The variable, or the key and file, that set `variable`'s value.
    fn origin_of(&self, variable: &Variable) -> String {
        match self.file_that_set(variable) {
            Some(path) => format!("{} in {}", variable.key, path.display()),
            None => variable.name.to_owned(),
        }
    }

    /// A valid setting, written as the bad one was.
    fn example_of(&self, variable: &Variable) -> String {
        match self.file_that_set(variable) {
            Some(_) => {
                let (section, name) = variable.key.rsplit_once('.').unwrap_or(("", variable.key));
                format!("{name} = \"{}\" under [{section}]", variable.example)
            }
            None => format!("{}={}", variable.name, variable.example),
        }
    }

    /// The settings file, when the value in force came from it (a variable wins over it).
    fn file_that_set(&self, variable: &Variable) -> Option<&std::path::Path> {
        if self.origins.from_environment.contains(variable.key) {
            return None;
        }
        let (path, keys) = self.origins.file.as_ref()?;
        keys.contains(variable.key).then_some(path.as_path())
    }
}
