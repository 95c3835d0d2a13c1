use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

both_setups!(
    create_get_list_update_and_delete_tags,
    renaming_and_deleting_a_tag_shows_on_clients,
    a_tag_clients_carry_is_deleted_only_with_detach,
    a_tag_a_filter_names_is_not_deleted,
    the_detach_parameter_is_checked,
    invalid_tags_are_refused_and_nothing_is_stored,
    invalid_tag_updates_change_nothing,
    duplicate_values_conflict,
    missing_tags_are_not_found,
    racing_duplicates_get_one_tag_and_conflicts,
);

async fn create_get_list_update_and_delete_tags() {
    let app = spawn_app().await;

    let response = app
        .post_json("/api/v1/tags", &json!({ "value": "  Another Tag\t" }))
        .await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["value"], "Another Tag", "values are trimmed");
    assert!(created["created_at"].is_string());
    let path = format!("/api/v1/tags/{}", id(&created));
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, created);

    let important = app.create_tag("Important").await;
    let page = body(app.get("/api/v1/tags").await, StatusCode::OK).await;
    assert_eq!(ids(&page), [id(&created), id(&important)]);
    assert_eq!(page["total"], 2);
    let second = body(
        app.get("/api/v1/tags?page=2&page_size=1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&second), [id(&important)]);
    assert_eq!(second["total"], 2);

    let replaced = body(
        app.put_json(&path, &json!({ "value": "Renamed" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["value"], "Renamed");
    let patched = body(
        app.patch_json(&path, &json!({ "value": "Patched" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["value"], "Patched");
    let untouched = body(app.patch_json(&path, &json!({})).await, StatusCode::OK).await;
    assert_eq!(untouched, patched);

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.tags, 1);
}

async fn renaming_and_deleting_a_tag_shows_on_clients() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let client = app
        .create_client("79001234567", "bln", &["vip", "new"])
        .await;
    let client_path = format!("/api/v1/clients/{}", id(&client));
    let tags = body(app.get("/api/v1/tags").await, StatusCode::OK).await;
    let vip = tags["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["value"] == "vip")
        .expect("the client's tags exist as resources")
        .clone();

    let path = format!("/api/v1/tags/{}", id(&vip));
    body(
        app.put_json(&path, &json!({ "value": "VIP" })).await,
        StatusCode::OK,
    )
    .await;
    let renamed = body(app.get(&client_path).await, StatusCode::OK).await;
    assert_eq!(renamed["tags"], json!(["VIP", "new"]));

    let detach = format!("{path}?detach=true");
    assert_eq!(app.delete(&detach).await.status(), StatusCode::NO_CONTENT);
    let untagged = body(app.get(&client_path).await, StatusCode::OK).await;
    assert_eq!(untagged["tags"], json!(["new"]));
}

async fn a_tag_clients_carry_is_deleted_only_with_detach() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let first = app.create_client("79001234567", "bln", &["vip"]).await;
    app.create_client("79001234568", "bln", &["vip", "new"])
        .await;
    let vip = app.create_tag("unused").await;
    let tags = body(app.get("/api/v1/tags").await, StatusCode::OK).await;
    let vip_id = tags["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["value"] == "vip")
        .map(id)
        .unwrap();
    let path = format!("/api/v1/tags/{vip_id}");
    let before = app.counts().await;

    let refused = error(app.delete(&path).await, StatusCode::CONFLICT, "tag_in_use").await;
    assert_eq!(
        refused["message"],
        "the tag is carried by 2 clients; delete it with ?detach=true to take it off them as well"
    );
    let explicit = format!("{path}?detach=false");
    error(
        app.delete(&explicit).await,
        StatusCode::CONFLICT,
        "tag_in_use",
    )
    .await;
    assert_eq!(app.counts().await, before);
    let client_path = format!("/api/v1/clients/{}", id(&first));
    assert_eq!(
        body(app.get(&client_path).await, StatusCode::OK).await["tags"],
        json!(["vip"])
    );

    let detach = format!("{path}?detach=true");
    assert_eq!(app.delete(&detach).await.status(), StatusCode::NO_CONTENT);
    error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        body(app.get(&client_path).await, StatusCode::OK).await["tags"],
        json!([])
    );
    assert_eq!(app.counts().await.clients, before.clients);
    // A tag nobody carries needs no detach.
    let unused = format!("/api/v1/tags/{}", id(&vip));
    assert_eq!(app.delete(&unused).await.status(), StatusCode::NO_CONTENT);
}

async fn a_tag_a_filter_names_is_not_deleted() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    app.create_client("79001234567", "bln", &["vip"]).await;
    app.create_tag("other").await;
    let tags = body(app.get("/api/v1/tags").await, StatusCode::OK).await;
    let path = format!("/api/v1/tags/{}", id(&tags["items"][0]));
    let filter = app
        .create_client_filter(&json!({ "name": "VIPs", "tags": ["vip"] }))
        .await;
    let mailing = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            json!({ "filter": { "tags": ["vip"] } }),
        ))
        .await;

    for query in ["", "?detach=true"] {
        let refused = error(
            app.delete(&format!("{path}{query}")).await,
            StatusCode::CONFLICT,
            "tag_in_use",
        )
        .await;
        assert_eq!(
            refused["message"],
            format!(
                "the tag is carried by 1 client and named in client filter {} and in the filter \
                 of mailing {}, which has not started; take it out of those filters first, then \
                 delete it with ?detach=true to take it off the clients as well",
                id(&filter),
                id(&mailing)
            )
        );
    }

    let filter_path = format!("/api/v1/client-filters/{}", id(&filter));
    body(
        app.patch_json(&filter_path, &json!({ "tags": ["other"] }))
            .await,
        StatusCode::OK,
    )
    .await;
    let mailing_path = format!("/api/v1/mailings/{}", id(&mailing));
    assert_eq!(
        app.delete(&mailing_path).await.status(),
        StatusCode::NO_CONTENT
    );
    let detach = format!("{path}?detach=true");
    assert_eq!(app.delete(&detach).await.status(), StatusCode::NO_CONTENT);
}

async fn the_detach_parameter_is_checked() {
    let app = spawn_app().await;
    let tag = app.create_tag("vip").await;
    let path = format!("/api/v1/tags/{}", id(&tag));

    for query in ["?detach=yes", "?detach=", "?detach=1"] {
        let response = app.delete(&format!("{path}{query}")).await;
        let refused = error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
        assert_eq!(
            refused["details"][0]["field"], "detach",
            "{query}: {refused}"
        );
    }
    let response = app.delete(&format!("{path}?force=true")).await;
    error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_eq!(app.counts().await.tags, 1);
}

async fn invalid_tags_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let before = app.counts().await;

    for (value, rule) in [
        (json!(""), "empty"),
        (json!(" \t\n "), "empty"),
        (json!("t".repeat(65)), "too_long"),
        (json!("é".repeat(65)), "too_long"),
        (json!("new\nline"), "control_characters"),
        (json!("nul\u{0}byte"), "control_characters"),
    ] {
        let response = app
            .post_json("/api/v1/tags", &json!({ "value": value }))
            .await;
        validation(response, &[("value", rule)]).await;
    }
    assert_eq!(app.counts().await, before);

    let longest = json!({ "value": "é".repeat(64) });
    body(
        app.post_json("/api/v1/tags", &longest).await,
        StatusCode::CREATED,
    )
    .await;
}

async fn invalid_tag_updates_change_nothing() {
    let app = spawn_app().await;
    let tag = app.create_tag("Important").await;
    let path = format!("/api/v1/tags/{}", id(&tag));

    validation(
        app.put_json(&path, &json!({ "value": "" })).await,
        &[("value", "empty")],
    )
    .await;
    let response = app
        .patch_json(&path, &json!({ "value": "x".repeat(65) }))
        .await;
    validation(response, &[("value", "too_long")]).await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, tag);
}

