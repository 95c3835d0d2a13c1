use crate::helpers::*;
use mailing_domain::MessageStatus;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_setups!(
    create_and_get_a_client,
    tags_and_time_zone_have_defaults,
    duplicate_tags_collapse_and_existing_tags_are_reused,
    time_zones_are_iana_names,
    client_list_is_paginated_by_id,
    client_list_filters_by_operator_tag_and_phone_prefix,
    client_list_refuses_malformed_filters,
    put_replaces_the_whole_client,
    patch_changes_only_given_fields,
    delete_removes_the_client,
    missing_clients_are_not_found,
    invalid_clients_are_refused_and_nothing_is_stored,
    unknown_operator_is_a_validation_error_and_creates_no_tags,
    invalid_client_updates_change_nothing,
    duplicate_phone_numbers_conflict,
    deleting_a_client_cancels_its_unsent_messages_and_keeps_the_rest,
    racing_clients_share_the_tags_they_create,
    racing_duplicate_phones_get_one_client_and_conflicts,
);

async fn app_with_operators() -> TestApp {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    app.create_operator("mts").await;
    app
}

fn client_input() -> Value {
    json!({
        "phone_number": "79001234567",
        "operator_code": "bln",
        "tags": ["vip", "new"],
        "time_zone": "Europe/Moscow",
    })
}

async fn create_and_get_a_client() {
    let app = app_with_operators().await;
    let before = app.counts().await;

    let created = body(
        app.post_json("/api/v1/clients", &client_input()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["phone_number"], "79001234567");
    assert_eq!(created["operator_code"], "bln");
    assert_eq!(
        created["tags"],
        json!(["new", "vip"]),
        "tags come back sorted"
    );
    assert_eq!(created["time_zone"], "Europe/Moscow");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());
    let path = format!("/api/v1/clients/{}", id(&created));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, created);

    let after = app.counts().await;
    assert_eq!(after.clients, before.clients + 1);
    assert_eq!(after.tags, before.tags + 2, "missing tags are created");
    // Only mailings have events: the scheduler reads clients when a mailing starts.
    app.assert_no_more_events(0).await;
}

async fn tags_and_time_zone_have_defaults() {
    let app = app_with_operators().await;

    let response = app
        .post_json(
            "/api/v1/clients",
            &json!({ "phone_number": "79001234567", "operator_code": "mts" }),
        )
        .await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["tags"], json!([]));
    assert_eq!(created["time_zone"], "UTC");
}

async fn duplicate_tags_collapse_and_existing_tags_are_reused() {
    let app = app_with_operators().await;
    app.create_tag("vip").await;

    let response = app
        .post_json(
            "/api/v1/clients",
            &json!({
                "phone_number": "79001234567",
                "operator_code": "bln",
                "tags": ["vip", " vip ", "Another Tag"],
            }),
        )
        .await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["tags"], json!(["Another Tag", "vip"]));
    assert_eq!(app.counts().await.tags, 2);
}

async fn time_zones_are_iana_names() {
    let app = app_with_operators().await;

    for (i, zone) in ["UTC", "Asia/Vladivostok", "America/New_York", "Etc/GMT+3"]
        .into_iter()
        .enumerate()
    {
        let response = app
            .post_json(
                "/api/v1/clients",
                &json!({
                    "phone_number": format!("7900000000{i}"),
                    "operator_code": "bln",
                    "time_zone": zone,
                }),
            )
            .await;
        assert_eq!(body(response, StatusCode::CREATED).await["time_zone"], zone);
    }
}

