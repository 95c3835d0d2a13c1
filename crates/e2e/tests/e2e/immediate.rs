//! An immediate mailing reaches every client its filter matches, exactly once, and nobody else.

use crate::helpers::{delivered_all, describe_difference, rfc3339};
use chrono::{Duration as Minutes, Utc};
use mailing_e2e::population::{self, ClientSpec};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const NAME: &str = "immediate_mailing";
const TEXT: &str = "Spring sale: 20% off for Beeline customers";

async fn an_immediate_mailing_reaches_every_matching_client_exactly_once(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();

        api.create_fixtures().await;
        // Beside the fixtures: one client per way of matching or missing the filter.
        let extras = [
            ClientSpec::new("79001112233", "bln", &["Important"], "Europe/Moscow"),
            ClientSpec::new("79001112244", "mts", &["Important"], "UTC"),
            ClientSpec::new("79001112255", "bln", &["Another Tag"], "UTC"),
            ClientSpec::new("79001112266", "bln", &["Important", "Another Tag"], "Asia/Vladivostok"),
        ];
        for client in &extras {
            let tags: Vec<&str> = client.tags.iter().map(String::as_str).collect();
            api.create_client(&client.phone, &client.operator, &tags, &client.time_zone)
                .await;
        }
        let generated = population::generated(0, 10_000, "UTC");
        cluster.insert_clients(generated.clone()).await;
        let directory: Vec<ClientSpec> = [
            ClientSpec::new("79854456670", "bln", &[], "UTC"),
            ClientSpec::new("79884446699", "mts", &[], "UTC"),
        ]
        .into_iter()
        .chain(extras)
        .chain(generated)
        .collect();
        let expected_phones: BTreeSet<String> = directory
            .iter()
            .filter(|c| c.matches(&["bln"], &["Important"]))
            .map(|c| c.phone.clone())
            .collect();
        let expected = expected_phones.len() as u64;

        let now = Utc::now();
        let mailing_id = api
            .create_mailing(&json!({
                "text": TEXT,
                "start_at": rfc3339(now - Minutes::minutes(1)),
                "end_at": rfc3339(now + Minutes::minutes(30)),
                "filter": { "operator_codes": ["bln"], "tags": ["Important"] },
            }))
            .await;
        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(120))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (expected, expected),
            "expected {expected} messages, all sent; API stats say {stats}"
        );

        let messages = cluster.messages(mailing_id).await;
        let phones: BTreeSet<String> = messages.iter().filter_map(|m| m.phone.clone()).collect();
        let missing: Vec<_> = expected_phones.difference(&phones).take(5).collect();
        let outside: Vec<_> = phones.difference(&expected_phones).take(5).collect();
        assert!(
            missing.is_empty() && outside.is_empty() && phones.len() == messages.len(),
            "messages must go to exactly the matching clients: {} messages for {} phones; \
             missing e.g. {missing:?}; outside the filter e.g. {outside:?}",
            messages.len(),
            phones.len()
        );

        let sim = cluster.sim();
        let sim_stats = sim.stats().await;
        assert_eq!(
            (sim_stats.unique_ids, sim_stats.received_ok_total, sim_stats.duplicates),
            (expected, expected, 0),
            "the probe must receive each of the {expected} messages once (unique, total, duplicates)"
        );
        let received: BTreeMap<i64, u32> = sim.received().await;
        let message_ids: BTreeSet<i64> = messages.iter().map(|m| m.id).collect();
        let received_ids: BTreeSet<i64> = received.keys().copied().collect();
        assert_eq!(
            received_ids,
            message_ids,
            "the probe must receive the mailing's messages: {}",
            describe_difference(&message_ids, &received_ids)
        );
        let phone_of: BTreeMap<i64, String> = messages
            .iter()
            .map(|m| (m.id, m.phone.clone().unwrap_or_default()))
            .collect();
        for delivered in delivered_all(sim, &message_ids).await {
            assert_eq!(
                (delivered.phone.to_string(), delivered.text.as_str(), delivered.count),
                (phone_of[&delivered.id].clone(), TEXT, 1),
                "message {} reached the probe with the wrong phone, text or count",
                delivered.id
            );
        }
    })
    .await;
}

scenario!(an_immediate_mailing_reaches_every_matching_client_exactly_once);
