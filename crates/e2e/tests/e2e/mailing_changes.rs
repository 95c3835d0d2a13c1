//! Changes to a running mailing reach the pipeline: a cancel stops deliveries, an earlier end
//! expires the rest.

use crate::helpers::{describe_difference, mailing_to_all, message_ids, received_ids, rfc3339};
use chrono::{DateTime, Duration as Span, DurationRound, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded, population};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const CLIENTS: u64 = 1_000;
/// Probe requests in flight at once; with the slow probe about 40 deliveries a second.
const CONCURRENCY: u64 = 4;

fn slow_probe(name: &str, setup: Setup) -> ClusterOptions {
    ClusterOptions::new(name, setup)
        .sim("PROBE_SIM_LATENCY_MS", 100)
        .sender("MAILING_SENDER_CONCURRENCY", CONCURRENCY)
}

/// Starts a slow mailing to every client and waits for its first deliveries.
async fn running_mailing(cluster: &Cluster) -> i64 {
    cluster
        .insert_clients(population::generated(0, CLIENTS, "UTC"))
        .await;
    let now = Utc::now();
    let mailing_id = cluster
        .api()
        .create_mailing(&mailing_to_all(
            "Slowly going out",
            now,
            now + Span::minutes(10),
        ))
        .await;
    cluster
        .wait_until("the first deliveries", Duration::from_secs(30), || async {
            let ok = cluster.sim().stats().await.received_ok_total;
            if ok >= 40 {
                Ok(())
            } else {
                Err(format!("{ok} delivered"))
            }
        })
        .await;
    mailing_id
}

/// Waits until the probe's count has not moved, with nothing in flight, for two seconds, and
/// returns it.
async fn settled_probe_count(cluster: &Cluster) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut count = cluster.sim().stats().await.received_ok_total;
    let mut unchanged_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stats = cluster.sim().stats().await;
        if stats.received_ok_total != count || stats.in_flight > 0 {
            count = stats.received_ok_total;
            unchanged_since = Instant::now();
        } else if unchanged_since.elapsed() >= Duration::from_secs(2) {
            return count;
        }
        assert!(
            Instant::now() < deadline,
            "the probe's count kept growing for a minute; last {count}"
        );
    }
}

async fn cancelling_a_running_mailing_stops_its_deliveries(setup: Setup) {
    const NAME: &str = "cancel_running_mailing";
    let options = slow_probe(NAME, setup);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        let mailing_id = running_mailing(&cluster).await;

        let at_cancel = cluster.sim().stats().await.received_ok_total;
        let cancelled = cluster.api().cancel_mailing(mailing_id).await;
        assert_eq!(cancelled["status"], "cancelled");
        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(30))
            .await;
        let after = settled_probe_count(&cluster).await;
        println!("{NAME}: {at_cancel} delivered at the cancel, {after} in the end; {stats}");
        assert!(
            stats.count("cancelled") > 0,
            "the cancel must come mid-mailing; stats: {stats}"
        );
        // Each promise is checked and reported, so one run shows every one that broke.
        let mut broken = Vec::new();
        if after - at_cancel > CONCURRENCY {
            broken.push(format!(
                "after the cancel only the {CONCURRENCY} requests in flight may still reach \
                 the probe, but {} more did ({at_cancel} at the cancel, {after} in the end)",
                after - at_cancel
            ));
        }
        if stats.count("sent") + stats.count("cancelled") != CLIENTS {
            broken.push(format!("unsent messages must be cancelled; stats: {stats}"));
        }
        let sent = message_ids(&cluster, mailing_id, "sent").await;
        let received = received_ids(&cluster).await;
        if received != sent {
            broken.push(format!(
                "messages the probe accepted must be recorded sent: {}",
                describe_difference(&received, &sent)
            ));
        }
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    })
    .await;
}

scenario!(cancelling_a_running_mailing_stops_its_deliveries);

async fn an_earlier_end_expires_the_rest(setup: Setup) {
    const NAME: &str = "earlier_end";
    let options = slow_probe(NAME, setup);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        let mailing_id = running_mailing(&cluster).await;

        // Sooner than the sender can work through the job it holds; whole microseconds, as
        // the api stores them.
        let end = (Utc::now() + Span::seconds(1))
            .duration_trunc(Span::microseconds(1))
            .expect("whole microsecond");
        let patched = cluster
            .api()
            .patch(
                &format!("/api/v1/mailings/{mailing_id}"),
                &json!({ "end_at": rfc3339(end) }),
            )
            .await;
        let stored: Option<DateTime<Utc>> = patched["end_at"].as_str().and_then(|t| t.parse().ok());
        assert_eq!(
            stored,
            Some(end),
            "the api must take the new end: {patched}"
        );
        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(30))
            .await;
        settled_probe_count(&cluster).await;
        println!("{NAME}: {stats}");
        assert_eq!(
            stats.count("sent") + stats.count("expired"),
            CLIENTS,
            "messages not sent by the new end must expire; stats: {stats}"
        );
        assert!(
            stats.count("expired") > 0,
            "the new end came mid-mailing; stats: {stats}"
        );

        let received: BTreeSet<i64> = received_ids(&cluster).await;
        let deliveries = cluster.sim().delivered_many(received.iter().copied()).await;
        let late: Vec<_> = deliveries
            .iter()
            .filter(|d| d.last_at >= end)
            .map(|d| (d.id, d.last_at))
            .collect();
        assert!(
            late.is_empty(),
            "{} messages reached the probe at or after the new end {end}, e.g. {:?}",
            late.len(),
            &late[..late.len().min(5)]
        );
    })
    .await;
}

scenario!(an_earlier_end_expires_the_rest);
