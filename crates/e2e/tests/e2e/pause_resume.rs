//! Pausing a mailing stops its deliveries: at most the attempts already under way reach the
//! provider, nothing more while it stays paused, not even across restarts of every service, and
//! resuming it reaches every remaining client exactly once. Its end still applies meanwhile:
//! a mailing paused past its end finishes, its waiting messages expired.
//!
//! Counts, not durations, are asserted: how long deliveries took to stop is printed.

use crate::helpers::{self, describe_difference, mailing_to_all, received_ids, requests_settle};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const NAME: &str = "pause_resume";
/// The mailing: twenty thousand clients of a slow provider.
const CLIENTS: u64 = 20_000;
/// Requests in flight at once, per sender.
const CONCURRENCY: u64 = 100;
/// The provider's answer takes this long, so that a fair share of the mailing is under way
/// when it is paused.
const LATENCY_MS: u64 = 100;
/// How many requests may still reach the provider once a pause is committed: those in flight,
/// and those whose attempt read the mailing's state (cached by the sender for at most 100 ms,
/// less than one answer takes) just before the pause. Each holds one of the sender's
/// `CONCURRENCY` permits, and a permit is taken again only once its answer came.
const LATE_BOUND: u64 = 2 * CONCURRENCY;

/// Waits until the provider has received at least `count` requests.
async fn arrived_at_least(cluster: &Cluster, count: u64, timeout: Duration) {
    cluster
        .wait_until(&format!("{count} requests"), timeout, || async {
            let arrived = cluster.sim().stats().await.requests_total;
            if arrived >= count {
                Ok(())
            } else {
                Err(format!("{arrived} arrived"))
            }
        })
        .await;
}

/// How long after `since` (ms since the epoch) the last request reached the provider, by its
/// clock; `None` if none did.
async fn last_arrival_after(cluster: &Cluster, since: i64) -> Option<i64> {
    let arrivals = cluster.sim().arrivals().await;
    arrivals
        .last()
        .map(|(ms, _)| *ms - since)
        .filter(|after| *after >= 0)
}

fn field<'a>(mailing: &'a Value, name: &str) -> &'a Value {
    &mailing[name]
}

