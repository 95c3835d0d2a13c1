//! Log output: readable lines in dev, JSON lines in production (panics included). `RUST_LOG`
//! overrides the level.

pub use crate::settings::LogFormat;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// The levels unless RUST_LOG says otherwise.
const DEFAULT_LEVELS: &str = "info,actix_server=warn,lapin=warn";

/// Installs the process's log subscriber; RUST_LOG overrides the default levels.
pub fn init(format: LogFormat) {
    init_with_levels(format, DEFAULT_LEVELS);
}

/// Like [`init`], with other default levels (`levels` in RUST_LOG's syntax).
pub fn init_with_levels(format: LogFormat, levels: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(levels));
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
    if format == LogFormat::Json {
        log_panics();
    }
}

/// Reports a panic as a log line instead of the standard library's plain text, so that a
/// collector reading JSON lines sees it as the error it is.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        let location = info.location().map_or_else(
            || "unknown".to_owned(),
            |location| {
                format!(
                    "{}:{}:{}",
                    location.file(),
                    location.line(),
                    location.column()
                )
            },
        );
        let thread = std::thread::current();
        tracing::error!(
            panic = %message,
            location = %location,
            thread = thread.name().unwrap_or("unnamed"),
            "panicked"
        );
    }));
}

/// Warns, once logging is up, about `MAILING_*` and `PROBE_SIM_*` variables that set nothing:
/// most often a mistyped name, whose value is then silently not in effect.
pub fn warn_about_unknown_variables(settings: &crate::Settings) {
    for variable in &settings.unknown_variables {
        tracing::warn!(%variable, "this variable is not a setting and has no effect");
    }
}
