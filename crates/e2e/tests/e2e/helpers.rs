//! What several scenarios share: mailing bodies, time formatting and checks against the
//! simulator's record.

use chrono::{DateTime, SecondsFormat, Utc};
use mailing_e2e::sim::Delivered;
use mailing_e2e::{Cluster, SimClient};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A mailing to every client (`filter: {}`), running from `start` to `end`.
pub fn mailing_to_all(text: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    json!({
        "text": text,
        "start_at": rfc3339(start),
        "end_at": rfc3339(end),
        "filter": {},
    })
}

/// The simulator's record of every id in `ids`, which must all have been delivered.
pub async fn delivered_all(sim: &SimClient, ids: &BTreeSet<i64>) -> Vec<Delivered> {
    let delivered = sim.delivered_many(ids.iter().copied()).await;
    assert_eq!(
        delivered.len(),
        ids.len(),
        "the simulator has no record of {} of the {} messages expected delivered",
        ids.len() - delivered.len(),
        ids.len()
    );
    delivered
}

/// Ids the simulator answered OK.
pub async fn received_ids(cluster: &Cluster) -> BTreeSet<i64> {
    cluster.sim().received().await.into_keys().collect()
}

/// Ids of the mailing's messages in `status`.
pub async fn message_ids(cluster: &Cluster, mailing_id: i64, status: &str) -> BTreeSet<i64> {
    cluster
        .messages(mailing_id)
        .await
        .into_iter()
        .filter(|m| m.status == status)
        .map(|m| m.id)
        .collect()
}

/// A short description of a set difference, for assertion messages.
pub fn describe_difference(expected: &BTreeSet<i64>, actual: &BTreeSet<i64>) -> String {
    let missing: Vec<_> = expected.difference(actual).take(10).collect();
    let unexpected: Vec<_> = actual.difference(expected).take(10).collect();
    format!(
        "expected {} ids, got {}; missing {} (first {missing:?}), unexpected {} (first {unexpected:?})",
        expected.len(),
        actual.len(),
        expected.difference(actual).count(),
        actual.difference(expected).count()
    )
}

/// Waits until the probe has accepted at least `count` requests.
pub async fn delivered_at_least(cluster: &Cluster, count: u64) {
    cluster
        .wait_until(
            &format!("{count} deliveries"),
            Duration::from_secs(60),
            || async {
                let ok = cluster.sim().stats().await.received_ok_total;
                if ok >= count {
                    Ok(())
                } else {
                    Err(format!("{ok} delivered"))
                }
            },
        )
        .await;
}

/// How many of the mailing's messages the database records sent.
pub async fn sent_in_database(cluster: &Cluster, mailing_id: i64) -> u64 {
    let messages = cluster.messages(mailing_id).await;
    messages.iter().filter(|m| m.status == "sent").count() as u64
}

/// Waits until no request has reached the probe for `quiet` and none is in flight, and returns
/// how many reached it in all.
pub async fn requests_settle(cluster: &Cluster, quiet: Duration) -> u64 {
    let sim = cluster.sim();
    // The count last seen and since when it has not changed.
    let last = std::cell::Cell::new((u64::MAX, std::time::Instant::now()));
    let last = &last;
    cluster
        .wait_until(
            "requests to stop reaching the probe",
            Duration::from_secs(60),
            || async move {
                let stats = sim.stats().await;
                if stats.requests_total != last.get().0 || stats.in_flight > 0 {
                    last.set((stats.requests_total, std::time::Instant::now()));
                }
                if last.get().1.elapsed() >= quiet {
                    Ok(stats.requests_total)
                } else {
                    Err(format!(
                        "{} requests, {} in flight",
                        stats.requests_total, stats.in_flight
                    ))
                }
            },
        )
        .await
}

/// The value of a series on a metrics page, as rendered (`name` or `name{labels}`).
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