async fn a_paused_mailing_sends_nothing_until_resumed(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup)
        .sim("PROBE_SIM_LATENCY_MS", LATENCY_MS)
        .sender("MAILING_SENDER_CONCURRENCY", CONCURRENCY);
    bounded(options.name(), Duration::from_secs(600), async {
        let mut cluster = Cluster::start(&options).await;
        cluster.insert_generated_clients(0, CLIENTS, "UTC").await;
        let now = Utc::now();
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all(
                "Paused and resumed",
                now,
                now + Span::minutes(60),
            ))
            .await;

        // Midway: a quarter of the clients reached.
        arrived_at_least(&cluster, CLIENTS / 4, Duration::from_secs(240)).await;
        let paused = cluster.api().pause_mailing(mailing_id).await;
        let paused_ms = Utc::now().timestamp_millis();
        let at_pause = cluster.sim().stats().await;
        assert_eq!(
            (field(&paused, "status"), field(&paused, "paused_reason")),
            (&Value::from("paused"), &Value::from("manual")),
            "the pause answers with the paused mailing: {paused}"
        );
        let paused_at = field(&paused, "paused_at").clone();
        assert!(paused_at.is_string(), "paused_at is set: {paused}");
        let listed = cluster.api().get("/api/v1/mailings?status=paused").await;
        assert_eq!(
            (&listed["total"], &listed["items"][0]["id"]),
            (&Value::from(1), &Value::from(mailing_id)),
            "the paused mailing is listed as paused: {listed}"
        );

        let stopped_at = requests_settle(&cluster, Duration::from_secs(2)).await;
        let late = stopped_at - at_pause.requests_total;
        println!(
            "{NAME}: {} requests had reached the provider at the pause ({} of them in flight), \
             {late} more after it (bound {LATE_BOUND}); the last one {:?} ms after the pause",
            at_pause.requests_total,
            at_pause.in_flight,
            last_arrival_after(&cluster, paused_ms).await
        );
        assert!(
            late <= LATE_BOUND,
            "{late} requests reached the provider after the pause; only those in flight and \
             those already past their last check may ({LATE_BOUND})"
        );
        // Deliveries: at most one more for each request then in flight or arriving later.
        let delivered_after = cluster.sim().stats().await.received_ok_total;
        assert!(
            delivered_after <= at_pause.received_ok_total + at_pause.in_flight + late,
            "{} deliveries at the pause, {delivered_after} once requests stopped: more than \
             the {} in flight and the {late} arriving later can explain",
            at_pause.received_ok_total,
            at_pause.in_flight
        );
        assert!(
            stopped_at < CLIENTS / 2,
            "the pause must stop the mailing midway: {stopped_at} of {CLIENTS} were sent"
        );

        // Paused for a while: nothing more.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let sim_stats = cluster.sim().stats().await;
        assert_eq!(
            (sim_stats.requests_total, sim_stats.in_flight),
            (stopped_at, 0),
            "nothing may reach the provider while the mailing is paused"
        );
        let stats = cluster.api().mailing_stats(mailing_id).await;
        assert_eq!(
            (stats.total, stats.count("sent"), stats.unsettled()),
            (
                CLIENTS,
                sim_stats.unique_ids,
                CLIENTS - sim_stats.unique_ids
            ),
            "the delivered messages are sent and every other one waits; stats: {stats}"
        );

        // The scheduler's gauges: one mailing paused, and its waiting messages are no backlog.
        let page = cluster.metrics(Service::Scheduler).await;
        assert_eq!(
            (
                helpers::metric(&page, "mailing_mailings_paused"),
                helpers::metric(&page, "mailing_messages_due")
            ),
            (Some(1.0), Some(0.0)),
            "while paused: mailing_mailings_paused, mailing_messages_due"
        );

        // Every service restarts while it is paused (the simulator keeps its record).
        let mut restarted = BTreeSet::new();
        for service in [Service::Api, Service::Scheduler, Service::Sender] {
            if restarted.insert(cluster.binary(service)) {
                cluster.restart(service).await;
            }
        }
        // Past the claim lease (5 s), so that claims the old processes held come back, and
        // many scheduler ticks.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let after_restarts = cluster.sim().stats().await;
        assert_eq!(
            after_restarts.requests_total, stopped_at,
            "nothing may reach the provider after the restarts while the mailing is paused"
        );
        let mailing = cluster.api().mailing(mailing_id).await;
        assert_eq!(
            (
                field(&mailing, "status"),
                field(&mailing, "paused_reason"),
                field(&mailing, "paused_at")
            ),
            (&Value::from("paused"), &Value::from("manual"), &paused_at),
            "the pause survives the restarts: {mailing}"
        );
        let stats = cluster.api().mailing_stats(mailing_id).await;
        assert_eq!(
            (stats.total, stats.count("sent"), stats.unsettled()),
            (
                CLIENTS,
                sim_stats.unique_ids,
                CLIENTS - sim_stats.unique_ids
            ),
            "the plan survives the restarts: every unsent message still waits; stats: {stats}"
        );

        let resumed = cluster.api().resume_mailing(mailing_id).await;
        assert_eq!(
            (field(&resumed, "status"), field(&resumed, "paused_reason")),
            (&Value::from("running"), &Value::Null),
            "the resume answers with the running mailing: {resumed}"
        );
        let paused_seconds = field(&resumed, "paused_seconds").as_f64().unwrap_or(0.0);
        assert!(
            paused_seconds >= 13.0,
            "it was paused for 13 s at least (5 s, the restarts, 8 s), paused_seconds says \
             {paused_seconds}: {resumed}"
        );

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(360))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "every client is reached once resumed; stats: {stats}"
        );
        let page = cluster.metrics(Service::Scheduler).await;
        assert_eq!(
            helpers::metric(&page, "mailing_mailings_paused"),
            Some(0.0),
            "no mailing is paused once it was resumed"
        );
        let sim_stats = cluster.sim().stats().await;
        assert_eq!(
            (
                sim_stats.unique_ids,
                sim_stats.received_ok_total,
                sim_stats.duplicates
            ),
            (CLIENTS, CLIENTS, 0),
            "the provider must receive each message exactly once (unique, total, duplicates)"
        );
        let ids: BTreeSet<i64> = cluster
            .messages(mailing_id)
            .await
            .into_iter()
            .map(|m| m.id)
            .collect();
        let received = received_ids(&cluster).await;
        assert_eq!(
            received,
            ids,
            "the provider must receive exactly the mailing's messages: {}",
            describe_difference(&ids, &received)
        );
    })
    .await;
}

