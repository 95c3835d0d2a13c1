//! The accepted secret changes at runtime: a sender's token is refused, then accepted again.

use crate::helpers::{SECRET, spawn_sim, token};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_secret_change_refuses_old_tokens_until_changed_back() {
    let sim = spawn_sim().await;
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);

    sim.configure(json!({ "jwt_secret": "rotated-secret" }))
        .await;
    assert_eq!(sim.send(2).await.status(), StatusCode::UNAUTHORIZED);
    let rotated = sim
        .post("/v1/send/3")
        .bearer_auth(token("rotated-secret", 60))
        .json(&crate::helpers::msg(3))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);

    sim.configure(json!({ "jwt_secret": SECRET })).await;
    assert_eq!(sim.send(4).await.status(), StatusCode::OK);
    let stats = sim.stats().await;
    assert_eq!(stats["by_outcome"]["unauthorized"], 1);
    assert_eq!(stats["received_ok_total"], 3);
}

#[tokio::test]
async fn the_secret_is_never_shown() {
    let sim = spawn_sim().await;
    let config = sim
        .configure(json!({ "jwt_secret": "shown-nowhere" }))
        .await;
    assert!(!config.to_string().contains("shown-nowhere"));
    let config = sim.get_json("/_sim/config", StatusCode::OK).await;
    assert!(!config.to_string().contains("shown-nowhere"));
    assert!(config.get("jwt_secret").is_none());
}

#[tokio::test]
async fn an_empty_secret_is_refused() {
    let sim = spawn_sim().await;
    let response = sim.put_config(json!({ "jwt_secret": "" })).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
}
