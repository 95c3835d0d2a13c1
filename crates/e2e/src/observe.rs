//! Reading what the services show operators: their Prometheus metrics and their JSON logs.

use serde_json::Value;
use std::path::Path;

/// The value of one series (`name{labels}` exactly as rendered) in a Prometheus text page;
/// absent counts as 0, as for a counter that never moved.
pub fn series(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| {
            value
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{series}: {value:?} is not a number: {e}"))
        })
}

/// Every record of a JSON log, parsed. The harness's start markers and what a binary prints
/// on stdout (the all-in-one banner) share the file and are skipped.
///
/// # Panics
/// If a record is not one JSON object on one line: collectors drop anything else.
pub fn json_lines(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", log.display()));
    text.lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => value,
            _ => panic!(
                "{}: a log line that is not a JSON object: {line}",
                log.display()
            ),
        })
        .collect()
}

/// Whether a log line carries `field` = `id`, on the event itself or on a span it belongs to
/// (a request's span carries the ids the request was about).
pub fn names(line: &Value, field: &str, id: i64) -> bool {
    let is_id = |value: &Value| value.get(field).and_then(Value::as_i64) == Some(id);
    is_id(line)
        || line.get("span").is_some_and(is_id)
        || line
            .get("spans")
            .and_then(Value::as_array)
            .is_some_and(|spans| spans.iter().any(is_id))
}

/// The crate a log line comes from (`mailing_api`, `mailing_sender`, ...), from its target.
pub fn component(line: &Value) -> &str {
    line.get("target")
        .and_then(Value::as_str)
        .and_then(|target| target.split("::").next())
        .unwrap_or("")
}
