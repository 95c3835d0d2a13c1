//! A valid example for each field a request may carry, shown in error messages so that a
//! refused value is always answered with one that would be accepted.

use chrono::{DateTime, Duration, Timelike, Utc};
use std::cell::Cell;

thread_local! {
    /// The instant examples are written as of while the OpenAPI document is built.
    static WRITTEN_AT: Cell<Option<DateTime<Utc>>> = const { Cell::new(None) };
}

/// The instant examples are written as of: now, so that an example in an error message is
/// valid when it is read, or a fixed instant while [`written_at`] builds something.
pub fn now() -> DateTime<Utc> {
    WRITTEN_AT.with(Cell::get).unwrap_or_else(Utc::now)
}

/// Runs `build` with examples written as of `at`: the OpenAPI document, whose error examples
/// quote them, is then the same whatever day it is built.
pub fn written_at<T>(at: DateTime<Utc>, build: impl FnOnce() -> T) -> T {
    let before = WRITTEN_AT.with(|cell| cell.replace(Some(at)));
    let built = build();
    WRITTEN_AT.with(|cell| cell.set(before));
    built
}

/// `; for example <value>` for the field at `path` (`filter.tags[2]`, `start_at`), or nothing
/// when the field has no example.
pub fn suffix(path: &str) -> String {
    example(path).map_or_else(String::new, |example| format!("; for example {example}"))
}

/// A valid value for the field at `path`, as JSON would write it. An entry of a list
/// (`tags[2]`) gets an entry, not a list.
pub fn example(path: &str) -> Option<String> {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    let (name, entry) = match leaf.split_once('[') {
        Some((name, _)) => (name, true),
        None => (leaf, false),
    };
    let value = match (name, entry) {
        ("phone_number" | "from", _) => "\"79001234567\"".to_owned(),
        ("reason", _) => "\"asked not to be texted\"".to_owned(),
        ("operator_code" | "code", _) | ("operator_codes", true) => "\"mts\"".to_owned(),
        ("operator_codes", false) => "[\"mts\", \"beeline\"]".to_owned(),
        ("tags", true) | ("tag" | "value", _) => "\"vip\"".to_owned(),
        ("tags", false) => "[\"vip\", \"moscow\"]".to_owned(),
        ("time_zone", _) => "\"Europe/Moscow\"".to_owned(),
        ("text", _) => "\"Hello! Our shop opens at 9.\"".to_owned(),
        ("start_at", _) => format!("\"{}\"", tomorrow_at(9)),
        ("end_at", _) => format!("\"{}\"", tomorrow_at(18)),
        ("local_time", _) => "true".to_owned(),
        ("send_window", _) => "{\"start\": \"09:00\", \"end\": \"21:00\"}".to_owned(),
        ("start", _) => "\"09:00\"".to_owned(),
        ("end", _) => "\"21:00\"".to_owned(),
        ("filter", _) => "{\"operator_codes\": [\"mts\"], \"tags\": [\"vip\"]}".to_owned(),
        ("client_filter_id" | "mailing_id" | "client_id" | "id", _) => "42".to_owned(),
        ("name", _) => "\"VIP clients in Moscow\"".to_owned(),
        ("page", _) => "2".to_owned(),
        ("page_size", _) => "50".to_owned(),
        ("status", _) => "\"sent\"".to_owned(),
        ("phone_prefix", _) => "\"7900\"".to_owned(),
        ("attributes", _) => "{\"city\": \"Kazan\", \"vip\": true}".to_owned(),
        ("cursor", _) => "\"c1.3e8\"".to_owned(),
        ("username", _) => "\"ann.smith\"".to_owned(),
        ("role", _) => "\"manager\"".to_owned(),
        ("password" | "new_password", _) => "\"a long passphrase\"".to_owned(),
        ("disabled", _) => "true".to_owned(),
        ("expires_at" | "since" | "until", _) => format!("\"{}\"", tomorrow_at(9)),
        ("actor", _) => "\"ann.smith\"".to_owned(),
        ("resource", _) => "\"mailings\"".to_owned(),
        ("resource_id", _) => "\"42\"".to_owned(),
        ("date", _) => format!("\"{}\"", (now() - Duration::days(1)).format("%Y-%m-%d")),
        _ => return None,
    };
    Some(value)
}

/// An RFC 3339 time tomorrow at `hour`:00 UTC: always in the future, readable.
pub fn tomorrow_at(hour: u32) -> String {
    let tomorrow = now() + Duration::days(1);
    let at = tomorrow
        .with_hour(hour)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(tomorrow);
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_written_at_a_fixed_instant_are_the_same_every_day() {
        let at = "2026-12-01T08:30:00Z".parse().unwrap();
        let start = written_at(at, || example("start_at"));
        assert_eq!(start.as_deref(), Some("\"2026-12-02T09:00:00Z\""));
        assert_eq!(
            written_at(at, || example("date")).as_deref(),
            Some("\"2026-11-30\"")
        );
        assert_ne!(example("start_at"), start, "and from now again afterwards");
    }

    #[test]
    fn entries_of_lists_get_an_entry() {
        assert_eq!(example("filter.tags[2]").as_deref(), Some("\"vip\""));
        assert_eq!(example("tags").as_deref(), Some("[\"vip\", \"moscow\"]"));
        assert_eq!(example("send_window.start").as_deref(), Some("\"09:00\""));
        assert_eq!(example("no_such_field"), None);
        assert!(suffix("start_at").starts_with("; for example \""));
    }
}
