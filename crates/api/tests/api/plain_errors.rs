//! What an integrator meets when a request is wrong: every problem of a request in one answer,
//! in plain words with a valid example; PATCH as a JSON Merge Patch; filters that name what
//! exists; warnings when a mailing would reach nobody; lists and statistics as documented.

use crate::helpers::*;
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_setups!(
    one_answer_lists_every_problem_of_a_request,
    messages_say_what_is_wrong_in_plain_words,
    a_list_is_not_an_object,
    local_time_accepts_a_wall_clock_time,
    patch_is_a_merge_patch,
    filters_must_name_existing_operators_and_tags,
    mailings_that_would_reach_nobody_carry_warnings,
    a_window_that_cannot_open_is_a_warning,
    mailings_are_listed_by_status,
    statistics_carry_grand_totals,
);

/// The detail for `field` in an error body.
fn detail<'b>(body: &'b Value, field: &str) -> &'b Value {
    body["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field"] == field)
        .unwrap_or_else(|| panic!("no detail for {field} in {body}"))
}

fn message<'b>(body: &'b Value, field: &str) -> &'b str {
    detail(body, field)["message"].as_str().unwrap()
}

async fn one_answer_lists_every_problem_of_a_request() {
    let app = spawn_app().await;
    let before = app.counts().await;

    // Missing fields are listed together.
    let response = app.post_json("/api/v1/clients", &json!({})).await;
    validation(
        response,
        &[("phone_number", "required"), ("operator_code", "required")],
    )
    .await;

    // A type error, a rule error, an unknown field and an unknown operator together.
    let response = app
        .post_json(
            "/api/v1/clients",
            &json!({
                "phone_number": "8900",
                "operator_code": "nosuch",
                "tags": ["vip", 5],
                "time_zone": "Mars/Olympus",
                "colour": "red",
            }),
        )
        .await;
    validation(
        response,
        &[
            ("phone_number", "phone_format"),
            ("operator_code", "unknown_operator"),
            ("tags[1]", "invalid_type"),
            ("time_zone", "unknown_time_zone"),
            ("colour", "unknown_field"),
        ],
    )
    .await;

    // The same across a mailing's nested objects.
    let response = app
        .post_json(
            "/api/v1/mailings",
            &json!({
                "text": 42,
                "start_at": "tomorrow",
                "send_window": { "start": "25:00" },
                "filter": { "operator_codes": ["nosuch"], "tags": [7], "extra": true },
            }),
        )
        .await;
    validation(
        response,
        &[
            ("text", "invalid_type"),
            ("start_at", "datetime_format"),
            ("end_at", "required"),
            ("send_window.start", "time_of_day_format"),
            ("send_window.end", "required"),
            ("filter.operator_codes[0]", "unknown_operator"),
            ("filter.tags[0]", "invalid_type"),
            ("filter.extra", "unknown_field"),
        ],
    )
    .await;
    assert_eq!(app.counts().await, before, "nothing is stored");
}

async fn messages_say_what_is_wrong_in_plain_words() {
    let app = spawn_app().await;
    let mailing = scheduled_mailing_body();

    let response = app
        .post_json(
            "/api/v1/mailings",
            &with(&mailing, json!({ "start_at": "tomorrow morning" })),
        )
        .await;
    let refused = validation(response, &[("start_at", "datetime_format")]).await;
    let words = message(&refused, "start_at");
    assert!(
        words.starts_with("is not a date-time; write it like \"20"),
        "{words}"
    );

    let response = app
        .post_json(
            "/api/v1/mailings",
            &with(&mailing, json!({ "start_at": "2030-01-01T09:00:00" })),
        )
        .await;
    let refused = validation(response, &[("start_at", "offset_required")]).await;
    assert!(message(&refused, "start_at").contains("local_time"));

    let response = app
        .post_json(
            "/api/v1/clients",
            &json!({ "phone_number": 79001234567_i64, "operator_code": "bln" }),
        )
        .await;
    let refused = error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        message(&refused, "phone_number"),
        "must be text, not the number 79001234567"
    );

    let response = app.get("/api/v1/clients?page_size=abc&page=0").await;
    let refused = invalid_query(
        response,
        &[("page_size", "invalid_type"), ("page", "out_of_range")],
    )
    .await;
    assert_eq!(
        message(&refused, "page_size"),
        "must be a whole number from 1 to 500, not \"abc\"; for example 50"
    );

    let response = app.get("/api/v1/clients/abc").await;
    let refused = error(response, StatusCode::BAD_REQUEST, "invalid_path").await;
    assert_eq!(
        message(&refused, "id"),
        "must be a whole number such as 42, not \"abc\""
    );

    let response = app
        .send_raw(
            Method::POST,
            "/api/v1/tags",
            Some("application/json"),
            &b"{\"value\": "[..],
        )
        .await;
    let refused = error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    let words = refused["message"].as_str().unwrap();
    assert!(words.contains("it ends too early"), "{words}");

    // No message anywhere carries serde's or Rust's own words.
    for body in [json!([]), json!({ "value": [1] }), json!({ "value": null })] {
        let text = app
            .post_json("/api/v1/tags", &body)
            .await
            .text()
            .await
            .unwrap();
        for machine_words in [
            "invalid type",
            "expected",
            "struct",
            "sequence",
            " at line ",
        ] {
            assert!(!text.contains(machine_words), "{machine_words} in {text}");
        }
    }
}

