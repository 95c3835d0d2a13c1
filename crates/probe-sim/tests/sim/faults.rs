//! Each fault at a share of 1.0 produces its outcome, and latency delays the answer.

use crate::helpers::spawn_sim;
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

#[tokio::test]
async fn error_429_share_answers_429_with_retry_after() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "error_429_share": 1.0, "retry_after_seconds": 7 }))
        .await;
    for id in 1..=5 {
        let response = sim.send(id).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "7");
    }
    assert_eq!(sim.outcome_count("error_429").await, 5);
    assert_eq!(sim.stats().await["received_ok_total"], 0);
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
