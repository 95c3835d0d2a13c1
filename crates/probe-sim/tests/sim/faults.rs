//! Each fault at a share of 1.0 produces its outcome, and latency delays the answer.

use crate::helpers::spawn_sim;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn error_500_share_answers_500() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "error_500_share": 1.0 })).await;
    for id in 1..=5 {
        assert_eq!(
            sim.send(id).await.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    let stats = sim.stats().await;
    assert_eq!(stats["by_outcome"]["error_500"], 5);
    assert_eq!(stats["received_ok_total"], 0);
}

/// The shares whose answers ask for a wait, and the status of those answers.
const ASKING_TO_WAIT: [(&str, StatusCode); 2] = [
    ("error_429_share", StatusCode::TOO_MANY_REQUESTS),
    ("error_503_share", StatusCode::SERVICE_UNAVAILABLE),
];

/// `settings` with every request answered as `share` says.
fn all_answered_as(share: &str, mut settings: Value) -> Value {
    for (other, _) in ASKING_TO_WAIT {
        settings[other] = json!(0.0);
    }
    settings[share] = json!(1.0);
    settings
}

#[tokio::test]
async fn error_429_and_503_shares_answer_with_retry_after() {
    let sim = spawn_sim().await;
    for (share, status) in ASKING_TO_WAIT {
        sim.configure(all_answered_as(share, json!({ "retry_after_seconds": 7 })))
            .await;
        for id in 1..=5 {
            let response = sim.send(id).await;
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[RETRY_AFTER], "7");
        }
        let outcome = format!("error_{}", status.as_u16());
        assert_eq!(sim.outcome_count(&outcome).await, 5);
    }
    assert_eq!(sim.stats().await["received_ok_total"], 0);
}

/// The instant a `Retry-After` HTTP-date names.
fn retry_after_date(response: &reqwest::Response) -> DateTime<Utc> {
    let value = response.headers()[RETRY_AFTER].to_str().unwrap();
    assert!(value.ends_with(" GMT"), "not an IMF-fixdate: {value}");
    DateTime::parse_from_rfc2822(value)
        .unwrap_or_else(|error| panic!("{value}: {error}"))
        .to_utc()
}

#[tokio::test]
async fn retry_after_can_be_an_http_date_on_429_and_503() {
    let sim = spawn_sim().await;
    for (share, status) in ASKING_TO_WAIT {
        let settings = json!({ "retry_after_seconds": 120, "retry_after_format": "date" });
        sim.configure(all_answered_as(share, settings)).await;
        // The answer's time plus the wait, rounded up to a whole second: never sooner.
        let before = Utc::now();
        let response = sim.send(1).await;
        let after = Utc::now();
        assert_eq!(response.status(), status);
        let date = retry_after_date(&response);
        let wait = chrono::Duration::seconds(120);
        assert!(
            before + wait <= date && date <= after + wait + chrono::Duration::seconds(1),
            "{date} for an answer between {before} and {after}"
        );
    }
}

#[tokio::test]
async fn retry_after_can_be_left_out() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "error_429_share": 1.0, "retry_after_format": "none" }))
        .await;
    let response = sim.send(1).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get(RETRY_AFTER).is_none());
}

#[tokio::test]
async fn malformed_share_answers_200_without_the_success_body() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "malformed_share": 1.0 })).await;
    for id in 1..=30 {
        let response = sim.send(id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        let success = serde_json::from_str::<Value>(&text)
            .is_ok_and(|body| body["code"] == 0 && body["message"] == "OK");
        assert!(!success, "a malformed reply passed for success: {text}");
    }
    let stats = sim.stats().await;
    assert_eq!(stats["by_outcome"]["malformed"], 30);
    assert_eq!(stats["received_ok_total"], 0);
}

#[tokio::test]
async fn hang_share_outlasts_the_client_timeout() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "hang_share": 1.0 })).await;
    let error = sim
        .send_request(1)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("a hanging request gets no answer");
    assert!(error.is_timeout(), "{error}");
    let stats = sim.stats().await;
    assert_eq!(stats["by_outcome"]["hang"], 1);
    assert_eq!(stats["received_ok_total"], 0);
}

#[tokio::test]
async fn a_hang_ends_with_504_after_its_time() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "hang_share": 1.0, "hang_ms": 50 }))
        .await;
    assert_eq!(sim.send(1).await.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn range_latency_delays_every_answer() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "latency_ms": { "min": 150, "max": 250 } }))
        .await;
    for id in 1..=4 {
        let started = Instant::now();
        assert_eq!(sim.send(id).await.status(), StatusCode::OK);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    }
}

#[tokio::test]
async fn latency_from_the_start_settings_applies() {
    let sim = crate::helpers::spawn_sim_with(|settings| {
        settings.faults.latency_ms = probe_sim::faults::Latency::fixed(120);
    })
    .await;
    let started = Instant::now();
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn latency_overlaps_between_concurrent_requests() {
    // Latency is slept on the runtime, never by blocking a worker, so requests wait side by side.
    let sim = spawn_sim().await;
    sim.configure(json!({ "latency_ms": 200 })).await;
    let mut requests = tokio::task::JoinSet::new();
    for id in 1..=50 {
        requests.spawn(sim.send_request(id).send());
    }
    while let Some(response) = requests.join_next().await {
        assert_eq!(response.unwrap().unwrap().status(), StatusCode::OK);
    }
    let stats = sim.stats().await;
    assert_eq!(stats["received_ok_total"], 50);
    assert!(stats["max_in_flight"].as_u64().unwrap() > 1, "{stats}");
}