async fn a_list_is_not_an_object() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let response = app
        .post_json("/api/v1/clients", &json!(["79001234567", "bln", [], "UTC"]))
        .await;
    let refused = validation(response, &[("body", "not_an_object")]).await;
    assert_eq!(
        message(&refused, "body"),
        "must be a JSON object such as {\"name\": \"value\"}, not a list"
    );
    let response = app
        .post_json(
            "/api/v1/mailings",
            &with(
                &scheduled_mailing_body(),
                json!({ "send_window": ["09:00", "18:00"] }),
            ),
        )
        .await;
    validation(response, &[("send_window", "invalid_type")]).await;
    assert_eq!(app.counts().await.clients, 0);
}

async fn local_time_accepts_a_wall_clock_time() {
    let app = spawn_app().await;
    let tomorrow = (chrono::Utc::now() + Duration::days(1)).date_naive();
    let mailing = app
        .create_mailing(&json!({
            "text": "Good morning",
            "start_at": format!("{tomorrow}T09:00:00"),
            "end_at": format!("{tomorrow}T18:00"),
            "local_time": true,
            "filter": {},
        }))
        .await;
    assert_eq!(mailing["start_at"], format!("{tomorrow}T09:00:00Z"));
    assert_eq!(mailing["end_at"], format!("{tomorrow}T18:00:00Z"));
}

