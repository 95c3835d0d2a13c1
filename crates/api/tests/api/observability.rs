//! What the api shows operators: Prometheus metrics at `/metrics` and a request id on every
//! response.

use crate::helpers::*;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

both_setups!(
    requests_are_counted_by_route_pattern_and_status,
    the_outbox_backlog_is_sampled_when_scraped,
    every_response_carries_a_request_id,
);

/// The value of one series (`name{labels}` exactly as rendered) in a Prometheus text page;
/// absent counts as 0, as for a counter not incremented yet.
fn series(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get_without_token("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK, "metrics need no token");
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "Prometheus text format"
    );
    response.text().await.unwrap()
}

async fn requests_are_counted_by_route_pattern_and_status() {
    let app = spawn_app().await;
    const NOT_FOUND: &str =
        r#"mailing_http_requests_total{method="GET",route="/api/v1/mailings/{id}",status="404"}"#;
    const TIMED: &str = r#"mailing_http_request_duration_seconds_count{method="GET",route="/api/v1/mailings/{id}"}"#;
    let before = scrape(&app).await;

    for id in [424_201, 424_202, 424_203] {
        let response = app.get(&format!("/api/v1/mailings/{id}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    app.get("/no/such/path/zq7x").await;

    let after = scrape(&app).await;
    // Other tests in this process may add to the same series, never take from it.
    assert!(
        series(&after, NOT_FOUND) - series(&before, NOT_FOUND) >= 3.0,
        "{after}"
    );
    assert!(
        series(&after, TIMED) - series(&before, TIMED) >= 3.0,
        "{after}"
    );
    assert!(
        !after.contains("424201") && !after.contains("zq7x"),
        "ids and unknown paths never become labels"
    );
    assert!(
        after.contains(r#"route="unmatched",status="404""#),
        "{after}"
    );
    assert!(
        after.contains("# HELP mailing_http_requests_total"),
        "{after}"
    );
    assert!(
        after.contains(r#"mailing_http_request_duration_seconds_bucket{method="GET",route="/api/v1/mailings/{id}",le="0.005"}"#),
        "latency is a histogram: {after}"
    );
}

async fn the_outbox_backlog_is_sampled_when_scraped() {
    let app = spawn_app().await;
    app.scheduled_mailing().await;

    let page = scrape(&app).await;
    for gauge in [
        "mailing_outbox_pending_events ",
        "mailing_outbox_lag_seconds ",
    ] {
        assert!(page.contains(gauge), "{gauge} in {page}");
    }
    assert!(page.contains("# HELP mailing_outbox_lag_seconds"), "{page}");
}

async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };

    let first = app.get("/api/v1/operators").await;
    let second = app.get_without_token("/api/v1/operators").await;
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    let (a, b) = (id_of(&first), id_of(&second));
    assert_eq!(a.len(), 32, "{a}");
    assert_ne!(a, b, "each request gets its own id, refused ones too");

    let from_proxy = app
        .request(reqwest::Method::GET, "/api/v1/operators")
        .header("x-request-id", "ingress-5f1c.2")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&from_proxy), "ingress-5f1c.2", "a proxy's id is kept");

    let forged = app
        .request(reqwest::Method::GET, "/api/v1/operators")
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&forged).len(), 32, "an oversized id is replaced");
}
