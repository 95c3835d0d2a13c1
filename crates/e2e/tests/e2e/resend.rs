//! A mailing that ended with messages expired is resent to exactly the clients it missed: the
//! new mailing names the original, carries its text, and reaches those clients once each and
//! nobody else. A resend that would reach nobody is refused.

use crate::helpers::{mailing_to_all, rfc3339};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const NAME: &str = "resend";
const CLIENTS: u64 = 400;
/// Requests per second the provider may see: far too few for every client before the end.
const RATE: u64 = 100;
const TEXT: &str = "Last chance: the sale ends tonight";

/// The client and phone of each of a mailing's messages in `status`, by message id, as the
/// api's message list gives them.
async fn listed(cluster: &Cluster, mailing_id: i64, status: &str) -> BTreeMap<i64, (i64, String)> {
    cluster
        .api()
        .messages(&format!("mailing_id={mailing_id}&status={status}"))
        .await
        .into_iter()
        .map(|message| {
            let id = message["id"].as_i64().expect("a message id");
            let client = message["client_id"].as_i64().expect("a client id");
            let phone = message["phone_number"]
                .as_str()
                .expect("a phone number")
                .to_owned();
            (id, (client, phone))
        })
        .collect()
}

async fn a_resend_reaches_exactly_the_clients_the_mailing_missed(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup).sender("MAILING_SENDER_RATE_LIMIT", RATE);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        cluster.insert_generated_clients(0, CLIENTS, "UTC").await;
        let api = cluster.api();
        let now = Utc::now();
        let original = api
            .create_mailing(&mailing_to_all(TEXT, now, now + Span::seconds(3)))
            .await;
        let stats = cluster
            .wait_settled(original, Duration::from_secs(60))
            .await;
        let (sent, expired) = (stats.count("sent"), stats.count("expired"));
        assert!(
            sent > 0 && expired > 0 && sent + expired == CLIENTS,
            "at {RATE}/s for 3 s some are sent and the rest expire; stats: {stats}"
        );
        let missed: BTreeSet<(i64, String)> = listed(&cluster, original, "expired")
            .await
            .into_values()
            .collect();
        let reached: BTreeSet<(i64, String)> = listed(&cluster, original, "sent")
            .await
            .into_values()
            .collect();
        assert_eq!(
            missed.len() as u64,
            expired,
            "the api lists every expired message"
        );

        // No message failed: a resend to the failed reaches nobody.
        let now = Utc::now();
        let window = |statuses: &[&str]| {
            json!({
                "statuses": statuses,
                "start_at": rfc3339(now),
                "end_at": rfc3339(now + Span::minutes(30)),
            })
        };
        let path = format!("/api/v1/mailings/{original}/resend");
        let (status, body) = api
            .request(Method::POST, &path, Some(&window(&["failed"])))
            .await;
        assert_eq!(
            (status, &body["details"][0]["code"]),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                &Value::from("no_recipients")
            ),
            "a resend that reaches nobody is refused: {body}"
        );

        let (status, resent) = api
            .request(Method::POST, &path, Some(&window(&["failed", "expired"])))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{resent}");
        assert_eq!(
            (&resent["resend_of"], &resent["text"]),
            (&Value::from(original), &Value::from(TEXT)),
            "the resend names the original and carries its text: {resent}"
        );
        let resend = resent["id"].as_i64().expect("the resend's id");
        let stats = cluster.wait_settled(resend, Duration::from_secs(90)).await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (expired, expired),
            "the resend has one message per client missed, each sent; stats: {stats}"
        );
        let resent_messages = listed(&cluster, resend, "sent").await;
        let recipients: BTreeSet<(i64, String)> = resent_messages.values().cloned().collect();
        assert_eq!(
            recipients, missed,
            "the resend reaches exactly the clients whose messages expired"
        );
        assert!(
            recipients.is_disjoint(&reached),
            "nobody the original reached gets the resend"
        );

        // At the provider: every resent message once, with the original's text and the
        // client's phone, and nothing else besides the original's deliveries.
        let sim = cluster.sim();
        let deliveries = sim.delivered_many(resent_messages.keys().copied()).await;
        assert_eq!(
            deliveries.len() as u64,
            expired,
            "each resent message reached the provider"
        );
        for delivered in deliveries {
            let phone = &resent_messages[&delivered.id].1;
            assert_eq!(
                (
                    delivered.count,
                    delivered.phone.to_string(),
                    delivered.text.as_str()
                ),
                (1, phone.clone(), TEXT),
                "message {} reached the provider once, to its client, with the text",
                delivered.id
            );
        }
        let sim_stats = sim.stats().await;
        assert_eq!(
            (sim_stats.unique_ids, sim_stats.duplicates),
            (CLIENTS, 0),
            "the original's and the resend's deliveries together reach every client once"
        );
    })
    .await;
}

scenario!(a_resend_reaches_exactly_the_clients_the_mailing_missed);