async fn patch_is_a_merge_patch() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let client = app
        .create_client("79001234567", "bln", &["vip", "new"])
        .await;
    let path = format!("/api/v1/clients/{}", id(&client));
    let zoned = body(
        app.patch_json(&path, &json!({ "time_zone": "Europe/Moscow" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(zoned["tags"], json!(["new", "vip"]), "absent: unchanged");

    let cleared = body(
        app.patch_json(&path, &json!({ "tags": null, "time_zone": null }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["tags"], json!([]), "null clears an optional field");
    assert_eq!(cleared["time_zone"], "UTC", "… back to its default");

    let response = app
        .patch_json(
            &path,
            &json!({ "phone_number": null, "operator_code": null }),
        )
        .await;
    validation(
        response,
        &[
            ("phone_number", "null_not_allowed"),
            ("operator_code", "null_not_allowed"),
        ],
    )
    .await;

    let mailing = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            json!({ "send_window": { "start": "09:00", "end": "18:00" } }),
        ))
        .await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    let response = app
        .patch_json(&path, &json!({ "text": null, "send_window": null }))
        .await;
    validation(response, &[("text", "null_not_allowed")]).await;
    let patched = body(
        app.patch_json(&path, &json!({ "send_window": null })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["send_window"], Value::Null);
    assert_eq!(patched["text"], mailing["text"]);
}

async fn filters_must_name_existing_operators_and_tags() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    app.create_tag("vip").await;
    let before = app.counts().await;
    let response = app
        .post_json(
            "/api/v1/client-filters",
            &json!({ "operator_codes": ["bln", "mst"], "tags": ["vip", "vpi"] }),
        )
        .await;
    let refused = validation(
        response,
        &[
            ("operator_codes[1]", "unknown_operator"),
            ("tags[1]", "unknown_tag"),
        ],
    )
    .await;
    assert!(message(&refused, "operator_codes[1]").contains("\"mst\""));
    let response = app
        .post_json(
            "/api/v1/mailings",
            &with(
                &scheduled_mailing_body(),
                json!({ "filter": { "operator_codes": ["mst"] } }),
            ),
        )
        .await;
    validation(
        response,
        &[("filter.operator_codes[0]", "unknown_operator")],
    )
    .await;
    assert_eq!(app.counts().await, before);
}

async fn mailings_that_would_reach_nobody_carry_warnings() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    app.create_tag("vip").await;
    let body_json = with(
        &scheduled_mailing_body(),
        json!({ "filter": { "tags": ["vip"] } }),
    );
    let response = app.post_json("/api/v1/mailings", &body_json).await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["warnings"][0]["code"], "no_matching_clients");

    app.create_client("79001234567", "bln", &["vip"]).await;
    let path = format!("/api/v1/mailings/{}", id(&created));
    let fetched = body(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(fetched["warnings"], json!([]));
    let listed = body(app.get("/api/v1/mailings").await, StatusCode::OK).await;
    assert_eq!(listed["items"][0]["warnings"], Value::Null);
}

async fn a_window_that_cannot_open_is_a_warning() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let client = app.create_client("79001234567", "bln", &[]).await;
    let response = app
        .patch_json(
            &format!("/api/v1/clients/{}", id(&client)),
            &json!({ "time_zone": "Asia/Tokyo" }),
        )
        .await;
    body(response, StatusCode::OK).await;
    // One hour, at a time when no window hour of 03:00–04:00 Tokyo time falls inside it.
    let tomorrow = (chrono::Utc::now() + Duration::days(1)).date_naive();
    let response = app
        .post_json(
            "/api/v1/mailings",
            &json!({
                "text": "Night owls",
                "start_at": format!("{tomorrow}T00:00:00Z"),
                "end_at": format!("{tomorrow}T01:00:00Z"),
                "send_window": { "start": "03:00", "end": "04:00" },
                "filter": {},
            }),
        )
        .await;
    let created = body(response, StatusCode::CREATED).await;
    let warning = &created["warnings"][0];
    assert_eq!(warning["code"], "send_window_never_opens");
    let words = warning["message"].as_str().unwrap();
    assert!(
        words.contains("1 of 1") && words.contains("Asia/Tokyo"),
        "{words}"
    );
}

async fn mailings_are_listed_by_status() {
    let app = spawn_app().await;
    let scheduled = app.scheduled_mailing().await;
    let running = app.running_mailing().await;
    let cancelled = app.scheduled_mailing().await;
    body(
        app.post(&format!("/api/v1/mailings/{}/cancel", id(&cancelled)))
            .await,
        StatusCode::OK,
    )
    .await;
    for (status, expected) in [
        ("scheduled", vec![id(&scheduled)]),
        ("running", vec![id(&running)]),
        ("cancelled", vec![id(&cancelled)]),
        ("finished", vec![]),
    ] {
        let page = body(
            app.get(&format!("/api/v1/mailings?status={status}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(ids(&page), expected, "{status}");
        assert_eq!(page["total"], expected.len(), "{status}");
    }
    let response = app.get("/api/v1/mailings?status=active").await;
    let refused = invalid_query(response, &[("status", "unknown_status")]).await;
    assert!(
        message(&refused, "status").contains("scheduled, running, paused, finished, cancelled")
    );
}

async fn statistics_carry_grand_totals() {
    use mailing_domain::MessageStatus::{Failed, Sent};
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let a = id(&app.create_client("79001234567", "bln", &[]).await);
    let b = id(&app.create_client("79001234568", "bln", &[]).await);
    let first = id(&app.scheduled_mailing().await);
    let second = id(&app.scheduled_mailing().await);
    app.insert_messages_in(first, &[(a, Sent), (b, Failed)])
        .await;
    app.insert_messages_in(second, &[(a, Sent)]).await;
    let stats = body(
        app.get("/api/v1/mailings/stats?page_size=1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["messages_total"], 3);
    assert_eq!(stats["by_status"]["sent"], 2);
    assert_eq!(stats["by_status"]["failed"], 1);
    assert_eq!(stats["total"], 2, "mailings over all pages");
    assert_eq!(stats["items"].as_array().unwrap().len(), 1);
}
