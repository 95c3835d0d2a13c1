use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::MessageStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_setups!(
    create_and_get_a_mailing,
    start_in_the_past_means_running_and_offsets_are_honoured,
    local_time_keeps_the_wall_clock,
    local_time_ends_when_the_westernmost_clock_passes_end_at,
    mailing_list_is_paginated_by_id,
    windows_may_cross_midnight,
    put_replaces_a_scheduled_mailing,
    patch_changes_only_given_fields,
    delete_hides_the_mailing_and_cancels_its_unsent_messages,
    missing_mailings_are_not_found,
    invalid_mailings_are_refused_and_nothing_is_stored,
    invalid_updates_change_nothing,
    end_in_the_past_is_refused_on_update,
    running_mailings_refuse_changes_to_who_and_when,
    running_mailings_accept_text_end_and_window_changes,
    cancel_cancels_unsent_messages_and_is_idempotent,
    cancelled_mailings_cannot_change,
    finished_mailings_cannot_be_cancelled_or_changed,
    times_round_trip_exactly,
    instants_storage_cannot_tell_apart_are_not_a_server_error,
    a_leap_second_is_kept_as_the_last_microsecond_before_it,
);

async fn create_and_get_a_mailing() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let start = at(Duration::days(1));
    let end = at(Duration::days(2));

    let response = app
        .post_json(
            "/api/v1/mailings",
            &json!({
                "text": "Spring sale",
                "start_at": start,
                "end_at": end,
                "filter": { "operator_codes": ["mts", "bln"], "tags": ["vip"] },
                "send_window": { "start": "09:00", "end": "21:00" },
            }),
        )
        .await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["text"], "Spring sale");
    assert_eq!(created["start_at"], start);
    assert_eq!(created["end_at"], end);
    assert_eq!(
        created["filter"],
        json!({ "operator_codes": ["bln", "mts"], "tags": ["vip"], "attributes": {} })
    );
    assert_eq!(
        created["send_window"],
        json!({ "start": "09:00", "end": "21:00" })
    );
    assert_eq!(created["local_time"], false);
    assert_eq!(created["client_filter_id"], json!(null));
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["cancelled_at"], json!(null));
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let path = format!("/api/v1/mailings/{}", id(&created));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, created);
    assert_eq!(app.counts().await.mailings, 1);
    assert_eq!(
        app.published_events(1).await,
        mailing_events(id(&created), &["created"])
    );
}

async fn start_in_the_past_means_running_and_offsets_are_honoured() {
    let app = spawn_app().await;

    let running = app.running_mailing().await;
    assert_eq!(running["status"], "running");
    assert_eq!(running["send_window"], json!(null));

    let response = app
        .post_json(
            "/api/v1/mailings",
            &json!({
                "text": "Offsets",
                "start_at": "2030-01-01T10:00:00+03:00",
                "end_at": "2030-01-01T12:30:00-02:00",
                "filter": {},
            }),
        )
        .await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["start_at"], "2030-01-01T07:00:00Z");
    assert_eq!(created["end_at"], "2030-01-01T14:30:00Z");
}

async fn local_time_keeps_the_wall_clock() {
    let app = spawn_app().await;

    let response = app
        .post_json(
            "/api/v1/mailings",
            &json!({
                "text": "Good morning",
                "start_at": "2030-01-01T10:00:00+03:00",
                "end_at": "2030-01-01T12:00:00+03:00",
                "local_time": true,
                "filter": {},
            }),
        )
        .await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["local_time"], true);
    assert_eq!(created["start_at"], "2030-01-01T10:00:00Z");
    assert_eq!(created["end_at"], "2030-01-01T12:00:00Z");
    let path = format!("/api/v1/mailings/{}", id(&created));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, created);
}

async fn local_time_ends_when_the_westernmost_clock_passes_end_at() {
    let app = spawn_app().await;
    // An hour ago on a UTC clock, but still ahead on American clocks.
    let body_json = json!({
        "text": "West coast",
        "start_at": at(-Duration::hours(3)),
        "end_at": at(-Duration::hours(1)),
        "local_time": true,
        "filter": {},
    });
    let created = app.create_mailing(&body_json).await;
    assert_eq!(created["status"], "running");

    let too_late = with(
        &body_json,
        json!({ "start_at": at(-Duration::hours(20)), "end_at": at(-Duration::hours(13)) }),
    );
    let response = app.post_json("/api/v1/mailings", &too_late).await;
    validation(response, &[("end_at", "in_past")]).await;
}

