//! A backlog that takes longer to send than the scheduler's claim lease must still reach each
//! client once: taking back claims is for senders that vanished, not for slow ones.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded, population};
use std::time::Duration;

const NAME: &str = "backlog_longer_than_lease";
const CLIENTS: u64 = 2_000;
/// The provider's allowed rate: the backlog needs about 10 s, twice the harness's 5 s lease.
const RATE: u64 = 200;

async fn a_backlog_longer_than_the_claim_lease_is_sent_once(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup).sender("MAILING_SENDER_RATE_LIMIT", RATE);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let now = Utc::now();
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Rate limited",
                now,
                now + Span::minutes(10),
            ))
            .await;
        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(60))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "every message must be sent; stats: {stats}"
        );
        let sim_stats = cluster.sim().stats().await;
        println!(
            "{NAME}: {} OK answers for {} ids, {} duplicates",
            sim_stats.received_ok_total, sim_stats.unique_ids, sim_stats.duplicates
        );
        assert_eq!(
            (sim_stats.unique_ids, sim_stats.duplicates),
            (CLIENTS, 0),
            "without any crash the probe must get each message once (unique ids, duplicates); \
             {} OK answers",
            sim_stats.received_ok_total
        );
    })
    .await;
}

scenario!(a_backlog_longer_than_the_claim_lease_is_sent_once);
