//! SIGTERM, as Kubernetes and docker send it, stops each service cleanly mid-mailing: it exits
//! 0, a stopping sender finishes and records the requests it has in flight, and after the
//! restarts every message arrives exactly once (a graceful stop, unlike a crash, makes the
//! probe see nothing twice).

use crate::helpers::{delivered_at_least, mailing_to_all, sent_in_database};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded, db, population};
use std::time::Duration;

const NAME: &str = "graceful_shutdown";
const CLIENTS: u64 = 3_000;
/// Longer than any stop should take: the sender's in-flight requests last 50 ms at most.
const GRACE: Duration = Duration::from_secs(20);

/// Stops `service` with SIGTERM, checks it exited cleanly, and when a sender stopped, that the
/// database records every message the probe accepted.
async fn terminate_and_restart(cluster: &mut Cluster, service: Service, mailing_id: i64) {
    let (status, took) = cluster.terminate(service, GRACE).await;
    println!("{NAME}: {service:?} stopped in {took:?} with {status}");
    assert!(
        status.success(),
        "{service:?} must exit 0 on SIGTERM, not {status}"
    );
    if cluster.shares_process(service, Service::Sender) {
        let accepted = cluster.sim().stats().await.unique_ids;
        let recorded = sent_in_database(cluster, mailing_id).await;
        assert_eq!(
            accepted, recorded,
            "a stopped sender must have recorded every message the probe accepted"
        );
    }
    cluster.restart(service).await;
}

async fn sigterm_stops_each_service_without_loss_or_duplicates(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup)
        .sim("PROBE_SIM_LATENCY_MS", "20..50")
        .sender("MAILING_SENDER_CONCURRENCY", 32);
    bounded(options.name(), Duration::from_secs(180), async {
        let mut cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let now = Utc::now();
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Stops politely",
                now,
                now + Span::minutes(10),
            ))
            .await;

        delivered_at_least(&cluster, 500).await;
        terminate_and_restart(&mut cluster, Service::Sender, mailing_id).await;
        delivered_at_least(&cluster, 1_200).await;
        terminate_and_restart(&mut cluster, Service::Scheduler, mailing_id).await;
        delivered_at_least(&cluster, 1_800).await;
        let before_last = cluster.api().mailing_stats(mailing_id).await;
        assert!(
            before_last.unsettled() > 0,
            "the last stop must come mid-mailing; stats: {before_last}"
        );
        terminate_and_restart(&mut cluster, Service::Api, mailing_id).await;

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(90))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "{stats}"
        );
        assert_eq!(db::duplicate_pairs(cluster.database_url()).await, 0);
        let sim = cluster.sim().stats().await;
        assert_eq!(
            (sim.unique_ids, sim.duplicates),
            (CLIENTS, 0),
            "every message reaches the probe exactly once"
        );
    })
    .await;
}

scenario!(sigterm_stops_each_service_without_loss_or_duplicates);