async fn mailing_list_is_paginated_by_id() {
    let app = spawn_app().await;
    let mut created = vec![];
    for _ in 0..4 {
        created.push(id(&app.scheduled_mailing().await));
    }

    let page = body(app.get("/api/v1/mailings").await, StatusCode::OK).await;
    assert_eq!(ids(&page), created);
    assert_eq!(page["total"], 4);
    assert_eq!(page["items"][0]["status"], "scheduled");
    let second = body(
        app.get("/api/v1/mailings?page=2&page_size=3").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&second), created[3..]);
    assert_eq!(second["total"], 4);
}

async fn windows_may_cross_midnight() {
    let app = spawn_app().await;

    let created = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            json!({ "send_window": { "start": "22:00", "end": "06:00" } }),
        ))
        .await;
    assert_eq!(
        created["send_window"],
        json!({ "start": "22:00", "end": "06:00" })
    );
}

async fn put_replaces_a_scheduled_mailing() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let mailing = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            json!({ "send_window": { "start": "09:00", "end": "21:00" } }),
        ))
        .await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    let start = at(Duration::days(3));
    let end = at(Duration::days(4));

    let replaced = body(
        app.put_json(
            &path,
            &json!({
                "text": "Replaced",
                "start_at": start,
                "end_at": end,
                "filter": { "tags": ["new"] },
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["text"], "Replaced");
    assert_eq!(replaced["start_at"], start);
    assert_eq!(replaced["end_at"], end);
    assert_eq!(
        replaced["filter"],
        json!({ "operator_codes": [], "tags": ["new"], "attributes": {} })
    );
    assert_eq!(
        replaced["send_window"],
        json!(null),
        "PUT leaves nothing out"
    );
    assert_eq!(replaced["status"], "scheduled");
    assert_eq!(replaced["created_at"], mailing["created_at"]);
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, replaced);
    assert_eq!(
        app.published_events(2).await,
        mailing_events(id(&mailing), &["created", "updated"])
    );
}

async fn patch_changes_only_given_fields() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let mailing = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            json!({ "send_window": { "start": "09:00", "end": "21:00" } }),
        ))
        .await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));

    let retexted = body(
        app.patch_json(&path, &json!({ "text": "New text" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retexted["text"], "New text");
    for field in ["start_at", "end_at", "filter", "send_window", "local_time"] {
        assert_eq!(retexted[field], mailing[field], "{field} is kept");
    }

    let start = at(Duration::hours(30));
    let moved = body(
        app.patch_json(
            &path,
            &json!({ "start_at": start, "filter": { "operator_codes": ["mts"] } }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["start_at"], start);
    assert_eq!(
        moved["filter"],
        json!({ "operator_codes": ["mts"], "tags": [], "attributes": {} })
    );
    assert_eq!(moved["send_window"], mailing["send_window"]);

    let unwindowed = body(
        app.patch_json(&path, &json!({ "send_window": null })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        unwindowed["send_window"],
        json!(null),
        "null removes the window"
    );
    assert_eq!(unwindowed["text"], "New text");

    let saved = app.create_client_filter(&json!({ "tags": ["vip"] })).await;
    let linked = body(
        app.patch_json(&path, &json!({ "client_filter_id": id(&saved) }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(linked["client_filter_id"], id(&saved));
    assert_eq!(
        linked["filter"],
        json!({ "operator_codes": [], "tags": ["vip"], "attributes": {} })
    );
    let inline = body(
        app.patch_json(&path, &json!({ "filter": {} })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        inline["client_filter_id"],
        json!(null),
        "an inline filter unlinks"
    );
    assert_eq!(
        inline["filter"],
        json!({ "operator_codes": [], "tags": [], "attributes": {} })
    );
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, inline);
    let five_changes = [
        "created", "updated", "updated", "updated", "updated", "updated",
    ];
    assert_eq!(
        app.published_events(6).await,
        mailing_events(id(&mailing), &five_changes)
    );
}

async fn delete_hides_the_mailing_and_cancels_its_unsent_messages() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let mut clients = vec![];
    for phone in ["79000000001", "79000000002", "79000000003", "79000000004"] {
        clients.push(id(&app.create_client(phone, "bln", &[]).await));
    }
    let mailing = id(&app.running_mailing().await);
    let other = id(&app.running_mailing().await);
    app.insert_messages_in(
        mailing,
        &[
            (clients[0], MessageStatus::Scheduled),
            (clients[1], MessageStatus::Queued),
            (clients[2], MessageStatus::Sent),
            (clients[3], MessageStatus::Retrying),
        ],
    )
    .await;
    app.insert_messages_in(other, &[(clients[0], MessageStatus::Scheduled)])
        .await;
    let path = format!("/api/v1/mailings/{mailing}");

    let response = app.delete(&path).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(
        app.post(&format!("{path}/cancel")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = app.patch_json(&path, &json!({ "text": "x" })).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    error(
        app.get(&format!("{path}/stats")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let list = body(app.get("/api/v1/mailings").await, StatusCode::OK).await;
    assert_eq!(ids(&list), [other]);
    assert_eq!(list["total"], 1);

    // Its messages go with it (storage keeps them, the unsent ones cancelled).
    let messages = body(
        app.get(&format!("/api/v1/messages?mailing_id={mailing}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&messages["items"], &messages["total"]),
        (&json!([]), &json!(0))
    );
    let untouched = body(
        app.get(&format!("/api/v1/messages?mailing_id={other}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(untouched["items"][0]["status"], "scheduled");
    let events = app.published_events(3).await;
    assert_eq!(events[2], mailing_events(mailing, &["deleted"])[0]);
}

async fn missing_mailings_are_not_found() {
    let app = spawn_app().await;
    let path = "/api/v1/mailings/31337";

    error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.put_json(path, &scheduled_mailing_body()).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.patch_json(path, &json!({ "text": "x" })).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(path).await, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.post(&format!("{path}/cancel")).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.mailings, 0);
}

async fn invalid_mailings_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let saved = app.create_client_filter(&json!({ "tags": ["vip"] })).await;
    let before = app.counts().await;
    let base = scheduled_mailing_body();
    let start = base["start_at"].clone();
    let codes: Vec<String> = (0..101).map(|i| format!("op{i}")).collect();
    let tags: Vec<String> = (0..101).map(|i| format!("tag{i}")).collect();
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({ "text": "" }), vec![("text", "empty")]),
        (json!({ "text": " \n\t " }), vec![("text", "empty")]),
        (
            json!({ "text": "ж".repeat(1601) }),
            vec![("text", "too_long")],
        ),
        (
            json!({ "text": "bell\u{7}" }),
            vec![("text", "control_characters")],
        ),
        (
            json!({ "text": "nul\u{0}" }),
            vec![("text", "control_characters")],
        ),
        (
            json!({ "end_at": start }),
            vec![("end_at", "end_not_after_start")],
        ),
        (
            json!({ "end_at": at(Duration::hours(12)) }),
            vec![("end_at", "end_not_after_start")],
        ),
        (
            json!({ "start_at": at(-Duration::days(2)), "end_at": at(-Duration::days(1)) }),
            vec![("end_at", "in_past")],
        ),
        (
            json!({ "send_window": { "start": "9:00", "end": "21:00" } }),
            vec![("send_window.start", "time_of_day_format")],
        ),
        (
            json!({ "send_window": { "start": "24:00", "end": "21:00" } }),
            vec![("send_window.start", "time_of_day_format")],
        ),
        (
            json!({ "send_window": { "start": "09:00", "end": "21:60" } }),
            vec![("send_window.end", "time_of_day_format")],
        ),
        (
            json!({ "send_window": { "start": "09:00", "end": "21:00:00" } }),
            vec![("send_window.end", "time_of_day_format")],
        ),
        (
            json!({ "send_window": { "start": "10:00", "end": "10:00" } }),
            vec![("send_window", "empty_window")],
        ),
        (
            json!({ "client_filter_id": id(&saved) }),
            vec![("client_filter_id", "exclusive")],
        ),
        (json!({ "filter": null }), vec![("filter", "required")]),
        (
            json!({ "filter": { "operator_codes": ["Beeline"] } }),
            vec![("filter.operator_codes[0]", "operator_code_format")],
        ),
        (
            json!({ "filter": { "tags": ["ok", ""] } }),
            vec![("filter.tags[1]", "empty")],
        ),
        (
            json!({ "filter": { "operator_codes": codes } }),
            vec![("filter.operator_codes", "too_many")],
        ),
        (
            json!({ "filter": { "tags": tags } }),
            vec![("filter.tags", "too_many")],
        ),
        (
            json!({ "filter": { "tags": ["t".repeat(65)], "operator_codes": [""] } }),
            vec![
                ("filter.tags[0]", "too_long"),
                ("filter.operator_codes[0]", "empty"),
            ],
        ),
        (
            json!({ "text": "", "end_at": start, "filter": null }),
            vec![
                ("text", "empty"),
                ("end_at", "end_not_after_start"),
                ("filter", "required"),
            ],
        ),
    ];
    for (changes, expected) in cases {
        let input = with(&base, changes.clone());
        let response = app.post_json("/api/v1/mailings", &input).await;
        validation(response, &expected).await;
    }
    let unknown = with(
        &base,
        json!({ "filter": null, "client_filter_id": id(&saved) + 100 }),
    );
    let response = app.post_json("/api/v1/mailings", &unknown).await;
    validation(response, &[("client_filter_id", "unknown_client_filter")]).await;
    assert_eq!(app.counts().await, before);
    app.assert_no_more_events(0).await;

    let longest = with(
        &base,
        json!({ "text": format!("Line 1\nLine\t2{}", "ж".repeat(1587)) }),
    );
    let created = app.create_mailing(&longest).await;
    assert_eq!(created["text"].as_str().unwrap().chars().count(), 1600);
}

async fn invalid_updates_change_nothing() {
    let app = spawn_app().await;
    let mailing = app.scheduled_mailing().await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    let saved = app.create_client_filter(&json!({})).await;
    let before = app.counts().await;

    for (patch, expected) in [
        (json!({ "text": "" }), vec![("text", "empty")]),
        (
            json!({ "end_at": mailing["start_at"] }),
            vec![("end_at", "end_not_after_start")],
        ),
        (
            json!({ "start_at": at(Duration::days(3)) }),
            vec![("end_at", "end_not_after_start")],
        ),
        (
            json!({ "end_at": at(-Duration::hours(1)) }),
            vec![("end_at", "end_not_after_start")],
        ),
        (
            json!({ "send_window": { "start": "08:00", "end": "08:00" } }),
            vec![("send_window", "empty_window")],
        ),
        (
            json!({ "send_window": { "start": "08:00", "end": "8pm" } }),
            vec![("send_window.end", "time_of_day_format")],
        ),
        (
            json!({ "filter": {}, "client_filter_id": id(&saved) }),
            vec![("client_filter_id", "exclusive")],
        ),
        (
            json!({ "client_filter_id": id(&saved) + 1 }),
            vec![("client_filter_id", "unknown_client_filter")],
        ),
        (
            json!({ "filter": { "tags": [""] } }),
            vec![("filter.tags[0]", "empty")],
        ),
    ] {
        let response = app.patch_json(&path, &patch).await;
        validation(response, &expected).await;
    }
    let response = app
        .put_json(
            &path,
            &with(&scheduled_mailing_body(), json!({ "filter": null })),
        )
        .await;
    validation(response, &[("filter", "required")]).await;
    let response = app
        .put_json(
            &path,
            &with(
                &scheduled_mailing_body(),
                json!({ "start_at": at(-Duration::days(3)), "end_at": at(-Duration::days(2)) }),
            ),
        )
        .await;
    validation(response, &[("end_at", "in_past")]).await;

    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, mailing);
    assert_eq!(app.counts().await, before);
    app.published_events(1).await;
    app.assert_no_more_events(1).await;
}

async fn end_in_the_past_is_refused_on_update() {
    let app = spawn_app().await;
    let mailing = app.running_mailing().await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));

    let response = app
        .patch_json(&path, &json!({ "end_at": at(-Duration::minutes(1)) }))
        .await;
    validation(response, &[("end_at", "in_past")]).await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, mailing);
}

async fn running_mailings_refuse_changes_to_who_and_when() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let request = running_mailing_body();
    let mailing = app.create_mailing(&request).await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    let other_filter = app
        .create_client_filter(&json!({ "tags": ["other"] }))
        .await;

    for (patch, fields) in [
        (
            json!({ "filter": { "operator_codes": ["mts"] } }),
            vec!["filter"],
        ),
        (json!({ "filter": {} }), vec!["filter"]),
        (
            json!({ "client_filter_id": id(&other_filter) }),
            vec!["filter"],
        ),
        (
            json!({ "start_at": at(-Duration::minutes(5)) }),
            vec!["start_at"],
        ),
        (
            json!({ "start_at": at(Duration::hours(1)) }),
            vec!["start_at"],
        ),
        (json!({ "local_time": true }), vec!["local_time"]),
        (
            json!({ "text": "allowed", "start_at": at(-Duration::hours(2)), "filter": {} }),
            vec!["start_at", "filter"],
        ),
    ] {
        let response = app.patch_json(&path, &patch).await;
        let conflict = error(response, StatusCode::CONFLICT, "mailing_running").await;
        let expected: Vec<(&str, &str)> = fields
            .iter()
            .map(|field| (*field, "locked_while_running"))
            .collect();
        assert_details(&conflict, &expected);
    }
    let response = app
        .put_json(
            &path,
            &with(&request, json!({ "filter": { "tags": ["vip"] } })),
        )
        .await;
    let conflict = error(response, StatusCode::CONFLICT, "mailing_running").await;
    assert_details(&conflict, &[("filter", "locked_while_running")]);

    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, mailing);
}

async fn running_mailings_accept_text_end_and_window_changes() {
    let app = spawn_app().await;
    let request = running_mailing_body();
    let mailing = app.create_mailing(&request).await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));

    let end = at(Duration::days(3));
    let changed = body(
        app.patch_json(
            &path,
            &json!({
                "text": "Corrected text",
                "end_at": end,
                "send_window": { "start": "10:00", "end": "18:00" },
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["text"], "Corrected text");
    assert_eq!(changed["end_at"], end);
    assert_eq!(
        changed["send_window"],
        json!({ "start": "10:00", "end": "18:00" })
    );
    assert_eq!(changed["status"], "running");

    // Restating the locked fields unchanged is not a change.
    let same = json!({
        "start_at": request["start_at"],
        "filter": { "tags": ["vip"], "operator_codes": ["bln"] },
        "local_time": false,
    });
    body(app.patch_json(&path, &same).await, StatusCode::OK).await;

    let replaced = body(
        app.put_json(
            &path,
            &with(&request, json!({ "text": "Put while running" })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["text"], "Put while running");
    assert_eq!(replaced["end_at"], request["end_at"]);
    assert_eq!(replaced["send_window"], json!(null));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, replaced);
}

async fn cancel_cancels_unsent_messages_and_is_idempotent() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let statuses = [
        MessageStatus::Scheduled,
        MessageStatus::Queued,
        MessageStatus::Retrying,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Expired,
    ];
    let mut plan = vec![];
    for (i, status) in statuses.into_iter().enumerate() {
        let client = app
            .create_client(&format!("7900000000{i}"), "bln", &[])
            .await;
        plan.push((id(&client), status));
    }
    let mailing = app.running_mailing().await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    app.insert_messages_in(id(&mailing), &plan).await;

    let cancelled = body(app.post(&format!("{path}/cancel")).await, StatusCode::OK).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    let messages = body(
        app.get(&format!("/api/v1/messages?mailing_id={}", id(&mailing)))
            .await,
        StatusCode::OK,
    )
    .await;
    let after: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        after,
        [
            "cancelled",
            "cancelled",
            "cancelled",
            "sent",
            "failed",
            "expired"
        ]
    );

    let again = body(app.post(&format!("{path}/cancel")).await, StatusCode::OK).await;
    assert_eq!(again["cancelled_at"], cancelled["cancelled_at"]);
    assert_eq!(again["status"], "cancelled");
    assert_eq!(
        body(app.get(&path).await, StatusCode::OK).await["status"],
        "cancelled"
    );
    assert_eq!(
        app.published_events(2).await,
        mailing_events(id(&mailing), &["created", "cancelled"]),
        "cancelling again changes nothing and says nothing"
    );
    app.assert_no_more_events(2).await;
}

async fn cancelled_mailings_cannot_change() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let request = scheduled_mailing_body();
    let mailing = app.create_mailing(&request).await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    let cancelled = body(app.post(&format!("{path}/cancel")).await, StatusCode::OK).await;

    for patch in [
        json!({ "text": "Too late" }),
        json!({ "end_at": at(Duration::days(5)) }),
        json!({ "send_window": { "start": "09:00", "end": "10:00" } }),
        json!({ "filter": { "tags": ["x"] } }),
    ] {
        let response = app.patch_json(&path, &patch).await;
        let conflict = error(response, StatusCode::CONFLICT, "mailing_not_editable").await;
        assert_details(&conflict, &[]);
    }
    let response = app
        .put_json(&path, &with(&request, json!({ "text": "Too late" })))
        .await;
    error(response, StatusCode::CONFLICT, "mailing_not_editable").await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, cancelled);
    assert_eq!(
        app.published_events(2).await,
        mailing_events(id(&mailing), &["created", "cancelled"]),
        "refused changes publish nothing"
    );

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
}

async fn finished_mailings_cannot_be_cancelled_or_changed() {
    let app = spawn_app().await;
    let mailing = finished_mailing(&app).await;
    let path = format!("/api/v1/mailings/{mailing}");
    let before = body(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(before["status"], "finished");

    let response = app.post(&format!("{path}/cancel")).await;
    error(response, StatusCode::CONFLICT, "mailing_finished").await;
    let response = app.patch_json(&path, &json!({ "text": "Edited" })).await;
    error(response, StatusCode::CONFLICT, "mailing_not_editable").await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, before);

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
}

async fn times_round_trip_exactly() {
    let app = spawn_app().await;
    let start: DateTime<Utc> = "2031-06-15T08:30:15.123456Z".parse().unwrap();
    let created = app
        .create_mailing(&json!({
            "text": "Microseconds",
            "start_at": "2031-06-15T08:30:15.123456Z",
            "end_at": "2031-06-15T20:00:00Z",
            "filter": {},
        }))
        .await;
    let returned: DateTime<Utc> = created["start_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(returned, start);
}

async fn instants_storage_cannot_tell_apart_are_not_a_server_error() {
    let app = spawn_app().await;
    let mailing = app.scheduled_mailing().await;
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    let before = app.counts().await;
    // Different instants to the API, one and the same to PostgreSQL, which keeps
    // microseconds and has no leap seconds.
    let cases = [
        (
            "2030-01-01T10:00:00.0000001Z",
            "2030-01-01T10:00:00.0000009Z",
        ),
        ("2030-01-01T10:00:00Z", "2030-01-01T10:00:00.0000001Z"),
    ];

    let mut server_errors = vec![];
    for (start, end) in cases {
        let create = json!({ "text": "Blink", "start_at": start, "end_at": end, "filter": {} });
        let patch = json!({ "start_at": start, "end_at": end });
        for (what, response) in [
            ("POST", app.post_json("/api/v1/mailings", &create).await),
            ("PATCH", app.patch_json(&path, &patch).await),
        ] {
            let status = response.status();
            let answer: Value = response.json().await.unwrap();
            if status.is_server_error() {
                server_errors.push(format!("{what} {start} .. {end}: {status} {answer}"));
            } else if status.is_success() {
                let start: DateTime<Utc> = answer["start_at"].as_str().unwrap().parse().unwrap();
                let end: DateTime<Utc> = answer["end_at"].as_str().unwrap().parse().unwrap();
                assert!(end > start, "{what} stored an empty span: {answer}");
            } else {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
                assert_details(&answer, &[("end_at", "end_not_after_start")]);
            }
        }
    }
    assert!(
        server_errors.is_empty(),
        "server errors:\n{}",
        server_errors.join("\n")
    );
    assert_eq!(app.counts().await, before);
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, mailing);
}

async fn a_leap_second_is_kept_as_the_last_microsecond_before_it() {
    let app = spawn_app().await;
    let create = json!({
        "text": "Leap",
        "start_at": "2030-06-30T23:59:60Z",
        "end_at": "2030-07-01T00:00:00Z",
        "filter": {},
    });
    let answer = body(
        app.post_json("/api/v1/mailings", &create).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(answer["start_at"], "2030-06-30T23:59:59.999999Z");
    assert_eq!(answer["end_at"], "2030-07-01T00:00:00Z");
}
