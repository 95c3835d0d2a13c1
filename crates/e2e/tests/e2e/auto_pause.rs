//! A provider that answers 500 to everything makes a mailing pause itself (paused_reason
//! `provider_failing`) after about the configured number of attempts, not after its whole
//! list; a mailing that turned auto-pause off keeps trying, and a rejected token pauses
//! nothing. Once the provider is back, the paused mailing resumes and reaches everyone.
//!
//! The attempts are counted where they arrive: at the simulator.

use crate::helpers::{self, describe_difference, requests_settle};
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const NAME: &str = "auto_pause";
const CLIENTS: u64 = 2_000;
/// The deployment's rule: pause once more than half of the last 20 attempts failed.
const LOOK_BACK: u64 = 20;
/// Requests in flight at once: all of them may have started before the rule trips.
const CONCURRENCY: u64 = 16;
/// Attempts that may start between the trip and the sender seeing the pause it wrote (the
/// breaker lets one trial through every 200 ms meanwhile).
const MARGIN: u64 = 10;

fn mailing(text: &str, auto_pause: Option<Value>) -> Value {
    let now = Utc::now();
    let mut body = crate::helpers::mailing_to_all(text, now, now + Span::minutes(30));
    if let Some(rule) = auto_pause {
        body["auto_pause"] = rule;
    }
    body
}

