use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

both_setups!(
    create_get_and_list_client_filters,
    put_replaces_and_patch_merges,
    delete_removes_the_filter,
    missing_filters_are_not_found,
    invalid_filters_are_refused_and_nothing_is_stored,
    invalid_filter_updates_change_nothing,
    mailings_keep_their_copy_of_a_saved_filter,
);

async fn create_get_and_list_client_filters() {
    let app = spawn_app().await;

    let created = app
        .create_client_filter(&json!({
            "name": "  Beeline VIPs ",
            "operator_codes": ["bln", "bln", "mts"],
            "tags": ["vip", "Another Tag"],
        }))
        .await;
    assert_eq!(created["name"], "Beeline VIPs");
    assert_eq!(
        created["operator_codes"],
        json!(["bln", "mts"]),
        "duplicates collapse"
    );
    assert_eq!(created["tags"], json!(["Another Tag", "vip"]));
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());
    let path = format!("/api/v1/client-filters/{}", id(&created));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, created);

    let everyone = app.create_client_filter(&json!({})).await;
    assert_eq!(everyone["name"], json!(null));
    assert_eq!(everyone["operator_codes"], json!([]));
    assert_eq!(everyone["tags"], json!([]));

    let page = body(app.get("/api/v1/client-filters").await, StatusCode::OK).await;
    assert_eq!(ids(&page), [id(&created), id(&everyone)]);
    assert_eq!(page["total"], 2);
    let second = body(
        app.get("/api/v1/client-filters?page=2&page_size=1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&second), [id(&everyone)]);
}

async fn put_replaces_and_patch_merges() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let filter = app
        .create_client_filter(&json!({ "name": "A", "operator_codes": ["bln"], "tags": ["vip"] }))
        .await;
    let path = format!("/api/v1/client-filters/{}", id(&filter));

    let replaced = body(
        app.put_json(&path, &json!({ "operator_codes": ["mts"] }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["name"], json!(null), "PUT leaves out nothing");
    assert_eq!(replaced["operator_codes"], json!(["mts"]));
    assert_eq!(replaced["tags"], json!([]));

    let named = body(
        app.patch_json(&path, &json!({ "name": "B" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(named["name"], "B");
    assert_eq!(named["operator_codes"], json!(["mts"]));
    let tagged = body(
        app.patch_json(&path, &json!({ "tags": ["new"] })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        tagged["operator_codes"],
        json!(["mts"]),
        "a list left out is kept"
    );
    assert_eq!(tagged["tags"], json!(["new"]));
    assert_eq!(tagged["name"], "B");
    let unnamed = body(
        app.patch_json(&path, &json!({ "name": null })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unnamed["name"], json!(null), "null clears the name");
    assert_eq!(unnamed["tags"], json!(["new"]));
    let cleared = body(
        app.patch_json(&path, &json!({ "operator_codes": [] }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["operator_codes"], json!([]));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, cleared);
}

async fn delete_removes_the_filter() {
    let app = spawn_app().await;
    let filter = app.create_client_filter(&json!({ "tags": ["vip"] })).await;
    let path = format!("/api/v1/client-filters/{}", id(&filter));

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.client_filters, 0);
}

async fn missing_filters_are_not_found() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let path = "/api/v1/client-filters/77";

    error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(
        app.put_json(path, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error(
        app.patch_json(path, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = app.patch_json(path, &json!({ "tags": ["x"] })).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(path).await, StatusCode::NOT_FOUND, "not_found").await;
}

async fn invalid_filters_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let before = app.counts().await;
    let codes: Vec<String> = (0..101).map(|i| format!("op{i}")).collect();
    let tags: Vec<String> = (0..101).map(|i| format!("tag{i}")).collect();

    for (input, expected) in [
        (json!({ "name": "" }), vec![("name", "empty")]),
        (json!({ "name": "   " }), vec![("name", "empty")]),
        (
            json!({ "name": "n".repeat(101) }),
            vec![("name", "too_long")],
        ),
        (
            json!({ "name": "a\tb" }),
            vec![("name", "control_characters")],
        ),
        (
            json!({ "operator_codes": ["BLN"] }),
            vec![("operator_codes[0]", "operator_code_format")],
        ),
        (
            json!({ "operator_codes": ["bln", ""] }),
            vec![("operator_codes[1]", "empty")],
        ),
        (json!({ "tags": ["ok", ""] }), vec![("tags[1]", "empty")]),
        (
            json!({ "tags": ["t".repeat(65)] }),
            vec![("tags[0]", "too_long")],
        ),
        (
            json!({ "operator_codes": codes }),
            vec![("operator_codes", "too_many")],
        ),
        (json!({ "tags": tags }), vec![("tags", "too_many")]),
        (
            json!({ "name": "", "operator_codes": ["X"], "tags": [""] }),
            vec![
                ("name", "empty"),
                ("operator_codes[0]", "operator_code_format"),
                ("tags[0]", "empty"),
            ],
        ),
    ] {
        let response = app.post_json("/api/v1/client-filters", &input).await;
        validation(response, &expected).await;
    }
    assert_eq!(app.counts().await, before);

    let hundred: Vec<String> = (0..100).map(|i| format!("op{i}")).collect();
    app.create_client_filter(&json!({ "operator_codes": hundred, "name": "n".repeat(100) }))
        .await;
}

async fn invalid_filter_updates_change_nothing() {
    let app = spawn_app().await;
    let filter = app
        .create_client_filter(&json!({ "name": "A", "operator_codes": ["bln"] }))
        .await;
    let path = format!("/api/v1/client-filters/{}", id(&filter));

    let response = app
        .put_json(&path, &json!({ "operator_codes": ["B L N"] }))
        .await;
    validation(response, &[("operator_codes[0]", "operator_code_format")]).await;
    validation(
        app.patch_json(&path, &json!({ "name": "" })).await,
        &[("name", "empty")],
    )
    .await;
    let response = app.patch_json(&path, &json!({ "tags": ["\u{1}"] })).await;
    validation(response, &[("tags[0]", "control_characters")]).await;
    let tags: Vec<String> = (0..101).map(|i| format!("tag{i}")).collect();
    let response = app.patch_json(&path, &json!({ "tags": tags })).await;
    validation(response, &[("tags", "too_many")]).await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, filter);
}

async fn mailings_keep_their_copy_of_a_saved_filter() {
    let app = spawn_app().await;
    app.ensure_named(
        &json!({ "operator_codes": ["bln", "mts"], "tags": ["vip", "new", "x", "ok"] }),
    )
    .await;
    let filter = app
        .create_client_filter(&json!({ "operator_codes": ["bln"], "tags": ["vip"] }))
        .await;
    let path = format!("/api/v1/client-filters/{}", id(&filter));
    let mailing = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            json!({ "filter": null, "client_filter_id": id(&filter) }),
        ))
        .await;
    assert_eq!(mailing["client_filter_id"], id(&filter));
    assert_eq!(
        mailing["filter"],
        json!({ "operator_codes": ["bln"], "tags": ["vip"], "attributes": {} })
    );
    let mailing_path = format!("/api/v1/mailings/{}", id(&mailing));

    body(
        app.put_json(&path, &json!({ "operator_codes": ["mts"] }))
            .await,
        StatusCode::OK,
    )
    .await;
    let unchanged = body(app.get(&mailing_path).await, StatusCode::OK).await;
    assert_eq!(
        unchanged["filter"], mailing["filter"],
        "edits of the saved filter do not leak"
    );

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    let orphan = body(app.get(&mailing_path).await, StatusCode::OK).await;
    assert_eq!(orphan["client_filter_id"], json!(null));
    assert_eq!(orphan["filter"], mailing["filter"]);
    assert_eq!(app.counts().await.mailings, 1);
}
