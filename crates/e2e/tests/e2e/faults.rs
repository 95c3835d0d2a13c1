//! A misbehaving probe (errors, malformed replies, hangs, an outage) delays messages but loses
//! none, and duplicates none.

use crate::helpers::{delivered_all, mailing_to_all};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded, population};
use std::collections::BTreeSet;
use std::time::Duration;

const NAME: &str = "probe_faults";
const CLIENTS: u64 = 1_000;
const OUTAGE_SECONDS: f64 = 30.0;

async fn every_message_survives_a_faulty_probe(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup)
        .sim("PROBE_SIM_ERROR_500_SHARE", 0.2)
        .sim("PROBE_SIM_MALFORMED_SHARE", 0.1)
        .sim("PROBE_SIM_HANG_SHARE", 0.05)
        // Well past the sender's 1 s probe timeout.
        .sim("PROBE_SIM_HANG_MS", 3_000)
        .sim("PROBE_SIM_LATENCY_MS", "20..60")
        // Few requests at a time, so the mailing is still running when the outage begins.
        .sender("MAILING_SENDER_CONCURRENCY", 8)
        // The outage would pause the mailing by itself (see auto_pause.rs); this scenario is
        // about what the pipeline does while the provider fails.
        .sender("MAILING_SENDER_AUTO_PAUSE", false);
    bounded(options.name(), Duration::from_secs(240), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let now = Utc::now();
        let end = now + Span::minutes(3);
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all("Delivered whatever happens", now, end))
            .await;

        let sim = cluster.sim();
        cluster
            .wait_until("the first deliveries", Duration::from_secs(30), || async {
                let ok = sim.stats().await.received_ok_total;
                if ok >= 100 {
                    Ok(())
                } else {
                    Err(format!("{ok} delivered"))
                }
            })
            .await;
        sim.outage(OUTAGE_SECONDS).await;
        let before_outage = cluster.api().mailing_stats(mailing_id).await;
        assert!(
            before_outage.unsettled() > 0,
            "the outage must begin while the mailing runs; stats: {before_outage}"
        );

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(150))
            .await;
        assert!(Utc::now() < end, "the mailing must settle before its end");
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "every message must be sent despite the faults; stats: {stats}"
        );

        let sim_stats = sim.stats().await;
        let hangs = sim_stats.outcome("hang");
        println!(
            "{NAME}: probe outcomes {:?}; duplicates {}",
            sim_stats.by_outcome, sim_stats.duplicates
        );
        assert!(
            sim_stats.outcome("error_500") > 0
                && sim_stats.outcome("malformed") > 0
                && hangs > 0
                && sim_stats.outcome("outage") > 0,
            "every kind of fault must have happened: {:?}",
            sim_stats.by_outcome
        );
        // Only proper 200s are recorded, and a hang never becomes one, so no reply the sender
        // gave up on can have been recorded as a delivery.
        assert!(
            sim_stats.duplicates <= hangs,
            "duplicates ({}) can only come from replies the sender gave up on ({hangs} hangs)",
            sim_stats.duplicates
        );
        assert_eq!(
            sim_stats.duplicates, 0,
            "with only 200s recorded the probe must see no duplicates"
        );
        let ids: BTreeSet<i64> = cluster
            .messages(mailing_id)
            .await
            .into_iter()
            .map(|m| m.id)
            .collect();
        for delivered in delivered_all(sim, &ids).await {
            assert!(
                delivered.last_at < end,
                "message {} reached the probe at {}, after the end {end}",
                delivered.id,
                delivered.last_at
            );
        }
    })
    .await;
}

scenario!(every_message_survives_a_faulty_probe);