async fn duplicate_values_conflict() {
    let app = spawn_app().await;
    app.create_tag("Important").await;
    let other = app.create_tag("Other").await;
    let before = app.counts().await;

    let response = app
        .post_json("/api/v1/tags", &json!({ "value": " Important " }))
        .await;
    let conflict = error(response, StatusCode::CONFLICT, "duplicate_tag").await;
    assert_details(&conflict, &[("value", "unique")]);
    assert_eq!(app.counts().await, before);

    // Values compare exactly: case makes a different tag.
    body(
        app.post_json("/api/v1/tags", &json!({ "value": "important" }))
            .await,
        StatusCode::CREATED,
    )
    .await;

    let path = format!("/api/v1/tags/{}", id(&other));
    let response = app.put_json(&path, &json!({ "value": "Important" })).await;
    error(response, StatusCode::CONFLICT, "duplicate_tag").await;
    let response = app
        .patch_json(&path, &json!({ "value": "Important" }))
        .await;
    error(response, StatusCode::CONFLICT, "duplicate_tag").await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, other);
}

async fn missing_tags_are_not_found() {
    let app = spawn_app().await;
    let path = "/api/v1/tags/12345";

    error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.put_json(path, &json!({ "value": "x" })).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.patch_json(path, &json!({ "value": "x" })).await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    error(
        app.patch_json(path, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error(app.delete(path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.tags, 0);
}

async fn racing_duplicates_get_one_tag_and_conflicts() {
    let app = spawn_app().await;

    let requests = (0..8)
        .map(|_| {
            (
                Method::POST,
                "/api/v1/tags".to_owned(),
                json!({ "value": "race" }),
            )
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
        assert_eq!(refused["code"], "duplicate_tag");
    }
    assert_eq!(app.counts().await.tags, 1);
}