async fn a_failing_provider_pauses_the_mailing_after_its_look_back(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup)
        .sim("PROBE_SIM_ERROR_500_SHARE", 1.0)
        .sender("MAILING_SENDER_CONCURRENCY", CONCURRENCY)
        .sender("MAILING_SENDER_BREAKER_COOLDOWN_MS", 200)
        .sender("MAILING_SENDER_AUTO_PAUSE_ATTEMPTS", LOOK_BACK)
        .sender("MAILING_SENDER_AUTO_PAUSE_FAILURE_SHARE", 0.5);
    bounded(options.name(), Duration::from_secs(300), async {
        let cluster = Cluster::start(&options).await;
        cluster.insert_generated_clients(0, CLIENTS, "UTC").await;
        let (api, sim) = (cluster.api(), cluster.sim());

        // Every attempt fails: the mailing pauses itself after about its look-back.
        let failing = api
            .create_mailing(&mailing("Paused by a failing provider", None))
            .await;
        let paused = cluster
            .wait_until(
                "the mailing to pause itself",
                Duration::from_secs(90),
                || async {
                    let mailing = api.mailing(failing).await;
                    if mailing["status"] == "paused" {
                        Ok(mailing)
                    } else {
                        Err(mailing.to_string())
                    }
                },
            )
            .await;
        assert_eq!(
            (&paused["paused_reason"], &paused["auto_pauses"]),
            (&Value::from("provider_failing"), &Value::from(1)),
            "it paused itself because the provider fails: {paused}"
        );
        let attempts = requests_settle(&cluster, Duration::from_secs(2)).await;
        let bound = LOOK_BACK + CONCURRENCY + MARGIN;
        println!(
            "{NAME}: the mailing paused itself after {attempts} attempts (look-back \
             {LOOK_BACK}, bound {bound}, {CLIENTS} clients)"
        );
        assert!(
            (LOOK_BACK..=bound).contains(&attempts),
            "the mailing must pause itself after its look-back of {LOOK_BACK} attempts, plus \
             at most the {CONCURRENCY} in flight and a margin of {MARGIN}: {attempts} were made"
        );
        let page = cluster.metrics(Service::Sender).await;
        assert_eq!(
            helpers::metric(&page, "mailing_auto_pauses_total"),
            Some(1.0),
            "the sender counts the auto-pause"
        );

        // A mailing that turned auto-pause off keeps trying, whatever the deployment says.
        let stubborn = api
            .create_mailing(&mailing("Never paused", Some(json!({ "enabled": false }))))
            .await;
        let before = sim.stats().await.requests_total;
        let enough = before + 3 * LOOK_BACK;
        cluster
            .wait_until(
                "the stubborn mailing's attempts",
                Duration::from_secs(90),
                || async {
                    let requests = sim.stats().await.requests_total;
                    if requests >= enough {
                        Ok(())
                    } else {
                        Err(format!("{requests} requests, waiting for {enough}"))
                    }
                },
            )
            .await;
        let stubborn_now = api.mailing(stubborn).await;
        assert_eq!(
            (
                &stubborn_now["status"],
                &stubborn_now["auto_pauses"],
                &stubborn_now["auto_pause"]["enabled"]
            ),
            (
                &Value::from("running"),
                &Value::from(0),
                &Value::from(false)
            ),
            "a mailing with auto-pause off never pauses itself: {stubborn_now}"
        );
        api.cancel_mailing(stubborn).await;
        requests_settle(&cluster, Duration::from_secs(2)).await;
        let still = api.mailing(failing).await;
        assert_eq!(
            (&still["status"], &still["paused_reason"]),
            (&Value::from("paused"), &Value::from("provider_failing")),
            "the failing mailing stays paused: {still}"
        );

        // The provider recovers; resumed, the mailing reaches every client once.
        sim.configure(&json!({ "error_500_share": 0.0 })).await;
        let resumed = api.resume_mailing(failing).await;
        assert_eq!(resumed["status"], "running", "{resumed}");
        let stats = cluster
            .wait_settled(failing, Duration::from_secs(180))
            .await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "every client is reached once the provider is back; stats: {stats}"
        );
        let sim_stats = sim.stats().await;
        assert_eq!(
            (sim_stats.unique_ids, sim_stats.duplicates),
            (CLIENTS, 0),
            "the provider received each message once"
        );
        let ids: BTreeSet<i64> = cluster
            .messages(failing)
            .await
            .into_iter()
            .map(|m| m.id)
            .collect();
        let received: BTreeSet<i64> = sim.received().await.into_keys().collect();
        assert_eq!(
            received,
            ids,
            "the provider received exactly the resumed mailing's messages: {}",
            describe_difference(&ids, &received)
        );

        // A rejected token is no reason to pause, even for a mailing that pauses at its first
        // failure; once the token is accepted again it reaches everyone.
        sim.configure(&json!({ "jwt_secret": "a secret the sender's token was not signed with" }))
            .await;
        let touchy = api
            .create_mailing(&mailing(
                "Any failure pauses me",
                Some(json!({ "attempts": 1, "failure_share": 0.0 })),
            ))
            .await;
        cluster
            .wait_until(
                "the provider to reject the token a few times",
                Duration::from_secs(60),
                || async {
                    let rejected = sim.stats().await.outcome("unauthorized");
                    // The first burst, then the breaker's trials, one a second.
                    if rejected >= CONCURRENCY + 3 {
                        Ok(())
                    } else {
                        Err(format!("{rejected} rejected"))
                    }
                },
            )
            .await;
        let touchy_now = api.mailing(touchy).await;
        assert_eq!(
            (&touchy_now["status"], &touchy_now["auto_pauses"]),
            (&Value::from("running"), &Value::from(0)),
            "a rejected token must not pause a mailing: {touchy_now}"
        );
        sim.configure(&json!({ "jwt_secret": cluster.probe_secret() }))
            .await;
        let stats = cluster.wait_settled(touchy, Duration::from_secs(120)).await;
        assert_eq!(
            (stats.total, stats.count("sent")),
            (CLIENTS, CLIENTS),
            "the mailing held back by the token reaches everyone once it is accepted; stats: \
             {stats}"
        );
        let page = cluster.metrics(Service::Sender).await;
        assert_eq!(
            helpers::metric(&page, "mailing_auto_pauses_total"),
            Some(1.0),
            "no other mailing paused itself"
        );
    })
    .await;
}

scenario!(a_failing_provider_pauses_the_mailing_after_its_look_back);
