//! A probe that rejects the sender's token pauses sending without losing anything; once the
//! token is accepted again, everything goes out.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, bounded, population};
use serde_json::json;
use std::time::Duration;

const NAME: &str = "rejected_token";
const CLIENTS: u64 = 200;

async fn probe_token_state(cluster: &Cluster) -> String {
    cluster.health(Service::Sender).await["probe_token"]
        .as_str()
        .unwrap_or("missing")
        .to_owned()
}

#[tokio::test]
async fn a_rejected_token_pauses_sending_and_loses_nothing() {
    bounded(NAME, Duration::from_secs(120), async {
        let cluster = Cluster::start(ClusterOptions::new(NAME)).await;
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
        // Several pause-and-try cycles (1 s each) must pass without a message given up.
        cluster
            .wait_until(
                "several rejected attempts",
                Duration::from_secs(20),
                || async {
                    let rejected = sim.stats().await.outcome("unauthorized");
                    if rejected >= 4 {
                        Ok(())
                    } else {
                        Err(format!("{rejected} rejected"))
                    }
                },
            )
            .await;
        let paused = cluster.api().mailing_stats(mailing_id).await;
        assert_eq!(
            (paused.total, paused.unsettled()),
            (CLIENTS, CLIENTS),
            "while the token is rejected every message must stay pending; stats: {paused}"
        );
        let rejected = sim.stats().await.outcome("unauthorized");
        assert!(
            rejected < CLIENTS,
            "the sender must stop hammering a probe that rejects its token, \
             yet it made {rejected} rejected requests for {CLIENTS} messages"
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
