//! The record of deliveries: counts, duplicates, timestamps, listing and reset.

use crate::helpers::{PHONE, TEXT, spawn_sim, spawn_sim_with};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;

fn time(value: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time string"))
        .expect("an RFC 3339 time")
        .to_utc()
}

#[tokio::test]
async fn duplicates_are_counted_and_reset_forgets_them() {
    let sim = spawn_sim().await;
    let before = Utc::now();
    for id in [1, 2, 1, 3, 1, 3] {
        assert_eq!(sim.send(id).await.status(), StatusCode::OK);
    }
    let after = Utc::now();
    let stats = sim.stats().await;
    assert_eq!(stats["received_ok_total"], 6);
    assert_eq!(stats["unique_ids"], 3);
    assert_eq!(stats["duplicates"], 2);

    let one = sim.get_json("/_sim/received/1", StatusCode::OK).await;
    assert_eq!(one["count"], 3);
    assert_eq!(one["phone"], PHONE);
    assert_eq!(one["text"], TEXT);
    let (first, last) = (time(&one["first_at"]), time(&one["last_at"]));
    assert!(before <= first && first < last && last <= after, "{one}");
    let two = sim.get_json("/_sim/received/2", StatusCode::OK).await;
    assert_eq!(two["count"], 1);
    assert_eq!(two["first_at"], two["last_at"]);

    let missing = sim
        .get_json("/_sim/received/4", StatusCode::NOT_FOUND)
        .await;
    assert_eq!(missing["count"], 0);

    let response = sim
        .client
        .delete(format!("{}/_sim/received", sim.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let stats = sim.stats().await;
    assert_eq!(stats["received_ok_total"], 0);
    assert_eq!(stats["unique_ids"], 0);
    assert_eq!(stats["duplicates"], 0);
    assert_eq!(stats["requests_total"], 0);
    assert_eq!(stats["by_outcome"]["ok"], 0);
    sim.get_json("/_sim/received/1", StatusCode::NOT_FOUND)
        .await;
}

#[tokio::test]
async fn the_last_phone_and_text_are_kept() {
    let sim = spawn_sim().await;
    sim.send(9).await;
    let response = sim
        .post("/v1/send/9")
        .bearer_auth(&sim.token)
        .json(&json!({ "id": 9, "phone": 79_884_446_699_u64, "text": "second" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let nine = sim.get_json("/_sim/received/9", StatusCode::OK).await;
    assert_eq!(nine["count"], 2);
    assert_eq!(nine["phone"], 79_884_446_699_u64);
    assert_eq!(nine["text"], "second");
}

#[tokio::test]
async fn the_list_pages_through_ids_in_order() {
    let sim = spawn_sim().await;
    for id in (1..=25).rev() {
        sim.send(id).await;
    }
    sim.send(7).await;
    sim.send(20).await;

    let mut seen = Vec::new();
    let mut path = "/_sim/received?limit=10".to_owned();
    loop {
        let page = sim.get_json(&path, StatusCode::OK).await;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
        }
        match page["next_after"].as_i64() {
            Some(after) => path = format!("/_sim/received?limit=10&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());

    let repeated = sim
        .get_json("/_sim/received?min_count=2", StatusCode::OK)
        .await;
    assert_eq!(
        repeated,
        json!({ "items": [{ "id": 7, "count": 2 }, { "id": 20, "count": 2 }], "next_after": null })
    );
    for bad in ["limit=0", "limit=100001", "after=x", "colour=red"] {
        let response = sim
            .client
            .get(format!("{}/_sim/received?{bad}", sim.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn concurrent_deliveries_are_all_counted() {
    let sim = spawn_sim().await;
    let mut requests = tokio::task::JoinSet::new();
    for id in 0..400 {
        // Every id twice, from separate connections at once.
        requests.spawn(sim.send_request(id % 200).send());
    }
    while let Some(response) = requests.join_next().await {
        assert_eq!(response.unwrap().unwrap().status(), StatusCode::OK);
    }
    let stats = sim.stats().await;
    assert_eq!(stats["received_ok_total"], 400);
    assert_eq!(stats["unique_ids"], 200);
    assert_eq!(stats["duplicates"], 200);
}

#[tokio::test]
async fn a_delivery_is_timed_by_its_arrival_and_kept_when_the_client_gave_up() {
    const LATENCY_MS: i64 = 400;
    let sim = spawn_sim_with(|settings| {
        settings.faults.latency_ms = probe_sim::faults::Latency::fixed(LATENCY_MS as u64);
    })
    .await;
    let before = Utc::now();
    // A client that gives up before the answer, as a sender at its timeout or at a mailing's
    // end does: a real provider would not notice either, and delivers.
    let abandoned = sim
        .send_request(1)
        .timeout(std::time::Duration::from_millis(100))
        .send()
        .await;
    assert!(abandoned.is_err(), "the client must have given up");
    tokio::time::sleep(std::time::Duration::from_millis(LATENCY_MS as u64 + 200)).await;
    let one = sim.get_json("/_sim/received/1", StatusCode::OK).await;
    assert_eq!(one["count"], 1, "{one}");
    let arrived = time(&one["first_at"]);
    assert!(
        before <= arrived && arrived < before + chrono::Duration::milliseconds(LATENCY_MS / 2),
        "recorded at {arrived}, the request left at {before}: the time must be its arrival"
    );
}
