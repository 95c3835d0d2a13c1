//! A probe that rejects the sender's token pauses sending without losing anything; once the
//! token is accepted again, everything goes out.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded, population};
use serde_json::json;
use std::time::{Duration, Instant};

const NAME: &str = "rejected_token";
const CLIENTS: u64 = 200;
const CONCURRENCY: u64 = 16;
/// The harness's `MAILING_SENDER_TOKEN_PAUSE_MS`.
const TOKEN_PAUSE_MS: u64 = 1_000;

async fn probe_token_state(cluster: &Cluster) -> String {
    cluster.health(Service::Sender).await["probe_token"]
        .as_str()
        .unwrap_or("missing")
        .to_owned()
}

async fn a_rejected_token_pauses_sending_and_loses_nothing(setup: Setup) {
    let options =
        ClusterOptions::new(NAME, setup).sender("MAILING_SENDER_CONCURRENCY", CONCURRENCY);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let sim = cluster.sim();
        sim.configure(&json!({ "jwt_secret": "a-secret-the-sender-does-not-know" }))
            .await;

        let now = Utc::now();
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Sent once the token is fixed",
                now,
                now + Span::minutes(10),
            ))
            .await;
        cluster
            .wait_until(
                "the sender to report the token rejected",
                Duration::from_secs(20),
                || async {
                    match probe_token_state(&cluster).await.as_str() {
                        "rejected" => Ok(()),
                        other => Err(format!("probe_token {other}")),
                    }
                },
            )
            .await;
        // The first wave (every request that was in flight) is refused; after it, one trial
        // per pause at most.
        let first_wave = cluster
            .wait_until(
                "the first wave to be answered",
                Duration::from_secs(10),
                || async {
                    let stats = sim.stats().await;
                    if stats.in_flight == 0 {
                        Ok(stats.outcome("unauthorized"))
                    } else {
                        Err(format!("{} in flight", stats.in_flight))
                    }
                },
            )
            .await;
        assert!(
            first_wave <= CONCURRENCY + 1,
            "only the {CONCURRENCY} requests in flight may meet the rejection before the sender \
             pauses, yet {first_wave} did"
        );
        let watch_started = Instant::now();
        let trials = cluster
            .wait_until(
                "three more token trials",
                Duration::from_secs(20),
                || async {
                    let trials = sim.stats().await.outcome("unauthorized") - first_wave;
                    if trials >= 3 {
                        Ok(trials)
                    } else {
                        Err(format!("{trials} trials"))
                    }
                },
            )
            .await;
        let pauses = watch_started.elapsed().as_millis() as u64 / TOKEN_PAUSE_MS;
        assert!(
            trials <= pauses + 2,
            "the sender must try the token about once per {TOKEN_PAUSE_MS} ms pause, yet it \
             made {trials} requests in {:?}",
            watch_started.elapsed()
        );
        let paused = cluster.api().mailing_stats(mailing_id).await;
        assert_eq!(
            (paused.total, paused.unsettled()),
            (CLIENTS, CLIENTS),
            "while the token is rejected every message must stay pending; stats: {paused}"
        );
        assert_eq!(probe_token_state(&cluster).await, "rejected");

        sim.configure(&json!({ "jwt_secret": cluster.probe_secret() }))
            .await;
        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(60))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "every message must go out once the token is accepted; stats: {stats}"
        );
        let sim_stats = sim.stats().await;
        assert_eq!(
            (sim_stats.unique_ids, sim_stats.duplicates),
            (CLIENTS, 0),
            "the probe must get each message once (unique ids, duplicates)"
        );
        cluster
            .wait_until(
                "the sender to report the token accepted",
                Duration::from_secs(10),
                || async {
                    match probe_token_state(&cluster).await.as_str() {
                        "accepted" => Ok(()),
                        other => Err(format!("probe_token {other}")),
                    }
                },
            )
            .await;
    })
    .await;
}

scenario!(a_rejected_token_pauses_sending_and_loses_nothing);
