//! The admin API's settings: partial updates, validation, and what it shows.

use crate::helpers::spawn_sim;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_partial_update_keeps_the_other_settings() {
    let sim = spawn_sim().await;
    let initial = sim.get_json("/_sim/config", StatusCode::OK).await;
    assert_eq!(initial["latency_ms"], json!({ "min": 0, "max": 0 }));
    assert_eq!(initial["seed"], 0);
    assert!(initial["outage"].is_null());

    sim.configure(json!({ "error_500_share": 0.1, "latency_ms": "5..10" }))
        .await;
    let config = sim
        .configure(json!({ "hang_share": 0.2, "outage_mode": "drop" }))
        .await;
    assert_eq!(config["error_500_share"], 0.1);
    assert_eq!(config["latency_ms"], json!({ "min": 5, "max": 10 }));
    assert_eq!(config["hang_share"], 0.2);
    assert_eq!(config["outage_mode"], "drop");
    assert_eq!(config["retry_after_seconds"], 1);
    assert_eq!(config["retry_after_format"], "seconds");
    assert_eq!(config["error_503_share"], 0.0);
    let config = sim
        .configure(json!({ "retry_after_format": "date", "error_503_share": 0.3 }))
        .await;
    assert_eq!(config["retry_after_format"], "date");
    assert_eq!(config["error_503_share"], 0.3);
    assert_eq!(config["hang_share"], 0.2);
    assert_eq!(config, sim.get_json("/_sim/config", StatusCode::OK).await);
}

#[tokio::test]
async fn invalid_updates_change_nothing() {
    let sim = spawn_sim().await;
    let before = sim.get_json("/_sim/config", StatusCode::OK).await;
    for patch in [
        json!({ "error_500_share": 0.7, "hang_share": 0.7 }),
        json!({ "malformed_share": 1.5 }),
        json!({ "error_429_share": -0.1 }),
        json!({ "latency_ms": { "min": 10, "max": 5 } }),
        json!({ "latency_ms": "soon" }),
        json!({ "error_500_shares": 0.5 }),
        json!({ "outage_mode": "sometimes" }),
        json!({ "retry_after_format": "minutes" }),
        json!({ "error_503_share": 0.6, "error_429_share": 0.6 }),
        json!({ "seed": "abc" }),
        json!({ "error_500_share": 0.5, "hang_ms": 999_999_999 }),
        json!([]),
    ] {
        let response = sim.put_config(patch.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{patch}");
    }
    let response = sim
        .client
        .put(format!("{}/_sim/config", sim.address))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(before, sim.get_json("/_sim/config", StatusCode::OK).await);
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
}
