//! A mailing whose start lies ahead begins by itself when the start comes, and not before.

use crate::helpers::{delivered_all, mailing_to_all};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded, population};
use std::time::Duration;

const NAME: &str = "future_start";
const CLIENTS: u64 = 300;

async fn a_future_start_begins_by_itself(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let start = Utc::now() + Span::seconds(3);
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Starts in three seconds",
                start,
                start + Span::minutes(10),
            ))
            .await;

        // Watch the probe until just before the start: nothing may arrive early.
        while Utc::now() < start - Span::milliseconds(200) {
            let early = cluster.sim().stats().await.received_ok_total;
            assert_eq!(
                early, 0,
                "{early} messages reached the probe before the start {start}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(30))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "every client must get the message after the start; stats: {stats}"
        );
        let ids = cluster
            .messages(mailing_id)
            .await
            .into_iter()
            .map(|m| m.id)
            .collect();
        for delivered in delivered_all(cluster.sim(), &ids).await {
            assert!(
                delivered.first_at >= start,
                "message {} reached the probe at {}, before the start {start}",
                delivered.id,
                delivered.first_at
            );
        }
    })
    .await;
}

scenario!(a_future_start_begins_by_itself);
