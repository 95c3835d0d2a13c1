//! The provider's contract: 200 with its body, 400 for a wrong request, 401 for a bad token.

use crate::helpers::{PHONE, SECRET, TEXT, body, msg, spawn_sim, token};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

#[tokio::test]
async fn a_valid_request_gets_the_providers_ok() {
    let sim = spawn_sim().await;
    let response = sim.send(42).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"code":0,"message":"OK"}"#
    );
    let stats = sim.stats().await;
    assert_eq!(stats["received_ok_total"], 1);
    assert_eq!(stats["requests_total"], 1);
    assert_eq!(stats["by_outcome"]["ok"], 1);
}

#[tokio::test]
async fn wrong_requests_get_400_and_are_not_recorded() {
    let sim = spawn_sim().await;
    let cases: Vec<(&str, Option<String>)> = vec![
        ("1", None),
        ("1", Some(String::new())),
        ("1", Some("not json".to_owned())),
        ("1", Some("[1, 2]".to_owned())),
        ("1", Some(json!({ "id": 1, "phone": PHONE }).to_string())),
        ("1", Some(json!({ "id": 1, "text": TEXT }).to_string())),
        (
            "1",
            Some(json!({ "phone": PHONE, "text": TEXT }).to_string()),
        ),
        (
            "1",
            Some(json!({ "id": 1, "phone": PHONE.to_string(), "text": TEXT }).to_string()),
        ),
        (
            "1",
            Some(json!({ "id": 1, "phone": 7.5, "text": TEXT }).to_string()),
        ),
        (
            "1",
            Some(json!({ "id": "1", "phone": PHONE, "text": TEXT }).to_string()),
        ),
        (
            "1",
            Some(json!({ "id": 1, "phone": PHONE, "text": 5 }).to_string()),
        ),
        ("1", Some(msg(2).to_string())),
        ("one", Some(msg(1).to_string())),
        ("99999999999999999999", Some(msg(1).to_string())),
    ];
    let count = cases.len() as u64;
    for (path_id, payload) in cases {
        let mut request = sim
            .post(&format!("/v1/send/{path_id}"))
            .bearer_auth(&sim.token);
        if let Some(payload) = &payload {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(payload.clone());
        }
        let response = request.send().await.unwrap();
        let error = body(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["code"], 400, "{path_id} {payload:?}");
    }
    let stats = sim.stats().await;
    assert_eq!(stats["by_outcome"]["bad_request"], count);
    assert_eq!(stats["requests_total"], count);
    assert_eq!(stats["received_ok_total"], 0);
}

#[tokio::test]
async fn missing_wrong_or_expired_tokens_get_401() {
    let sim = spawn_sim().await;
    let url = "/v1/send/7";
    let cases = vec![
        ("missing", None),
        ("not bearer", Some(sim.token.clone())),
        (
            "wrong secret",
            Some(format!("Bearer {}", token("another-secret", 3600))),
        ),
        ("expired", Some(format!("Bearer {}", token(SECRET, -5)))),
        ("garbage", Some("Bearer abc.def.ghi".to_owned())),
        ("empty", Some("Bearer ".to_owned())),
    ];
    let count = cases.len() as u64;
    for (case, header) in cases {
        let mut request = sim.post(url).json(&msg(7));
        if let Some(header) = header {
            request = request.header("Authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    }
    // The token is checked first: a bad token with a bad body is still a 401.
    let response = sim.post("/v1/send/7").body("garbage").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let stats = sim.stats().await;
    assert_eq!(stats["by_outcome"]["unauthorized"], count + 1);
    assert_eq!(stats["received_ok_total"], 0);
}

#[tokio::test]
async fn faults_spare_requests_that_fail_the_contract() {
    let sim = spawn_sim().await;
    sim.configure(json!({ "error_500_share": 1.0 })).await;
    sim.outage(json!({ "seconds": 60 })).await;
    let unauthorized = sim.post("/v1/send/1").json(&msg(1)).send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    let bad = sim
        .post("/v1/send/1")
        .bearer_auth(&sim.token)
        .json(&msg(2))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn health_answers_ok() {
    let sim = spawn_sim().await;
    let health = sim.get_json("/healthz", StatusCode::OK).await;
    assert_eq!(health["status"], "ok");
    sim.get_json("/readyz", StatusCode::OK).await;
    let response = sim
        .client
        .get(format!("{}/nothing-here", sim.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