scenario!(a_paused_mailing_sends_nothing_until_resumed);

const PAST_END: &str = "pause_past_end";
const PAST_END_CLIENTS: u64 = 300;
/// Few requests at a time to a slow provider: about 20 a second, far from all before the end.
const PAST_END_CONCURRENCY: u64 = 4;

async fn a_mailing_paused_past_its_end_finishes_with_the_rest_expired(setup: Setup) {
    let options = ClusterOptions::new(PAST_END, setup)
        .sim("PROBE_SIM_LATENCY_MS", 200)
        .sender("MAILING_SENDER_CONCURRENCY", PAST_END_CONCURRENCY);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_generated_clients(0, PAST_END_CLIENTS, "UTC")
            .await;
        let now = Utc::now();
        let end = now + Span::seconds(10);
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all("Paused past the end", now, end))
            .await;
        arrived_at_least(&cluster, 10, Duration::from_secs(60)).await;
        cluster.api().pause_mailing(mailing_id).await;
        let at_pause = cluster.sim().stats().await.requests_total;
        let page = cluster.metrics(Service::Scheduler).await;
        assert!(
            Utc::now() < end,
            "the pause must come before the end; make the mailing longer"
        );
        assert_eq!(
            helpers::metric(&page, "mailing_mailings_paused"),
            Some(1.0),
            "paused before its end, it counts as paused"
        );

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(90))
            .await;
        assert!(Utc::now() >= end, "messages waited for the end: {stats}");
        let mailing = cluster.api().mailing(mailing_id).await;
        assert_eq!(
            field(&mailing, "status"),
            &Value::from("finished"),
            "a mailing paused past its end is finished: {mailing}"
        );
        let page = cluster.metrics(Service::Scheduler).await;
        assert_eq!(
            helpers::metric(&page, "mailing_mailings_paused"),
            Some(0.0),
            "a finished mailing no longer counts as paused"
        );
        let (sent, expired) = (stats.count("sent"), stats.count("expired"));
        assert_eq!(
            (stats.total, sent + expired),
            (PAST_END_CLIENTS, PAST_END_CLIENTS),
            "every message is sent or expired; stats: {stats}"
        );
        let arrived = cluster.sim().stats().await.requests_total;
        assert!(
            arrived <= at_pause + 2 * PAST_END_CONCURRENCY && sent <= arrived,
            "{arrived} requests reached the provider, {at_pause} of them before the pause; \
             stats: {stats}"
        );
        assert!(
            expired >= PAST_END_CLIENTS / 2,
            "the messages left waiting expire at the end; stats: {stats}"
        );
        let expired_messages = cluster
            .api()
            .messages(&format!("mailing_id={mailing_id}&status=expired"))
            .await;
        for message in expired_messages {
            let last_error = message["last_error"].as_str().unwrap_or_default();
            assert!(
                last_error.contains("ended"),
                "an expired message says the mailing ended: {message}"
            );
        }

        let (status, body) = cluster
            .api()
            .request(
                Method::POST,
                &format!("/api/v1/mailings/{mailing_id}/resume"),
                None,
            )
            .await;
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::CONFLICT, &Value::from("mailing_over")),
            "a finished mailing cannot be resumed: {body}"
        );
    })
    .await;
}

scenario!(a_mailing_paused_past_its_end_finishes_with_the_rest_expired);
