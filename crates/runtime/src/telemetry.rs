//! Log output: readable lines in dev, JSON lines in production. `RUST_LOG` overrides the level.

use serde::Deserialize;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The format asked for, or the profile's: JSON in production, text otherwise.
    pub fn or_profile_default(chosen: Option<LogFormat>, profile: &str) -> LogFormat {
        chosen.unwrap_or(if profile == "production" {
            LogFormat::Json
        } else {
            LogFormat::Text
        })
    }
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn,lapin=warn"));
    // Colour only for a person at a terminal: escape codes make log files and collectors
    // unreadable. NO_COLOR (https://no-color.org) turns it off there too.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    // A second init (tests start several services in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
