//! Fault decisions come from a seeded generator: the same seed gives the same outcomes.

use crate::helpers::{TestSim, spawn_sim_with};
use serde_json::json;

const MIXED: [(&str, f64); 3] = [
    ("error_500_share", 0.25),
    ("error_429_share", 0.25),
    ("malformed_share", 0.25),
];

async fn mixed_sim(seed: u64) -> TestSim {
    let sim = spawn_sim_with(|settings| settings.seed = Some(seed)).await;
    let patch: serde_json::Map<_, _> = MIXED
        .iter()
        .map(|(field, share)| (field.to_string(), json!(share)))
        .collect();
    sim.configure(serde_json::Value::Object(patch)).await;
    sim
}

/// The statuses of 40 requests sent one after another, with malformed bodies told apart.
async fn outcomes(sim: &TestSim) -> Vec<String> {
    let mut outcomes = Vec::new();
    for id in 1..=40 {
        let response = sim.send(id).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        outcomes.push(format!("{status} {text}"));
    }
    outcomes
}

#[tokio::test]
async fn the_same_seed_repeats_the_outcomes() {
    let first = outcomes(&mixed_sim(1234).await).await;
    let second = outcomes(&mixed_sim(1234).await).await;
    assert_eq!(first, second);
    let other = outcomes(&mixed_sim(4321).await).await;
    assert_ne!(first, other);
    // A mixed run, not a uniform one.
    assert!(first.iter().any(|o| o.starts_with("500")));
    assert!(
        first
            .iter()
            .any(|o| o == r#"200 {"code":0,"message":"OK"}"#)
    );
}

#[tokio::test]
async fn setting_the_seed_restarts_the_sequence() {
    let sim = mixed_sim(99).await;
    let first = outcomes(&sim).await;
    let config = sim.configure(json!({ "seed": 99 })).await;
    assert_eq!(config["seed"], 99);
    assert_eq!(outcomes(&sim).await, first);
}