async fn client_list_is_paginated_by_id() {
    let app = app_with_operators().await;
    let mut created = vec![];
    for i in 0..5 {
        created.push(id(&app
            .create_client(&format!("7900000000{i}"), "bln", &[])
            .await));
    }

    let page = body(app.get("/api/v1/clients").await, StatusCode::OK).await;
    assert_eq!(ids(&page), created);
    assert_eq!(page["total"], 5);
    let second = body(
        app.get("/api/v1/clients?page=2&page_size=3").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&second), created[3..]);
    assert_eq!(
        (second["page"].clone(), second["page_size"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(second["total"], 5);
}

async fn client_list_filters_by_operator_tag_and_phone_prefix() {
    let app = app_with_operators().await;
    let a = id(&app.create_client("79001110000", "bln", &["vip"]).await);
    let b = id(&app
        .create_client("79001110001", "mts", &["vip", "new"])
        .await);
    let c = id(&app.create_client("79002220000", "bln", &["new"]).await);
    let d = id(&app.create_client("79853330000", "mts", &[]).await);

    for (query, expected) in [
        ("operator_code=bln", vec![a, c]),
        ("operator_code=mts", vec![b, d]),
        ("operator_code=tele2", vec![]),
        ("tag=vip", vec![a, b]),
        ("tag=new", vec![b, c]),
        ("tag=nobody", vec![]),
        ("phone_prefix=7900111", vec![a, b]),
        ("phone_prefix=7985", vec![d]),
        ("phone_prefix=7", vec![a, b, c, d]),
        ("phone_prefix=79001110001", vec![b]),
        ("operator_code=bln&tag=new", vec![c]),
        ("operator_code=mts&tag=vip&phone_prefix=790", vec![b]),
        ("tag=new&page_size=1&page=2", vec![c]),
    ] {
        let page = body(
            app.get(&format!("/api/v1/clients?{query}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(ids(&page), expected, "{query}");
        if !query.contains("page") {
            assert_eq!(page["total"], expected.len(), "{query}");
        }
    }
    let tagged = body(
        app.get("/api/v1/clients?tag=Another%20Tag").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tagged["total"], 0);
}

async fn client_list_refuses_malformed_filters() {
    let app = app_with_operators().await;

    for (query, field, rule) in [
        ("operator_code=BLN", "operator_code", "operator_code_format"),
        ("operator_code=", "operator_code", "empty"),
        ("tag=", "tag", "empty"),
        ("tag=a%0Ab", "tag", "control_characters"),
        ("phone_prefix=abc", "phone_prefix", "digits"),
        ("phone_prefix=", "phone_prefix", "digits"),
        ("phone_prefix=790012345678", "phone_prefix", "digits"),
        ("phone_prefix=7%25", "phone_prefix", "digits"),
    ] {
        let response = app.get(&format!("/api/v1/clients?{query}")).await;
        invalid_query(response, &[(field, rule)]).await;
    }
}

async fn put_replaces_the_whole_client() {
    let app = app_with_operators().await;
    let client = body(
        app.post_json("/api/v1/clients", &client_input()).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/clients/{}", id(&client));

    let replaced = body(
        app.put_json(
            &path,
            &json!({ "phone_number": "79009999999", "operator_code": "mts", "tags": ["x"] }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["phone_number"], "79009999999");
    assert_eq!(replaced["operator_code"], "mts");
    assert_eq!(replaced["tags"], json!(["x"]));
    assert_eq!(
        replaced["time_zone"], "UTC",
        "a field left out of PUT takes its default"
    );
    assert_eq!(replaced["created_at"], client["created_at"]);

    let bare = body(
        app.put_json(
            &path,
            &json!({ "phone_number": "79009999999", "operator_code": "mts" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bare["tags"], json!([]));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, bare);
}

async fn patch_changes_only_given_fields() {
    let app = app_with_operators().await;
    let client = body(
        app.post_json("/api/v1/clients", &client_input()).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/clients/{}", id(&client));

    let moved = body(
        app.patch_json(&path, &json!({ "time_zone": "Asia/Vladivostok" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["time_zone"], "Asia/Vladivostok");
    assert_eq!(moved["phone_number"], client["phone_number"]);
    assert_eq!(moved["operator_code"], client["operator_code"]);
    assert_eq!(moved["tags"], client["tags"]);

    let retagged = body(
        app.patch_json(&path, &json!({ "tags": ["only"], "operator_code": "mts" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        retagged["tags"],
        json!(["only"]),
        "tags replace the whole set"
    );
    assert_eq!(retagged["operator_code"], "mts");
    let untagged = body(
        app.patch_json(&path, &json!({ "tags": [] })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(untagged["tags"], json!([]));
    assert_eq!(untagged["time_zone"], "Asia/Vladivostok");
    let same = body(app.patch_json(&path, &json!({})).await, StatusCode::OK).await;
    assert_eq!(same["phone_number"], "79001234567");
}

async fn delete_removes_the_client() {
    let app = app_with_operators().await;
    let client = app.create_client("79001234567", "bln", &["vip"]).await;
    let path = format!("/api/v1/clients/{}", id(&client));

    let response = app.delete(&path).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.clients, 0);
    assert_eq!(app.counts().await.tags, 1, "tags outlive their clients");
    // The phone number is free again.
    app.create_client("79001234567", "bln", &[]).await;
}

async fn missing_clients_are_not_found() {
    let app = app_with_operators().await;
    let path = "/api/v1/clients/4242";

    error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.put_json(path, &client_input()).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.patch_json(path, &json!({ "time_zone": "UTC" })).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(path).await, StatusCode::NOT_FOUND, "not_found").await;
    let counts = app.counts().await;
    assert_eq!((counts.clients, counts.tags), (0, 0));
}

async fn invalid_clients_are_refused_and_nothing_is_stored() {
    let app = app_with_operators().await;
    let before = app.counts().await;
    let base = client_input();
    let too_many: Vec<String> = (0..51).map(|i| format!("tag{i}")).collect();
    let cases = vec![
        (
            json!({ "phone_number": "" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": "7900123456" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": "790012345678" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": "89001234567" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": "+79001234567" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": "7900123456a" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": " 79001234567" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": "7 900 123 45 67" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "phone_number": "７9001234567" }),
            vec![("phone_number", "phone_format")],
        ),
        (
            json!({ "time_zone": "Moscow" }),
            vec![("time_zone", "unknown_time_zone")],
        ),
        (
            json!({ "time_zone": "europe/moscow" }),
            vec![("time_zone", "unknown_time_zone")],
        ),
        (
            json!({ "time_zone": "+03:00" }),
            vec![("time_zone", "unknown_time_zone")],
        ),
        (
            json!({ "time_zone": "MSK" }),
            vec![("time_zone", "unknown_time_zone")],
        ),
        (
            json!({ "time_zone": "" }),
            vec![("time_zone", "unknown_time_zone")],
        ),
        (
            json!({ "time_zone": "Mars/Olympus" }),
            vec![("time_zone", "unknown_time_zone")],
        ),
        (
            json!({ "operator_code": "BLN" }),
            vec![("operator_code", "operator_code_format")],
        ),
        (
            json!({ "operator_code": "" }),
            vec![("operator_code", "empty")],
        ),
        (
            json!({ "operator_code": "b.ln" }),
            vec![("operator_code", "operator_code_format")],
        ),
        (json!({ "tags": [""] }), vec![("tags[0]", "empty")]),
        (json!({ "tags": ["ok", "  "] }), vec![("tags[1]", "empty")]),
        (
            json!({ "tags": ["ok", "t".repeat(65)] }),
            vec![("tags[1]", "too_long")],
        ),
        (
            json!({ "tags": ["a\u{0}b"] }),
            vec![("tags[0]", "control_characters")],
        ),
        (json!({ "tags": too_many }), vec![("tags", "too_many")]),
        (
            json!({ "phone_number": "1", "operator_code": "X", "tags": [""], "time_zone": "Nowhere" }),
            vec![
                ("phone_number", "phone_format"),
                ("operator_code", "operator_code_format"),
                ("tags[0]", "empty"),
                ("time_zone", "unknown_time_zone"),
            ],
        ),
    ];
    for (changes, expected) in cases {
        let input = with(&base, changes);
        let response = app.post_json("/api/v1/clients", &input).await;
        validation(response, &expected).await;
    }
    assert_eq!(app.counts().await, before);

    let fifty: Vec<String> = (0..50).map(|i| format!("tag{i}")).collect();
    let input = with(&base, json!({ "tags": fifty }));
    let created = body(
        app.post_json("/api/v1/clients", &input).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["tags"].as_array().unwrap().len(), 50);
}

async fn unknown_operator_is_a_validation_error_and_creates_no_tags() {
    let app = app_with_operators().await;
    let before = app.counts().await;

    let input = with(
        &client_input(),
        json!({ "operator_code": "tele2", "tags": ["brand-new"] }),
    );
    let response = app.post_json("/api/v1/clients", &input).await;
    validation(response, &[("operator_code", "unknown_operator")]).await;
    assert_eq!(app.counts().await, before);
}

async fn invalid_client_updates_change_nothing() {
    let app = app_with_operators().await;
    let client = body(
        app.post_json("/api/v1/clients", &client_input()).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/clients/{}", id(&client));
    let before = app.counts().await;

    let response = app
        .patch_json(&path, &json!({ "phone_number": "123" }))
        .await;
    validation(response, &[("phone_number", "phone_format")]).await;
    let response = app
        .patch_json(&path, &json!({ "time_zone": "Moscow" }))
        .await;
    validation(response, &[("time_zone", "unknown_time_zone")]).await;
    let response = app
        .patch_json(
            &path,
            &json!({ "operator_code": "tele2", "tags": ["fresh"] }),
        )
        .await;
    validation(response, &[("operator_code", "unknown_operator")]).await;
    let response = app
        .put_json(&path, &with(&client_input(), json!({ "tags": ["ok", ""] })))
        .await;
    validation(response, &[("tags[1]", "empty")]).await;
    let response = app
        .put_json(
            &path,
            &with(&client_input(), json!({ "operator_code": "tele2" })),
        )
        .await;
    validation(response, &[("operator_code", "unknown_operator")]).await;

    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, client);
    assert_eq!(app.counts().await, before);
}

async fn duplicate_phone_numbers_conflict() {
    let app = app_with_operators().await;
    app.create_client("79001234567", "bln", &[]).await;
    let other = app.create_client("79007654321", "mts", &[]).await;
    let before = app.counts().await;

    let input = with(&client_input(), json!({ "tags": ["would-be-created"] }));
    let response = app.post_json("/api/v1/clients", &input).await;
    let conflict = error(response, StatusCode::CONFLICT, "duplicate_phone_number").await;
    assert_details(&conflict, &[("phone_number", "unique")]);
    assert_eq!(app.counts().await, before);

    let path = format!("/api/v1/clients/{}", id(&other));
    let response = app
        .patch_json(&path, &json!({ "phone_number": "79001234567" }))
        .await;
    error(response, StatusCode::CONFLICT, "duplicate_phone_number").await;
    let response = app.put_json(&path, &client_input()).await;
    error(response, StatusCode::CONFLICT, "duplicate_phone_number").await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, other);
    assert_eq!(app.counts().await, before);
}

async fn deleting_a_client_cancels_its_unsent_messages_and_keeps_the_rest() {
    let app = app_with_operators().await;
    let leaving = id(&app.create_client("79001234567", "bln", &[]).await);
    let staying = id(&app.create_client("79007654321", "bln", &[]).await);
    let mut mailings = vec![];
    for _ in 0..6 {
        mailings.push(id(&app.running_mailing().await));
    }
    let statuses = [
        MessageStatus::Scheduled,
        MessageStatus::Queued,
        MessageStatus::Retrying,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Expired,
    ];
    let mut plan = vec![];
    for (mailing, status) in mailings.iter().zip(statuses) {
        plan.push(message(*mailing, leaving, status));
        plan.push(message(*mailing, staying, MessageStatus::Scheduled));
    }
    assert_eq!(app.insert_messages(plan).await, 12);

    let response = app.delete(&format!("/api/v1/clients/{leaving}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let left = body(
        app.get(&format!("/api/v1/messages?client_id={leaving}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        left["total"], 0,
        "the deleted client's messages lost their client"
    );
    let all = body(
        app.get("/api/v1/messages?page_size=500").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all["total"], 12, "no message is removed");
    let orphans: Vec<(i64, String)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["client_id"].is_null())
        .map(|m| {
            (
                m["mailing_id"].as_i64().unwrap(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, String)> = mailings
        .iter()
        .zip([
            "cancelled",
            "cancelled",
            "cancelled",
            "sent",
            "failed",
            "expired",
        ])
        .map(|(mailing, status)| (*mailing, status.to_owned()))
        .collect();
    assert_eq!(orphans, expected);
    let sent = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["status"] == "sent")
        .unwrap();
    assert!(
        sent["sent_at"].is_string(),
        "a sent message keeps its sent_at"
    );

    let others = body(
        app.get(&format!("/api/v1/messages?client_id={staying}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(others["total"], 6);
    assert!(
        others["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "scheduled"),
        "other clients' messages are untouched: {others}"
    );
}

async fn racing_clients_share_the_tags_they_create() {
    let app = app_with_operators().await;

    let requests = (0..8)
        .map(|i| {
            let input = json!({
                "phone_number": format!("7900000000{i}"),
                "operator_code": "bln",
                "tags": ["fresh", "also fresh", format!("own {i}")],
            });
            (Method::POST, "/api/v1/clients".to_owned(), input)
        })
        .collect();
    for (status, created) in concurrently(&app, requests).await {
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    assert_eq!(app.counts().await.tags, 2 + 8);
    let fresh = body(app.get("/api/v1/clients?tag=fresh").await, StatusCode::OK).await;
    assert_eq!(fresh["total"], 8);
}

async fn racing_duplicate_phones_get_one_client_and_conflicts() {
    let app = app_with_operators().await;

    let requests = (0..8)
        .map(|i| {
            let input = json!({
                "phone_number": "79001234567",
                "operator_code": "bln",
                "tags": [format!("tag {i}")],
            });
            (Method::POST, "/api/v1/clients".to_owned(), input)
        })
        .collect();
    let results = concurrently(&app, requests).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    for (status, refused) in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{refused}");
        assert_eq!(refused["code"], "duplicate_phone_number");
    }
    let counts = app.counts().await;
    assert_eq!(
        (counts.clients, counts.tags),
        (1, 1),
        "the losers' tags were not kept"
    );
}
