//! What `mailing` prints once it runs: where everything is, without credentials; one log line
//! with the same facts when the logs are JSON.

use crate::Simulator;
use mailing_runtime::Settings;
use mailing_runtime::settings::{DEV_ADMIN_PASSWORD, LogFormat};
use secrecy::ExposeSecret as _;

pub(crate) fn print(settings: &Settings, api_port: Option<u16>, simulator: Option<&Simulator>) {
    if settings.log.format == LogFormat::Json {
        return log(settings, api_port, simulator);
    }
    println!("mailing is running");
    if let Some(port) = api_port {
        println!("  admin UI:        http://localhost:{port}/admin");
        println!("  API:             http://localhost:{port}/api/v1");
        println!("  Swagger UI:      http://localhost:{port}/api/v1/docs");
    }
    match (simulator, &settings.probe.url) {
        (Some(simulator), _) => {
            println!(
                "  probe simulator: http://localhost:{}/_sim/stats",
                simulator.port
            );
        }
        (None, Some(url)) => println!("  probe:           {}", redacted_url(url.expose_secret())),
        (None, None) => {}
    }
    if api_port.is_some() {
        let password = settings.api.admin_password.expose_secret();
        let password = if password == DEV_ADMIN_PASSWORD {
            "12345 (the dev profile's default; MAILING_ADMIN_PASSWORD changes it)"
        } else {
            "the password in MAILING_ADMIN_PASSWORD"
        };
        println!(
            "  admin account:   {} / {password}",
            settings.api.admin_username
        );
    }
    println!(
        "  data:            {}",
        data_location(settings.database.url.expose_secret())
    );
}

/// The same facts as one log line, for a collector that reads JSON lines: only the fields
/// that apply are present.
fn log(settings: &Settings, api_port: Option<u16>, simulator: Option<&Simulator>) {
    let url = |path: &str| api_port.map(|port| format!("http://localhost:{port}{path}"));
    let probe = match (simulator, &settings.probe.url) {
        (Some(simulator), _) => Some(format!("http://localhost:{}/_sim/stats", simulator.port)),
        (None, Some(url)) => Some(redacted_url(url.expose_secret())),
        (None, None) => None,
    };
    let admin_username = api_port.map(|_| settings.api.admin_username.as_str());
    let dev_password =
        api_port.map(|_| settings.api.admin_password.expose_secret() == DEV_ADMIN_PASSWORD);
    tracing::info!(
        admin_ui = url("/admin"),
        api = url("/api/v1"),
        swagger_ui = url("/api/v1/docs"),
        probe_simulator = simulator.is_some(),
        probe,
        admin_username,
        admin_password_is_dev_default = dev_password,
        data = %data_location(settings.database.url.expose_secret()),
        "mailing is running"
    );
}

/// A URL as it may be printed: no user, password, query or fragment.
fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "the provider in MAILING_PROBE_URL".to_owned(),
    }
}

/// Where the data lives, without credentials.
fn data_location(url: &str) -> String {
    match url.strip_prefix("sqlite://") {
        Some(path) => path.to_owned(),
        None => "the database in MAILING_DATABASE_URL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_provider_urls_carry_no_credentials() {
        assert_eq!(
            redacted_url("https://user:secret@probe.example.com/v1?token=abc#x"),
            "https://probe.example.com/v1"
        );
    }

    #[test]
    fn only_a_file_is_named() {
        assert_eq!(data_location("sqlite://data/mailing.db"), "data/mailing.db");
        assert_eq!(
            data_location("postgres://mailing:secret@db/mailing"),
            "the database in MAILING_DATABASE_URL"
        );
    }
}
