//! A client replies "СТОП": the provider forwards the reply, signed, and the next mailing to
//! that number suppresses its message, which never reaches the probe and shows as suppressed in
//! the statistics. The reply comes once from the test itself and once from the probe simulator,
//! as a developer would try the flow.

use crate::helpers::rfc3339;
use chrono::{Duration as Minutes, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded};
use mailing_runtime::signature;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const NAME: &str = "stop_reply";
const NAME_FROM_THE_SIMULATOR: &str = "stop_reply_from_the_simulator";
const SECRET: &str = "the secret shared with the provider";
const PHONE: &str = "79001112233";

async fn a_stop_reply_suppresses_the_next_mailing_to_that_number(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup).api("MAILING_INBOUND_SECRET", SECRET);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();
        api.create_fixtures().await;
        api.create_client(PHONE, "bln", &[], "UTC").await;

        // The provider forwards the reply as it wrote the number, signed with the secret.
        let raw =
            serde_json::to_vec(&json!({"from": "+7 (900) 111-22-33", "text": "СТОП"})).unwrap();
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/inbound", api.base_url()))
            .header("Content-Type", "application/json")
            .header(signature::HEADER, signature::sign(SECRET.as_bytes(), &raw))
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let reply: Value = response.json().await.unwrap();
        assert_eq!(
            (reply["phone_number"].as_str(), reply["action"].as_str()),
            (Some(PHONE), Some("opt_out")),
            "{reply}"
        );

        the_next_mailing_suppresses_the_number(&cluster).await;
    })
    .await;
}

async fn a_stop_reply_from_the_simulator_suppresses_the_next_mailing(setup: Setup) {
    let options = ClusterOptions::new(NAME_FROM_THE_SIMULATOR, setup)
        .api("MAILING_INBOUND_SECRET", SECRET)
        .sim("PROBE_SIM_REPLY_SECRET", SECRET);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();
        api.create_fixtures().await;
        api.create_client(PHONE, "bln", &[], "UTC").await;

        // The simulator starts before the api, whose port the harness picks at start, so the
        // reply URL is set once both run; the secret came with the simulator's settings.
        let config = cluster
            .sim()
            .configure(&json!({
                "reply_url": format!("{}/api/v1/inbound", api.base_url()),
            }))
            .await;
        assert_eq!(config["reply_secret"], "[redacted]", "{config}");
        let response = reqwest::Client::new()
            .post(format!("{}/_sim/replies", cluster.sim().base_url()))
            .json(&json!({"from": PHONE, "text": "СТОП"}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let reply: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "the api's answer, relayed: {reply}"
        );
        assert_eq!(
            (reply["phone_number"].as_str(), reply["action"].as_str()),
            (Some(PHONE), Some("opt_out")),
            "{reply}"
        );
        let stats = cluster.sim().stats().await;
        assert_eq!(
            (stats.replies_sent, stats.replies_failed),
            (1, 0),
            "{stats:?}"
        );

        the_next_mailing_suppresses_the_number(&cluster).await;
    })
    .await;
}

/// A mailing to everyone after `PHONE` opted out: the fixtures' two numbers are sent, `PHONE`'s
/// message is suppressed and never reaches the probe.
async fn the_next_mailing_suppresses_the_number(cluster: &Cluster) {
    let api = cluster.api();
    let now = Utc::now();
    let mailing_id = api
        .create_mailing(&json!({
            "text": "Winter sale",
            "start_at": rfc3339(now - Minutes::minutes(1)),
            "end_at": rfc3339(now + Minutes::minutes(30)),
            "filter": {},
        }))
        .await;
    let stats = cluster
        .wait_settled(mailing_id, Duration::from_secs(120))
        .await;
    assert_eq!(
        (stats.total, stats.count("sent"), stats.count("suppressed")),
        (3, 2, 1),
        "the two fixtures' numbers sent, the one that replied suppressed: {stats}"
    );

    let messages = cluster.messages(mailing_id).await;
    let suppressed: Vec<i64> = messages
        .iter()
        .filter(|m| m.phone.as_deref() == Some(PHONE))
        .map(|m| m.id)
        .collect();
    assert_eq!(suppressed.len(), 1);
    let listed = api
        .messages(&format!("mailing_id={mailing_id}&status=suppressed"))
        .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], suppressed[0]);
    assert_eq!(listed[0]["last_error"], "the number opted out");

    let received: BTreeSet<i64> = cluster.sim().received().await.keys().copied().collect();
    let sent: BTreeSet<i64> = messages
        .iter()
        .map(|m| m.id)
        .filter(|id| *id != suppressed[0])
        .collect();
    assert_eq!(
        received, sent,
        "the probe gets the others and never the suppressed one"
    );
}

scenario!(a_stop_reply_suppresses_the_next_mailing_to_that_number);
scenario!(a_stop_reply_from_the_simulator_suppresses_the_next_mailing);
