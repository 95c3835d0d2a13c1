//! Killing the sender and the scheduler mid-mailing loses no message and duplicates none in the
//! database; the probe sees at most the in-flight requests of each killed sender again. In the
//! embedded setup each kill stops the whole `mailing` process and its restart is a restart of
//! everything: state survives in the SQLite file alone.

use crate::helpers::{delivered_at_least, mailing_to_all, sent_in_database};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded, db, population};
use std::time::Duration;

const NAME: &str = "crashes";
const CLIENTS: u64 = 5_000;
const CONCURRENCY: u64 = 32;

/// Kills `service` and, when a sender went down with it, says how many messages the probe
/// accepted without the database recording them sent: each will be sent again, so each is a
/// duplicate at the probe.
async fn kill(cluster: &mut Cluster, service: Service, mailing_id: i64) -> Option<u64> {
    cluster.kill(service);
    if !cluster.shares_process(service, Service::Sender) {
        return None;
    }
    cluster
        .wait_until(
            "the killed sender's requests to end",
            Duration::from_secs(10),
            || async {
                match cluster.sim().stats().await.in_flight {
                    0 => Ok(()),
                    n => Err(format!("{n} in flight")),
                }
            },
        )
        .await;
    // The api may have gone down with the sender; the count is read from the database.
    let accepted = cluster.sim().stats().await.unique_ids;
    let recorded = sent_in_database(cluster, mailing_id).await;
    let unrecorded = accepted.saturating_sub(recorded);
    println!(
        "{NAME}: killed {service:?} and a sender with it: {unrecorded} accepted messages not \
         recorded sent ({accepted} accepted, {recorded} recorded)"
    );
    Some(unrecorded)
}

async fn killed_services_lose_and_duplicate_nothing(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup)
        .sim("PROBE_SIM_LATENCY_MS", "20..50")
        .sender("MAILING_SENDER_CONCURRENCY", CONCURRENCY);
    bounded(options.name(), Duration::from_secs(240), async {
        let mut cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let now = Utc::now();
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Survives crashes",
                now,
                now + Span::minutes(10),
            ))
            .await;

        let mut sender_kills = 0;
        let mut unrecorded = 0;
        let mut kill_and_restart = async |cluster: &mut Cluster, service: Service| {
            if let Some(count) = kill(cluster, service, mailing_id).await {
                sender_kills += 1;
                unrecorded += count;
            }
            cluster.restart(service).await;
        };
        delivered_at_least(&cluster, 1_000).await;
        kill_and_restart(&mut cluster, Service::Sender).await;
        delivered_at_least(&cluster, 2_500).await;
        kill_and_restart(&mut cluster, Service::Scheduler).await;
        delivered_at_least(&cluster, 3_500).await;
        let before_third_kill = cluster.api().mailing_stats(mailing_id).await;
        assert!(
            before_third_kill.unsettled() > 0,
            "the third kill must happen mid-mailing; stats: {before_third_kill}"
        );
        kill_and_restart(&mut cluster, Service::Sender).await;

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(120))
            .await;
        let pairs = db::duplicate_pairs(cluster.database_url()).await;
        assert_eq!(pairs, 0, "no (mailing, client) pair may hold two messages");
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "every client must get exactly one message, sent; stats: {stats}"
        );

        let sim_stats = cluster.sim().stats().await;
        let bound = CONCURRENCY * sender_kills;
        println!(
            "{NAME}: the probe saw {} duplicates after three kills, {sender_kills} of them of a \
             sender (bound {bound}); {} OK answers for {} ids; {unrecorded} accepted but \
             unrecorded at the kills",
            sim_stats.duplicates, sim_stats.received_ok_total, sim_stats.unique_ids
        );
        assert_eq!(
            sim_stats.unique_ids, CLIENTS,
            "the probe must have received every message"
        );
        assert!(
            sim_stats.duplicates <= bound,
            "duplicates at the probe ({}) exceed the in-flight bound {CONCURRENCY} x \
             {sender_kills} sender kills = {bound}; at the kills the probe had accepted \
             {unrecorded} messages the database did not record sent",
            sim_stats.duplicates
        );
    })
    .await;
}

scenario!(killed_services_lose_and_duplicate_nothing);
