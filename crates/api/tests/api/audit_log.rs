//! The audit log over HTTP: every successful change through the API or the admin UI is there
//! with who made it and how they signed in, the fields it sent with secrets masked, its
//! request id and address; refused requests and reads are not; the list filters and pages;
//! only admins read it.

use crate::helpers::*;
use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_setups!(
    every_change_is_recorded_with_who_made_it_and_nothing_else_is,
    the_log_is_filtered_by_actor_resource_id_and_time,
    changes_in_the_admin_ui_are_recorded_as_such,
);

async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let page = body(
        app.get(&format!("/api/v1/audit-log{query}")).await,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

async fn every_change_is_recorded_with_who_made_it_and_nothing_else_is() {
    let app = spawn_app().await;
    let (key_id, key) = app.api_key("crm", "manager").await;
    let created = send(
        app.request(Method::POST, "/api/v1/users")
            .header("x-request-id", "req-create-ann")
            .json(&json!({ "username": "ann", "role": "viewer", "password": "a long passphrase" })),
    )
    .await;
    let ann = body(created, StatusCode::CREATED).await;
    // A refused write and a read leave nothing.
    let refused = app.post_json("/api/v1/tags", &json!({ "value": "" })).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.get("/api/v1/tags").await;
    let tag = send(
        app.request_without_token(Method::POST, "/api/v1/tags")
            .bearer_auth(&key)
            .json(&json!({ "value": "vip" })),
    )
    .await;
    let tag = body(tag, StatusCode::CREATED).await;
    let tag_id = tag["id"].as_i64().unwrap();
    let renamed = send(
        app.request_without_token(Method::PATCH, &format!("/api/v1/tags/{tag_id}"))
            .bearer_auth(&key)
            .json(&json!({ "value": "loyal" })),
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::OK);

    let log = entries(&app, "").await;
    let summary: Vec<(String, String, String, Option<String>)> = log
        .iter()
        .map(|entry| {
            (
                entry["actor"]["name"].as_str().unwrap().to_owned(),
                entry["action"].as_str().unwrap().to_owned(),
                entry["resource"].as_str().unwrap().to_owned(),
                entry["resource_id"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let tag_id = tag_id.to_string();
    let ann_id = ann["id"].to_string();
    assert_eq!(
        summary,
        [
            (
                "crm".into(),
                "update".into(),
                "tags".into(),
                Some(tag_id.clone())
            ),
            (
                "crm".into(),
                "create".into(),
                "tags".into(),
                Some(tag_id.clone())
            ),
            (
                "admin".into(),
                "create".into(),
                "users".into(),
                Some(ann_id)
            ),
            (
                "admin".into(),
                "create".into(),
                "api-keys".into(),
                Some(key_id.to_string())
            ),
            ("admin".into(), "sign_in".into(), "session".into(), None),
        ]
    );
    let rename = &log[0];
    assert_eq!(rename["actor"]["kind"], "api_key");
    assert_eq!(rename["actor"]["id"], key_id);
    assert_eq!(rename["actor"]["signed_in_with"], "api_key");
    assert_eq!(rename["interface"], "api");
    assert_eq!(rename["changes"], json!({ "value": "loyal" }));
    assert_eq!(rename["client_address"], "127.0.0.1");
    let user = &log[2];
    assert_eq!(user["actor"]["kind"], "user");
    assert_eq!(user["actor"]["signed_in_with"], "password");
    assert_eq!(user["request_id"], "req-create-ann");
    assert_eq!(
        user["changes"],
        json!({ "username": "ann", "role": "viewer", "password": "[masked]" })
    );
    let sign_in = &log[4];
    assert_eq!(sign_in["changes"]["password"], "[masked]");
    // No secret reaches the log: not the password, not the key.
    let whole = serde_json::to_string(&log).unwrap();
    assert!(!whole.contains("a long passphrase") && !whole.contains(ADMIN_PASSWORD));
    assert!(!whole.contains(&key[12..]));

    // Only admins read it.
    let refused = send(
        app.request_without_token(Method::GET, "/api/v1/audit-log")
            .bearer_auth(&key),
    )
    .await;
    error(refused, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn the_log_is_filtered_by_actor_resource_id_and_time() {
    let app = spawn_app().await;
    let before = chrono::Utc::now();
    let first = app.create_tag("vip").await["id"].as_i64().unwrap();
    let (_, key) = app.api_key("crm", "manager").await;
    let second = send(
        app.request_without_token(Method::POST, "/api/v1/tags")
            .bearer_auth(&key)
            .json(&json!({ "value": "loyal" })),
    )
    .await;
    let second = body(second, StatusCode::CREATED).await["id"]
        .as_i64()
        .unwrap();
    let ids = |entries: Vec<Value>| -> Vec<String> {
        entries
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["resource"].as_str().unwrap(),
                    e["resource_id"].as_str().unwrap_or("-")
                )
            })
            .collect()
    };
    assert_eq!(
        ids(entries(&app, "?actor=crm").await),
        [format!("tags {second}")]
    );
    assert_eq!(
        ids(entries(&app, "?resource=tags").await),
        [format!("tags {second}"), format!("tags {first}")]
    );
    assert_eq!(
        ids(entries(&app, &format!("?resource=tags&resource_id={first}")).await),
        [format!("tags {first}")]
    );
    let since =
        (before - chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        entries(&app, &format!("?since={since}&resource=tags"))
            .await
            .len(),
        2
    );
    assert!(entries(&app, &format!("?until={since}")).await.is_empty());
    let page = body(
        app.get("/api/v1/audit-log?page=2&page_size=1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["total"], 4, "sign-in, tag, key, tag: {page}");
    let bad = error(
        app.get("/api/v1/audit-log?since=yesterday&until=2026-13-01")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_details(
        &bad,
        &[("since", "datetime_format"), ("until", "datetime_format")],
    );
    let unknown = error(
        app.get("/api/v1/audit-log?colour=red").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_details(&unknown, &[("colour", "unknown_field")]);
}

async fn changes_in_the_admin_ui_are_recorded_as_such() {
    let app = spawn_app().await;
    let response = crate::admin::submit_login(&app, ADMIN_PASSWORD, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("mailing_admin_session="))
        .unwrap();
    let page = send(
        app.request_without_token(Method::GET, "/admin/tags/new")
            .header(COOKIE, &session),
    )
    .await;
    let html = page.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let csrf = html[at..at + 64].to_owned();
    let saved = send(
        app.request_without_token(Method::POST, "/admin/tags")
            .header(COOKIE, &session)
            .form(&[("csrf_token", csrf.as_str()), ("value", "vip")]),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let log = entries(&app, "?resource=tags").await;
    assert_eq!(log.len(), 1, "{log:?}");
    let entry = &log[0];
    assert_eq!(entry["interface"], "admin_ui");
    assert_eq!(entry["action"], "create");
    assert_eq!(entry["actor"]["name"], ADMIN_USERNAME);
    assert_eq!(
        entry["changes"],
        json!({ "value": "vip" }),
        "no CSRF token in the log"
    );
    let tag_id =
        body(app.get("/api/v1/tags").await, StatusCode::OK).await["items"][0]["id"].to_string();
    assert_eq!(entry["resource_id"], tag_id);
    let sign_ins = entries(&app, "?resource=session").await;
    assert!(
        sign_ins
            .iter()
            .any(|e| e["interface"] == "admin_ui" && e["action"] == "sign_in")
    );
}
