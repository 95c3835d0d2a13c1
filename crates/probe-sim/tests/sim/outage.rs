//! Outage windows: the simulator is down inside them and answers again after.

use crate::helpers::{spawn_sim, spawn_sim_with};
use chrono::{Duration as ChronoDuration, Utc};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_outage_answers_503_then_recovers() {
    let sim = spawn_sim().await;
    let config = sim.outage(json!({ "seconds": 1 })).await;
    assert_eq!(config["outage"]["active"], true);
    assert_eq!(sim.send(1).await.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Waits for the window to close on its own; the deadline only guards against a hang.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut id = 2;
    loop {
        let status = sim.send(id).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "the outage did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
        id += 1;
    }
    let config = sim.get_json("/_sim/config", StatusCode::OK).await;
    assert_eq!(config["outage"]["active"], false);
    let stats = sim.stats().await;
    assert_eq!(stats["by_outcome"]["outage"], id - 1);
    assert_eq!(stats["received_ok_total"], 1);
}

#[tokio::test]
async fn the_drop_mode_closes_the_connection_unanswered() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "outage_mode": "drop" })).await;
    sim.outage(json!({ "seconds": 60 })).await;
    let error = sim
        .send_request(1)
        .send()
        .await
        .expect_err("a dropped connection gives no response");
    assert!(!error.is_timeout(), "{error}");
    assert_eq!(sim.outcome_count("outage").await, 1);

    sim.outage(json!({ "seconds": 0 })).await;
    assert_eq!(sim.send(2).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_window_in_the_future_waits_for_its_start() {
    let sim = spawn_sim().await;
    let start = Utc::now() + ChronoDuration::hours(1);
    let config = sim
        .outage(json!({ "seconds": 30, "start": start.to_rfc3339() }))
        .await;
    assert_eq!(config["outage"]["active"], false);
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn zero_seconds_ends_an_outage() {
    let sim = spawn_sim().await;
    sim.outage(json!({ "seconds": 3600 })).await;
    assert_eq!(sim.send(1).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    let config = sim.outage(json!({ "seconds": 0 })).await;
    assert!(config["outage"].is_null());
    assert_eq!(sim.send(2).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_outage_can_start_with_the_simulator() {
    let sim = spawn_sim_with(|settings| settings.outage = Duration::from_secs(3600)).await;
    assert_eq!(sim.send(1).await.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn bad_outage_requests_are_refused() {
    let sim = spawn_sim().await;
    for request in [
        json!({}),
        json!({ "seconds": -1 }),
        json!({ "seconds": "ten" }),
        json!({ "seconds": 1, "start": "tomorrow" }),
        json!({ "seconds": 1, "until": "later" }),
    ] {
        let response = sim
            .post("/_sim/outage")
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
    }
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
}
