//! A setting that cannot be used, said in one line an operator can act on: which variable (or
//! key of which file), what is wrong with it, and a valid example.

use std::fmt;

/// Why the settings cannot be used. Never holds the value of a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// Where the value came from: the variable, or the key and the file that set it.
    pub setting: String,
    /// What is wrong, in plain words; quotes the value unless it is secret.
    pub problem: String,
    /// A valid setting, written the way the bad one was given.
    pub example: Option<String>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)?;
        if let Some(example) = &self.example {
            write!(f, "; for example {example}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

impl SettingsError {
    /// An error about the setting at `key`, for a program checking what only it knows about a
    /// value the settings accepted.
    ///
    /// # Panics
    /// For a key that is no setting: a typo in the caller.
    pub fn invalid(key: &str, problem: impl Into<String>) -> SettingsError {
        let variable = super::variables::by_key(key);
        SettingsError {
            setting: variable.name.to_owned(),
            problem: problem.into(),
            example: Some(format!("{}={}", variable.name, variable.example)),
        }
    }
}
