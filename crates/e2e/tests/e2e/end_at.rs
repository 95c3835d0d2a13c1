//! At the mailing's end the rest expire, and nothing reaches the probe afterwards.

use crate::helpers::{mailing_to_all, received_ids};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded, population};
use std::time::Duration;

const NAME: &str = "end_at";
const CLIENTS: u64 = 1_000;
/// Requests per second the sender may make: far too few for every client before the end.
const RATE: u64 = 50;

async fn at_the_end_the_rest_expire_and_nothing_is_sent_after(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup).sender("MAILING_SENDER_RATE_LIMIT", RATE);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let now = Utc::now();
        let end = now + Span::seconds(5);
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Hurry, ends soon",
                now - Span::minutes(1),
                end,
            ))
            .await;

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(60))
            .await;
        let settled_after = Utc::now() - end;
        println!(
            "{NAME}: settled {} ms after the end; {stats}",
            settled_after.num_milliseconds()
        );
        let (sent, expired) = (stats.count("sent"), stats.count("expired"));
        assert_eq!(
            (stats.total, sent + expired),
            (CLIENTS, CLIENTS),
            "every message must end sent or expired; stats: {stats}"
        );
        assert!(
            sent > 0 && expired > 0,
            "at {RATE}/s for 5 s some must be sent and the rest expire; stats: {stats}"
        );

        let messages = cluster.messages(mailing_id).await;
        for message in messages.iter().filter(|m| m.status == "sent") {
            let sent_at = message.sent_at.expect("sent messages have sent_at");
            assert!(
                sent_at < end,
                "message {} recorded sent at {sent_at}, not before the end {end}",
                message.id
            );
        }
        let received = received_ids(&cluster).await;
        let deliveries = cluster.sim().delivered_many(received.iter().copied()).await;
        let late: Vec<_> = deliveries
            .iter()
            .filter(|d| d.last_at >= end)
            .map(|d| (d.id, d.last_at))
            .collect();
        assert!(
            late.is_empty(),
            "{} messages reached the probe at or after the end {end}, e.g. {:?}",
            late.len(),
            &late[..late.len().min(5)]
        );
        assert_eq!(
            received.len() as u64,
            sent,
            "the probe's deliveries must match the messages recorded sent"
        );
    })
    .await;
}

scenario!(at_the_end_the_rest_expire_and_nothing_is_sent_after);
