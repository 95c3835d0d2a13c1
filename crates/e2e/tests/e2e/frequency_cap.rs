//! A frequency cap of one message a day: two mailings running at once to the same clients give
//! each client one message in all, and the other expires saying the cap held it back; the
//! deployment's cap (`MAILING_SENDER_FREQUENCY_CAP_MAX`) applies to mailings without one of
//! their own, and a mailing's own cap wins over it.

use crate::helpers::{self, mailing_to_all};
use chrono::{DateTime, Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const CLIENTS: u64 = 300;
/// What an expired message's last_error says about a cap of one message a day.
const CAPPED: &str = "frequency cap (1 message per 24 hours)";

fn capped_mailing(text: &str, end: DateTime<Utc>, cap: Option<Value>) -> Value {
    let mut body = mailing_to_all(text, Utc::now(), end);
    if let Some(cap) = cap {
        body["frequency_cap"] = cap;
    }
    body
}

/// Checks that every message of `mailing_id` expired because of the cap.
async fn all_capped(cluster: &Cluster, mailing_id: i64) {
    for message in cluster.messages(mailing_id).await {
        assert!(
            message.status == "expired"
                && message
                    .last_error
                    .as_deref()
                    .is_some_and(|error| error.contains(CAPPED)),
            "message {} of mailing {mailing_id} must have expired for the cap: {message:?}",
            message.id
        );
    }
}

async fn two_mailings_at_once_give_each_client_one_message(setup: Setup) {
    // A slow provider, so that one mailing's messages are still in flight when the other's
    // for the same clients are checked.
    let options = ClusterOptions::new("frequency_cap", setup).sim("PROBE_SIM_LATENCY_MS", 100);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        cluster.insert_generated_clients(0, CLIENTS, "UTC").await;
        let api = cluster.api();
        // A short end: a message held back waits past it, so it expires at its first check.
        let end = Utc::now() + Span::seconds(30);
        let cap = json!({ "max": 1, "per_hours": 24 });
        let first = api
            .create_mailing(&capped_mailing("First offer", end, Some(cap.clone())))
            .await;
        let second = api
            .create_mailing(&capped_mailing("Second offer", end, Some(cap)))
            .await;
        let mut sent = 0;
        let mut expired = 0;
        for mailing_id in [first, second] {
            let stats = cluster
                .wait_settled(mailing_id, Duration::from_secs(90))
                .await;
            assert_eq!(
                stats.total,
                stats.count("sent") + stats.count("expired"),
                "each message is sent or expired by the cap; stats: {stats}"
            );
            sent += stats.count("sent");
            expired += stats.count("expired");
        }
        assert_eq!(
            (sent, expired),
            (CLIENTS, CLIENTS),
            "one message per client is sent and the other expires"
        );

        // Per client, one message sent in all and the other expired for the cap.
        let mut per_client: BTreeMap<i64, Vec<(String, Option<String>)>> = BTreeMap::new();
        for mailing_id in [first, second] {
            for message in cluster.messages(mailing_id).await {
                per_client
                    .entry(message.client_id.expect("clients are not deleted"))
                    .or_default()
                    .push((message.status, message.last_error));
            }
        }
        assert_eq!(per_client.len() as u64, CLIENTS);
        for (client, messages) in &per_client {
            let sent = messages
                .iter()
                .filter(|(status, _)| status == "sent")
                .count();
            let capped = messages
                .iter()
                .filter(|(status, error)| {
                    status == "expired" && error.as_deref().is_some_and(|e| e.contains(CAPPED))
                })
                .count();
            assert_eq!(
                (sent, capped),
                (1, 1),
                "client {client} must get one message and have the other capped: {messages:?}"
            );
        }
        let sim_stats = cluster.sim().stats().await;
        assert_eq!(
            (sim_stats.received_ok_total, sim_stats.unique_ids),
            (CLIENTS, CLIENTS),
            "the provider received one message per client"
        );

        let deferrals: u64 = [
            api.mailing(first).await["cap_deferrals"].as_u64(),
            api.mailing(second).await["cap_deferrals"].as_u64(),
        ]
        .into_iter()
        .map(|n| n.expect("cap_deferrals is a count"))
        .sum();
        assert_eq!(
            deferrals, CLIENTS,
            "each capped message was held back once, at its one check"
        );
        let page = cluster.metrics(Service::Sender).await;
        assert_eq!(
            helpers::metric(&page, "mailing_frequency_cap_deferrals_total"),
            Some(CLIENTS as f64),
            "the sender counts each message its cap held back"
        );
    })
    .await;
}

scenario!(two_mailings_at_once_give_each_client_one_message);

const DEPLOYMENT_CLIENTS: u64 = 100;

async fn the_deployment_cap_applies_to_mailings_without_their_own(setup: Setup) {
    let options = ClusterOptions::new("frequency_cap_deployment", setup)
        .sender("MAILING_SENDER_FREQUENCY_CAP_MAX", 1)
        .sender("MAILING_SENDER_FREQUENCY_CAP_HOURS", 24);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_generated_clients(0, DEPLOYMENT_CLIENTS, "UTC")
            .await;
        let api = cluster.api();
        let end = Utc::now() + Span::minutes(30);

        let first = api
            .create_mailing(&capped_mailing("First", end, None))
            .await;
        let stats = cluster.wait_settled(first, Duration::from_secs(60)).await;
        assert_eq!(
            stats.count("sent"),
            DEPLOYMENT_CLIENTS,
            "the first message of the day goes out; stats: {stats}"
        );

        let second = api
            .create_mailing(&capped_mailing("Second", end, None))
            .await;
        let stats = cluster.wait_settled(second, Duration::from_secs(60)).await;
        assert_eq!(
            stats.count("expired"),
            DEPLOYMENT_CLIENTS,
            "the deployment's cap holds the second back; stats: {stats}"
        );
        all_capped(&cluster, second).await;
        let mailing = api.mailing(second).await;
        assert_eq!(
            (&mailing["frequency_cap"], mailing["cap_deferrals"].as_u64()),
            (&Value::Null, Some(DEPLOYMENT_CLIENTS)),
            "the mailing has no cap of its own and counts the deferrals: {mailing}"
        );

        let own = api
            .create_mailing(&capped_mailing(
                "Third, under a cap of its own",
                end,
                Some(json!({ "max": 2, "per_hours": 24 })),
            ))
            .await;
        let stats = cluster.wait_settled(own, Duration::from_secs(60)).await;
        assert_eq!(
            stats.count("sent"),
            DEPLOYMENT_CLIENTS,
            "a mailing's own cap wins over the deployment's; stats: {stats}"
        );
        let sim_stats = cluster.sim().stats().await;
        assert_eq!(
            (sim_stats.received_ok_total, sim_stats.unique_ids),
            (2 * DEPLOYMENT_CLIENTS, 2 * DEPLOYMENT_CLIENTS),
            "the provider received the first and the third mailing's messages"
        );
    })
    .await;
}

scenario!(the_deployment_cap_applies_to_mailings_without_their_own);
