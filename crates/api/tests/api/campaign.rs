//! Campaign control through the API: pausing and resuming a mailing, its frequency cap and
//! auto-pause rule, resending to the clients it missed, and what its statistics say of it.

use crate::helpers::*;
use chrono::{Duration, Utc};
use mailing_domain::{MailingId, MessageStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_setups!(
    pause_and_resume_answer_with_the_mailing,
    a_mailing_paused_before_its_start_is_listed_as_paused,
    a_mailing_that_is_over_cannot_be_paused_or_resumed,
    campaign_operations_on_unknown_mailings_are_not_found,
    frequency_cap_and_auto_pause_are_kept_changed_and_cleared,
    invalid_rules_are_named_by_field_and_store_nothing,
    a_running_mailing_accepts_new_rules,
    resend_creates_a_mailing_for_the_clients_missed,
    resend_keeps_the_originals_clock,
    refused_resends_store_nothing,
    stats_show_pauses_and_campaign_counters,
);

fn path(mailing: i64, action: &str) -> String {
    format!("/api/v1/mailings/{mailing}/{action}")
}

/// The ids of the mailings listed in `status`.
async fn listed(app: &TestApp, status: &str) -> Vec<i64> {
    let page = body(
        app.get(&format!("/api/v1/mailings?status={status}")).await,
        StatusCode::OK,
    )
    .await;
    ids(&page)
}

async fn pause_and_resume_answer_with_the_mailing() {
    let app = spawn_app().await;
    let mailing = app.running_mailing().await;
    let id = id(&mailing);
    assert_eq!(mailing["status"], "running");
    assert_eq!(mailing["paused_reason"], json!(null));
    assert_eq!(mailing["paused_at"], json!(null));
    assert_eq!(mailing["paused_seconds"], json!(0.0));

    let paused = body(app.post(&path(id, "pause")).await, StatusCode::OK).await;
    assert_eq!(paused["id"], id);
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["paused_reason"], "manual");
    assert!(paused["paused_at"].is_string(), "{paused}");
    assert!(paused["warnings"].is_array(), "{paused}");
    assert_eq!(
        body(
            app.get(&format!("/api/v1/mailings/{id}")).await,
            StatusCode::OK
        )
        .await["status"],
        "paused"
    );
    assert_eq!(listed(&app, "paused").await, vec![id]);
    assert!(listed(&app, "running").await.is_empty());

    // Pausing again changes nothing: the pause keeps its start.
    let again = body(app.post(&path(id, "pause")).await, StatusCode::OK).await;
    assert_eq!(again["status"], "paused");
    assert_eq!(again["paused_at"], paused["paused_at"]);

    let resumed = body(app.post(&path(id, "resume")).await, StatusCode::OK).await;
    assert_eq!(resumed["status"], "running");
    assert_eq!(resumed["paused_reason"], json!(null));
    assert_eq!(resumed["paused_at"], json!(null));
    assert!(resumed["paused_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(listed(&app, "running").await, vec![id]);
    assert!(listed(&app, "paused").await.is_empty());
    // Resuming a running mailing changes nothing either.
    let again = body(app.post(&path(id, "resume")).await, StatusCode::OK).await;
    assert_eq!(again["status"], "running");
    assert_eq!(again["paused_seconds"], resumed["paused_seconds"]);

    // Each change that took place tells the other services; the no-ops do not.
    assert_eq!(
        app.published_events(3).await,
        mailing_events(id, &["created", "paused", "resumed"])
    );
    app.assert_no_more_events(3).await;
}

async fn a_mailing_paused_before_its_start_is_listed_as_paused() {
    let app = spawn_app().await;
    let id = id(&app.scheduled_mailing().await);
    let paused = body(app.post(&path(id, "pause")).await, StatusCode::OK).await;
    assert_eq!(paused["status"], "paused");
    assert_eq!(listed(&app, "paused").await, vec![id]);
    assert!(listed(&app, "scheduled").await.is_empty());
    // It may still change as a scheduled mailing may.
    let response = app
        .patch_json(
            &format!("/api/v1/mailings/{id}"),
            &json!({ "start_at": at(Duration::days(1) + Duration::hours(1)) }),
        )
        .await;
    assert_eq!(body(response, StatusCode::OK).await["status"], "paused");
    let resumed = body(app.post(&path(id, "resume")).await, StatusCode::OK).await;
    assert_eq!(resumed["status"], "scheduled");
    assert_eq!(listed(&app, "scheduled").await, vec![id]);
}

async fn a_mailing_that_is_over_cannot_be_paused_or_resumed() {
    let app = spawn_app().await;
    let finished = finished_mailing(&app).await;
    let cancelled = id(&app.running_mailing().await);
    body(app.post(&path(cancelled, "cancel")).await, StatusCode::OK).await;

    for (mailing, status) in [(finished, "finished"), (cancelled, "cancelled")] {
        let get = format!("/api/v1/mailings/{mailing}");
        let before = body(app.get(&get).await, StatusCode::OK).await;
        for action in ["pause", "resume"] {
            let refused = error(
                app.post(&path(mailing, action)).await,
                StatusCode::CONFLICT,
                "mailing_over",
            )
            .await;
            assert_eq!(
                refused,
                json!({
                    "code": "mailing_over",
                    "message": format!("a {status} mailing cannot be paused or resumed"),
                    "details": [],
                })
            );
        }
        assert_eq!(body(app.get(&get).await, StatusCode::OK).await, before);
    }
}

async fn campaign_operations_on_unknown_mailings_are_not_found() {
    let app = spawn_app().await;
    for action in ["pause", "resume"] {
        let response = app.post(&path(31337, action)).await;
        error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let resend = json!({
        "statuses": ["failed"],
        "start_at": at(Duration::hours(1)),
        "end_at": at(Duration::days(1)),
    });
    let response = app.post_json(&path(31337, "resend"), &resend).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.get("/api/v1/mailings/31337/stats").await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    // A deleted mailing is gone for them too.
    let deleted = id(&app.running_mailing().await);
    app.delete(&format!("/api/v1/mailings/{deleted}")).await;
    for action in ["pause", "resume"] {
        let response = app.post(&path(deleted, action)).await;
        error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let response = app.post_json(&path(deleted, "resend"), &resend).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.mailings, 0);
}

async fn frequency_cap_and_auto_pause_are_kept_changed_and_cleared() {
    let app = spawn_app().await;
    let created = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            json!({
                "frequency_cap": { "max": 2, "per_hours": 24 },
                "auto_pause": { "attempts": 20, "failure_share": 0.5 },
            }),
        ))
        .await;
    assert_eq!(
        created["frequency_cap"],
        json!({ "max": 2, "per_hours": 24 })
    );
    assert_eq!(
        created["auto_pause"],
        json!({ "enabled": null, "attempts": 20, "failure_share": 0.5 })
    );
    let get = format!("/api/v1/mailings/{}", id(&created));
    assert_eq!(
        body(app.get(&get).await, StatusCode::OK).await["frequency_cap"],
        created["frequency_cap"]
    );

    // A merge patch replaces the auto-pause rule as a whole, and null clears either.
    let patched = body(
        app.patch_json(&get, &json!({ "auto_pause": { "enabled": false } }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        patched["auto_pause"],
        json!({ "enabled": false, "attempts": null, "failure_share": null })
    );
    assert_eq!(patched["frequency_cap"], created["frequency_cap"]);
    let patched = body(
        app.patch_json(&get, &json!({ "frequency_cap": null }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["frequency_cap"], json!(null));
    assert_eq!(patched["auto_pause"]["enabled"], false);
    let patched = body(
        app.patch_json(
            &get,
            &json!({ "auto_pause": null, "frequency_cap": { "max": 1, "per_hours": 1 } }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["auto_pause"], json!(null));
    assert_eq!(
        patched["frequency_cap"],
        json!({ "max": 1, "per_hours": 1 })
    );
    // An empty rule says nothing of its own.
    let patched = body(
        app.patch_json(&get, &json!({ "auto_pause": {} })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["auto_pause"], json!(null));

    // PUT sets every field: leaving the rules out removes them.
    let replaced = body(
        app.put_json(&get, &scheduled_mailing_body()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["frequency_cap"], json!(null));
    assert_eq!(replaced["auto_pause"], json!(null));
}

async fn invalid_rules_are_named_by_field_and_store_nothing() {
    let app = spawn_app().await;
    let kept = app.scheduled_mailing().await;
    let get = format!("/api/v1/mailings/{}", id(&kept));
    let before = app.counts().await;
    let base = scheduled_mailing_body();
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            json!({ "frequency_cap": { "max": 0, "per_hours": 9000 } }),
            vec![
                ("frequency_cap.max", "out_of_range"),
                ("frequency_cap.per_hours", "out_of_range"),
            ],
        ),
        (
            json!({ "frequency_cap": { "max": 1001, "per_hours": 0 } }),
            vec![
                ("frequency_cap.max", "out_of_range"),
                ("frequency_cap.per_hours", "out_of_range"),
            ],
        ),
        (
            json!({ "frequency_cap": {} }),
            vec![
                ("frequency_cap.max", "required"),
                ("frequency_cap.per_hours", "required"),
            ],
        ),
        (
            json!({ "frequency_cap": { "max": 2, "per_hours": 24, "per_days": 1 } }),
            vec![("frequency_cap.per_days", "unknown_field")],
        ),
        (
            json!({ "frequency_cap": { "max": "two", "per_hours": 24 } }),
            vec![("frequency_cap.max", "invalid_type")],
        ),
        (
            json!({ "frequency_cap": { "max": -1, "per_hours": 2.5 } }),
            vec![
                ("frequency_cap.max", "invalid_type"),
                ("frequency_cap.per_hours", "invalid_type"),
            ],
        ),
        (
            json!({ "frequency_cap": "2 a day" }),
            vec![("frequency_cap", "invalid_type")],
        ),
        (
            json!({ "auto_pause": { "failure_share": 1.0 } }),
            vec![("auto_pause.failure_share", "out_of_range")],
        ),
        (
            json!({ "auto_pause": { "failure_share": -0.1, "attempts": 0 } }),
            vec![
                ("auto_pause.failure_share", "out_of_range"),
                ("auto_pause.attempts", "out_of_range"),
            ],
        ),
        (
            json!({ "auto_pause": { "attempts": 100001 } }),
            vec![("auto_pause.attempts", "out_of_range")],
        ),
        (
            json!({ "auto_pause": { "enabled": "yes", "share": 0.5 } }),
            vec![
                ("auto_pause.enabled", "invalid_type"),
                ("auto_pause.share", "unknown_field"),
            ],
        ),
        (
            json!({ "auto_pause": { "failure_share": "80%" } }),
            vec![("auto_pause.failure_share", "invalid_type")],
        ),
        (
            json!({ "auto_pause": true }),
            vec![("auto_pause", "invalid_type")],
        ),
    ];
    for (changes, expected) in cases {
        let response = app
            .post_json("/api/v1/mailings", &with(&base, changes.clone()))
            .await;
        let refused = validation(response, &expected).await;
        // Each message says the rule in plain words.
        for detail in refused["details"].as_array().unwrap() {
            let message = detail["message"].as_str().unwrap();
            assert!(
                !message.contains("serde") && !message.contains("invalid value:"),
                "{changes}: {message}"
            );
        }
        let response = app.patch_json(&get, &changes).await;
        validation(response, &expected).await;
        let response = app.put_json(&get, &with(&base, changes.clone())).await;
        validation(response, &expected).await;
    }
    // The messages name the ranges.
    let response = app
        .post_json(
            "/api/v1/mailings",
            &with(
                &base,
                json!({
                    "frequency_cap": { "max": 0, "per_hours": 24 },
                    "auto_pause": { "failure_share": 1.0 },
                }),
            ),
        )
        .await;
    let refused = validation(
        response,
        &[
            ("frequency_cap.max", "out_of_range"),
            ("auto_pause.failure_share", "out_of_range"),
        ],
    )
    .await;
    let messages: Vec<&str> = refused["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"must be a whole number from 1 to 1000"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"must be a number from 0 up to but not including 1, such as 0.8"),
        "{messages:?}"
    );
    assert_eq!(app.counts().await, before);
    assert_eq!(
        body(app.get(&get).await, StatusCode::OK).await["updated_at"],
        kept["updated_at"]
    );
}

async fn a_running_mailing_accepts_new_rules() {
    let app = spawn_app().await;
    let running = app.running_mailing().await;
    let get = format!("/api/v1/mailings/{}", id(&running));
    let changed = body(
        app.patch_json(
            &get,
            &json!({
                "frequency_cap": { "max": 3, "per_hours": 48 },
                "auto_pause": { "enabled": false },
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["status"], "running");
    assert_eq!(
        changed["frequency_cap"],
        json!({ "max": 3, "per_hours": 48 })
    );
    assert_eq!(changed["auto_pause"]["enabled"], false);
    // Paused, it follows the same rules: the rules may change, who it reaches may not.
    body(app.post(&format!("{get}/pause")).await, StatusCode::OK).await;
    let changed = body(
        app.patch_json(&get, &json!({ "frequency_cap": null }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["status"], "paused");
    assert_eq!(changed["frequency_cap"], json!(null));
    let response = app
        .patch_json(&get, &json!({ "filter": { "operator_codes": ["bln"] } }))
        .await;
    error(response, StatusCode::CONFLICT, "mailing_running").await;
}

/// Four clients of `bln` tagged `vip`, reached by [`running_mailing_body`].
async fn vip_clients(app: &TestApp) -> Vec<i64> {
    app.ensure_named(&json!({ "operator_codes": ["bln"], "tags": ["vip"] }))
        .await;
    let mut ids = vec![];
    for n in 1..=4 {
        let client = app
            .create_client(&format!("7900000000{n}"), "bln", &["vip"])
            .await;
        ids.push(id(&client));
    }
    ids
}

fn resend_body(statuses: &[&str]) -> Value {
    json!({
        "statuses": statuses,
        "start_at": at(Duration::hours(1)),
        "end_at": at(Duration::days(1)),
    })
}

async fn resend_creates_a_mailing_for_the_clients_missed() {
    let app = spawn_app().await;
    let clients = vip_clients(&app).await;
    let original = app
        .create_mailing(&with(
            &running_mailing_body(),
            json!({
                "send_window": { "start": "09:00", "end": "21:00" },
                "frequency_cap": { "max": 1, "per_hours": 24 },
                "auto_pause": { "attempts": 10 },
            }),
        ))
        .await;
    let original_id = id(&original);
    // The scheduler and the sender's work, settled through the store.
    app.insert_messages_in(
        original_id,
        &[
            (clients[0], MessageStatus::Failed),
            (clients[1], MessageStatus::Expired),
            (clients[2], MessageStatus::Sent),
            (clients[3], MessageStatus::Cancelled),
        ],
    )
    .await;
    let before = app.counts().await;
    let request = resend_body(&["failed", "expired"]);

    let response = app.post_json(&path(original_id, "resend"), &request).await;
    let resend = body(response, StatusCode::CREATED).await;
    let resend_id = id(&resend);
    assert_ne!(resend_id, original_id);
    assert_eq!(resend["resend_of"], original_id);
    assert_eq!(resend["status"], "scheduled");
    assert_eq!(resend["start_at"], request["start_at"]);
    assert_eq!(resend["end_at"], request["end_at"]);
    for same in [
        "text",
        "send_window",
        "local_time",
        "filter",
        "frequency_cap",
        "auto_pause",
    ] {
        assert_eq!(resend[same], original[same], "{same}");
    }
    assert_eq!(resend["client_filter_id"], json!(null));
    assert_eq!(original["resend_of"], json!(null));
    let get = format!("/api/v1/mailings/{resend_id}");
    let stored = body(app.get(&get).await, StatusCode::OK).await;
    assert_eq!(stored["resend_of"], original_id);

    let after = app.counts().await;
    assert_eq!(after.mailings, before.mailings + 1);
    assert_eq!(after.messages, before.messages);
    assert_eq!(
        app.published_events(2).await,
        [
            mailing_events(original_id, &["created"]),
            mailing_events(resend_id, &["created"]),
        ]
        .concat()
    );

    // Every status a resend takes, named once or twice.
    let response = app
        .post_json(
            &path(original_id, "resend"),
            &resend_body(&["cancelled", "failed", "expired", "failed"]),
        )
        .await;
    let all = body(response, StatusCode::CREATED).await;
    assert_eq!(all["resend_of"], original_id);
    // A resend may itself be resent once its own messages have ended.
    app.insert_messages_in(id(&all), &[(clients[3], MessageStatus::Failed)])
        .await;
    let response = app
        .post_json(&path(id(&all), "resend"), &resend_body(&["failed"]))
        .await;
    assert_eq!(
        body(response, StatusCode::CREATED).await["resend_of"],
        id(&all)
    );

    // Its recipients are fixed: the filter it shows cannot change, the rest can.
    let before = app.counts().await;
    let response = app
        .patch_json(
            &format!("/api/v1/mailings/{resend_id}"),
            &json!({"filter": {"tags": ["vip"]}}),
        )
        .await;
    validation(response, &[("filter", "fixed_recipients")]).await;
    assert_eq!(app.counts().await, before);
    let response = app
        .patch_json(
            &format!("/api/v1/mailings/{resend_id}"),
            &json!({"text": "Second try", "filter": original["filter"]}),
        )
        .await;
    assert_eq!(body(response, StatusCode::OK).await["text"], "Second try");
}

async fn resend_keeps_the_originals_clock() {
    let app = spawn_app().await;
    let clients = vip_clients(&app).await;
    let original = app
        .create_mailing(&with(
            &running_mailing_body(),
            json!({ "local_time": true, "start_at": "2026-01-01T09:00:00" }),
        ))
        .await;
    app.insert_messages_in(id(&original), &[(clients[0], MessageStatus::Failed)])
        .await;
    // Without an offset: read on each client's clock, as the original reads its own.
    let start = (Utc::now() + Duration::days(2))
        .format("%Y-%m-%dT09:00:00")
        .to_string();
    let end = (Utc::now() + Duration::days(3))
        .format("%Y-%m-%dT18:00:00")
        .to_string();
    let response = app
        .post_json(
            &path(id(&original), "resend"),
            &json!({ "statuses": ["failed"], "start_at": start, "end_at": end }),
        )
        .await;
    let resend = body(response, StatusCode::CREATED).await;
    assert_eq!(resend["local_time"], true);
    assert_eq!(resend["start_at"], format!("{start}Z"));
    assert_eq!(resend["end_at"], format!("{end}Z"));
}

async fn refused_resends_store_nothing() {
    let app = spawn_app().await;
    let clients = vip_clients(&app).await;
    let original = id(&app.running_mailing().await);
    app.insert_messages_in(
        original,
        &[
            (clients[0], MessageStatus::Sent),
            (clients[1], MessageStatus::Failed),
            (clients[2], MessageStatus::Scheduled),
        ],
    )
    .await;
    let before = app.counts().await;
    let resend = path(original, "resend");
    let valid = resend_body(&["failed"]);

    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            json!({ "statuses": ["sent"] }),
            vec![("statuses[0]", "unknown_status")],
        ),
        (
            json!({ "statuses": ["failed", "scheduled", "bogus"] }),
            vec![
                ("statuses[1]", "unknown_status"),
                ("statuses[2]", "unknown_status"),
            ],
        ),
        (json!({ "statuses": [] }), vec![("statuses", "empty")]),
        (
            json!({ "statuses": "failed" }),
            vec![("statuses", "invalid_type")],
        ),
        (json!({ "statuses": null }), vec![("statuses", "required")]),
        (json!({ "end_at": null }), vec![("end_at", "required")]),
        (
            json!({ "start_at": null, "end_at": null }),
            vec![("start_at", "required"), ("end_at", "required")],
        ),
        (
            json!({ "start_at": "tomorrow" }),
            vec![("start_at", "datetime_format")],
        ),
        (
            json!({ "end_at": "2030-01-01T10:00:00" }),
            vec![("end_at", "offset_required")],
        ),
        (
            json!({ "start_at": at(-Duration::days(2)), "end_at": at(-Duration::days(1)) }),
            vec![("end_at", "in_past")],
        ),
        (
            json!({ "start_at": at(Duration::days(2)) }),
            vec![("end_at", "end_not_after_start")],
        ),
        (json!({ "filter": {} }), vec![("filter", "unknown_field")]),
        (
            json!({ "statuses": ["sent"], "end_at": null, "colour": "red" }),
            vec![
                ("statuses[0]", "unknown_status"),
                ("end_at", "required"),
                ("colour", "unknown_field"),
            ],
        ),
        // Nobody's message was cancelled.
        (
            json!({ "statuses": ["cancelled"] }),
            vec![("statuses", "no_recipients")],
        ),
    ];
    for (changes, expected) in cases {
        let response = app.post_json(&resend, &with(&valid, changes.clone())).await;
        validation(response, &expected).await;
    }
    let response = app
        .post_json(&resend, &with(&valid, json!({ "statuses": ["sent"] })))
        .await;
    let refused = validation(response, &[("statuses[0]", "unknown_status")]).await;
    assert_eq!(
        refused["details"][0]["message"],
        "must be one of failed, expired, cancelled, not \"sent\"; e.g. [\"failed\", \"expired\"]"
    );
    let response = app
        .post_json(
            &resend,
            &with(&valid, json!({ "statuses": ["expired", "cancelled"] })),
        )
        .await;
    let refused = validation(response, &[("statuses", "no_recipients")]).await;
    assert!(
        refused["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("would reach nobody"),
        "{refused}"
    );
    let response = app
        .send_raw(
            reqwest::Method::POST,
            &resend,
            Some("application/json"),
            "[1]",
        )
        .await;
    validation(response, &[("body", "not_an_object")]).await;

    assert_eq!(app.counts().await, before);
    app.assert_no_more_events(1).await;
}

/// The statistics of one mailing.
async fn stats_of(app: &TestApp, mailing: i64) -> Value {
    body(
        app.get(&format!("/api/v1/mailings/{mailing}/stats")).await,
        StatusCode::OK,
    )
    .await
}

async fn stats_show_pauses_and_campaign_counters() {
    let app = spawn_app().await;
    let id = id(&app.running_mailing().await);
    let fresh = stats_of(&app, id).await;
    assert_eq!(fresh["pauses"], json!([]));
    assert_eq!(fresh["paused_seconds"], json!(0.0));
    assert_eq!(fresh["auto_pauses"], 0);
    assert_eq!(fresh["cap_deferrals"], 0);

    body(app.post(&path(id, "pause")).await, StatusCode::OK).await;
    body(app.post(&path(id, "resume")).await, StatusCode::OK).await;
    // The provider fails: a sender pauses the mailing, saying why.
    let store = app.store();
    let detail = "48 of the last 50 attempts failed at the provider";
    let paused = tokio::task::spawn_blocking(move || {
        store.auto_pause_mailing(MailingId(id), detail, Utc::now())
    })
    .await
    .unwrap()
    .unwrap();
    assert!(paused);

    let stats = stats_of(&app, id).await;
    let pauses = stats["pauses"].as_array().unwrap();
    assert_eq!(pauses.len(), 2, "{stats}");
    assert_eq!(pauses[0]["reason"], "manual");
    assert_eq!(pauses[0]["detail"], json!(null));
    assert!(pauses[0]["resumed_at"].is_string(), "{stats}");
    assert_eq!(pauses[1]["reason"], "provider_failing");
    assert_eq!(pauses[1]["detail"], detail);
    assert_eq!(pauses[1]["resumed_at"], json!(null));
    for pause in pauses {
        assert!(pause["paused_at"].is_string(), "{stats}");
        assert!(pause["seconds"].as_f64().unwrap() >= 0.0, "{stats}");
    }
    let total: f64 = pauses.iter().map(|p| p["seconds"].as_f64().unwrap()).sum();
    let paused_seconds = stats["paused_seconds"].as_f64().unwrap();
    assert!(
        paused_seconds >= pauses[0]["seconds"].as_f64().unwrap(),
        "{stats}"
    );
    assert!((paused_seconds - total).abs() < 5.0, "{stats}");
    assert_eq!(stats["auto_pauses"], 1);
    assert_eq!(stats["cap_deferrals"], 0);
    assert_eq!(stats["mailing"]["status"], "paused");
    assert_eq!(stats["mailing"]["paused_reason"], "provider_failing");
    assert_eq!(stats["mailing"]["auto_pauses"], 1);

    // The list of every mailing's statistics carries the counters too.
    let all = body(app.get("/api/v1/mailings/stats").await, StatusCode::OK).await;
    let item = &all["items"][0];
    assert_eq!(item["mailing"]["id"], id);
    assert_eq!(item["auto_pauses"], 1);
    assert_eq!(item["cap_deferrals"], 0);
    assert!(item["paused_seconds"].as_f64().unwrap() >= 0.0, "{all}");
    assert!(item.get("pauses").is_none(), "{all}");

    // Resumed by hand, whichever way it paused.
    let resumed = body(app.post(&path(id, "resume")).await, StatusCode::OK).await;
    assert_eq!(resumed["status"], "running");
    let stats = stats_of(&app, id).await;
    assert!(stats["pauses"][1]["resumed_at"].is_string(), "{stats}");
}
