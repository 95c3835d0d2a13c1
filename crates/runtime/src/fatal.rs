//! Stopping at start: a setting that cannot be used, or a failure nothing can recover from,
//! ends the process at once with one line on stderr, in the format of the logs (JSON in the
//! production profile), and a non-zero status. Nothing about it is retried: only an
//! unreachable database or broker is, by the services themselves.

use crate::settings::{LogFormat, Program, Settings, SettingsError};
use serde_json::json;

/// The exit status of a bad setting (`EX_CONFIG` of sysexits.h).
pub const BAD_SETTING_STATUS: i32 = 78;
/// The exit status of any other failure at start.
pub const FAILURE_STATUS: i32 = 1;

/// The settings of `program`, or, when one cannot be used, a line naming it and an exit with
/// [`BAD_SETTING_STATUS`].
pub fn settings_or_exit(program: Program) -> Settings {
    match Settings::load(program) {
        Ok(settings) => settings,
        Err(error) => {
            let format = format_before_settings(program, |name| std::env::var(name).ok());
            eprintln!("{}", bad_setting_line(program, format, &error));
            std::process::exit(BAD_SETTING_STATUS);
        }
    }
}

/// Ends the process after a failure at start, with the error and its causes on one line; a
/// setting found unusable after loading (by a check only the program can make) is reported as
/// any bad setting is.
pub fn exit_with(program: Program, format: LogFormat, error: &anyhow::Error) -> ! {
    if let Some(bad) = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<SettingsError>())
    {
        eprintln!("{}", bad_setting_line(program, format, bad));
        std::process::exit(BAD_SETTING_STATUS);
    }
    let message = format!("{error:#}");
    let line = match format {
        LogFormat::Text => format!("{}: cannot start: {message}", program.binary()),
        LogFormat::Json => json!({
            "timestamp": now(),
            "level": "ERROR",
            "target": program.binary(),
            "message": "cannot start",
            "error": message,
        })
        .to_string(),
    };
    eprintln!("{line}");
    std::process::exit(FAILURE_STATUS);
}

/// The line that reports a bad setting.
pub fn bad_setting_line(program: Program, format: LogFormat, error: &SettingsError) -> String {
    match format {
        LogFormat::Text => format!("{}: invalid setting {error}", program.binary()),
        LogFormat::Json => json!({
            "timestamp": now(),
            "level": "ERROR",
            "target": program.binary(),
            "message": format!("invalid setting {error}"),
            "setting": error.setting,
            "problem": error.problem,
            "example": error.example,
        })
        .to_string(),
    }
}

/// How the logs would be written, read from the raw variables since the settings could not
/// be: JSON when asked for, or in the production profile unless text is asked for.
pub fn format_before_settings(program: Program, var: impl Fn(&str) -> Option<String>) -> LogFormat {
    let asked = |name: &str| var(name).map(|value| value.trim().to_ascii_lowercase());
    let format_variable = match program {
        Program::ProbeSim => "PROBE_SIM_LOG_FORMAT",
        _ => "MAILING_LOG_FORMAT",
    };
    match asked(format_variable).as_deref() {
        Some("json") => LogFormat::Json,
        Some("text") => LogFormat::Text,
        _ if asked("MAILING_PROFILE").as_deref() == Some("production") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error() -> SettingsError {
        SettingsError {
            setting: "MAILING_SENDER_CONCURRENCY".to_owned(),
            problem: "\"lots\" is not a whole number from 1 to 100000".to_owned(),
            example: Some("MAILING_SENDER_CONCURRENCY=256".to_owned()),
        }
    }

    #[test]
    fn a_bad_setting_is_one_line_naming_it_with_an_example() {
        let line = bad_setting_line(Program::Sender, LogFormat::Text, &error());
        assert_eq!(
            line,
            "mailing-sender: invalid setting MAILING_SENDER_CONCURRENCY: \"lots\" is not a whole \
             number from 1 to 100000; for example MAILING_SENDER_CONCURRENCY=256"
        );
        let json: serde_json::Value = serde_json::from_str(&bad_setting_line(
            Program::Sender,
            LogFormat::Json,
            &error(),
        ))
        .expect("one JSON object");
        assert_eq!(json["level"], "ERROR");
        assert_eq!(json["setting"], "MAILING_SENDER_CONCURRENCY");
        assert_eq!(json["example"], "MAILING_SENDER_CONCURRENCY=256");
    }

    #[test]
    fn production_reports_in_json_unless_text_is_asked_for() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let production = vars(&[("MAILING_PROFILE", "production")]);
        assert_eq!(
            format_before_settings(Program::Api, production),
            LogFormat::Json
        );
        let text = vars(&[
            ("MAILING_PROFILE", "production"),
            ("MAILING_LOG_FORMAT", "text"),
        ]);
        assert_eq!(format_before_settings(Program::Api, text), LogFormat::Text);
        let mistyped = vars(&[("MAILING_PROFILE", "prod")]);
        assert_eq!(
            format_before_settings(Program::Api, mistyped),
            LogFormat::Text
        );
        let sim = vars(&[("PROBE_SIM_LOG_FORMAT", "json")]);
        assert_eq!(
            format_before_settings(Program::ProbeSim, sim),
            LogFormat::Json
        );
    }
}
