//! Who the client is, as login throttling sees it: the connection's peer, unless that is a
//! trusted proxy (`MAILING_TRUSTED_PROXIES`), and then the rightmost address of X-Forwarded-For
//! that is not one. A client that rotates the header never picks its own key.

use crate::admin::submit_login;
use crate::helpers::*;
use reqwest::{Response, StatusCode};
use serde_json::json;

both_setups!(
    a_rotating_forwarded_for_does_not_escape_throttling_from_an_untrusted_peer,
    behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client,
    the_admin_login_throttles_the_same_client,
);

async fn login_from(app: &TestApp, forwarded_for: &str, password: &str) -> Response {
    app.request_without_token(reqwest::Method::POST, "/api/v1/auth/token")
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({ "username": ADMIN_USERNAME, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn a_rotating_forwarded_for_does_not_escape_throttling_from_an_untrusted_peer() {
    let app = spawn_app_with(&[("MAILING_LOGIN_MAX_FAILURES", "4")]).await;
    let mut statuses = Vec::new();
    for attempt in 1..=14 {
        let response = login_from(&app, &format!("198.51.100.{attempt}"), "wrong").await;
        statuses.push(response.status().as_u16());
    }
    let expected: Vec<u16> = [401; 4].into_iter().chain([429; 10]).collect();
    assert_eq!(statuses, expected);
}

async fn behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client() {
    // The test talks to the app from 127.0.0.1: that peer is the proxy.
    let app = spawn_app_with(&[
        ("MAILING_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
        ("MAILING_LOGIN_MAX_FAILURES", "2"),
    ])
    .await;
    // One client, whatever it puts leftmost and through however many trusted hops.
    for forwarded in ["1.1.1.1, 198.51.100.7", "2.2.2.2, 198.51.100.7, 10.3.3.3"] {
        let response = login_from(&app, forwarded, "wrong").await;
        error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let spoofed = login_from(&app, "3.3.3.3, 198.51.100.7", ADMIN_PASSWORD).await;
    error(spoofed, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    // Another client behind the same proxy has a count of its own.
    let other = login_from(&app, "198.51.100.7, 198.51.100.8", "wrong").await;
    error(other, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let other = login_from(&app, "198.51.100.8", ADMIN_PASSWORD).await;
    body(other, StatusCode::OK).await;

    // Without the header the proxy's own address is the client, not throttled either.
    let direct = app.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
    body(direct, StatusCode::OK).await;
}

async fn the_admin_login_throttles_the_same_client() {
    let app = spawn_app_with(&[
        ("MAILING_TRUSTED_PROXIES", "127.0.0.1"),
        ("MAILING_LOGIN_MAX_FAILURES", "2"),
    ])
    .await;
    for leftmost in ["1.1.1.1", "2.2.2.2"] {
        let forwarded = format!("{leftmost}, 198.51.100.7");
        let response = submit_login(&app, "wrong", &[("X-Forwarded-For", &forwarded)]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The API's login counts the same client's failures: one throttle, one notion of client.
    let api = login_from(&app, "3.3.3.3, 198.51.100.7", ADMIN_PASSWORD).await;
    error(api, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let ui = submit_login(&app, ADMIN_PASSWORD, &[("X-Forwarded-For", "198.51.100.7")]).await;
    assert_eq!(ui.status(), StatusCode::TOO_MANY_REQUESTS);
    let elsewhere =
        submit_login(&app, ADMIN_PASSWORD, &[("X-Forwarded-For", "198.51.100.9")]).await;
    assert_eq!(elsewhere.status(), StatusCode::SEE_OTHER);
}
