//! The api accepts mailings while RabbitMQ is unreachable; their events wait in the outbox and
//! go out once the broker can be reached.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded, population};
use std::time::Duration;

const NAME: &str = "outbox";
const CLIENTS: u64 = 20;
/// Nothing listens on port 1.
const UNREACHABLE_BROKER: &str = "amqp://guest:guest@127.0.0.1:1/%2f";

async fn unpublished(cluster: &Cluster) -> u64 {
    let store = cluster.store();
    tokio::task::spawn_blocking(move || store.outbox_backlog())
        .await
        .expect("store task")
        .expect("counting unpublished events")
        .events
}

async fn mailings_are_accepted_while_the_broker_is_unreachable(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup).api("MAILING_AMQP_URL", UNREACHABLE_BROKER);
    bounded(options.name(), Duration::from_secs(120), async {
        let mut cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let now = Utc::now();
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Written while the broker is away",
                now,
                now + Span::minutes(10),
            ))
            .await;
        let stored = cluster
            .api()
            .get(&format!("/api/v1/mailings/{mailing_id}"))
            .await;
        assert_eq!(
            stored["id"].as_i64(),
            Some(mailing_id),
            "the mailing is stored"
        );
        let waiting = unpublished(&cluster).await;
        assert!(
            waiting > 0,
            "the mailing's event must wait in the outbox, found {waiting} unpublished"
        );

        let broker = cluster.health(Service::Scheduler).await;
        assert_eq!(broker["broker"], "connected", "the shared broker stays up");
        let url = cluster.amqp_url().to_owned();
        cluster.set_env(Service::Api, "MAILING_AMQP_URL", url);
        cluster.restart(Service::Api).await;
        cluster
            .wait_until(
                "the outbox to be published",
                Duration::from_secs(20),
                || async {
                    match unpublished(&cluster).await {
                        0 => Ok(()),
                        n => Err(format!("{n} unpublished")),
                    }
                },
            )
            .await;
        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(30))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "the mailing must be delivered; stats: {stats}"
        );
    })
    .await;
}

// Distributed only: the embedded setup's in-process bus cannot be unreachable.
scenario!(mailings_are_accepted_while_the_broker_is_unreachable: distributed);
