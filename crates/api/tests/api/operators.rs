use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

both_setups!(
    create_get_and_list_operators,
    operator_list_is_paginated_by_id,
    put_replaces_and_patch_changes_given_fields,
    delete_removes_the_operator,
    missing_operators_are_not_found,
    invalid_operators_are_refused_and_nothing_is_stored,
    invalid_updates_change_nothing,
    duplicate_codes_conflict,
    operators_in_use_cannot_be_deleted_or_recoded,
    racing_duplicate_codes_get_one_operator_and_conflicts,
);

async fn create_get_and_list_operators() {
    let app = spawn_app().await;

    let response = app
        .post_json(
            "/api/v1/operators",
            &json!({ "code": " bln ", "name": " Beeline " }),
        )
        .await;
    let created = body(response, StatusCode::CREATED).await;
    assert_eq!(created["code"], "bln", "codes are trimmed");
    assert_eq!(created["name"], "Beeline", "names are trimmed");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let fetched = body(
        app.get(&format!("/api/v1/operators/{}", id(&created)))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched, created);

    let mts = app.create_operator("mts").await;
    let tele2 = app.create_operator("tele2").await;
    let page = body(app.get("/api/v1/operators").await, StatusCode::OK).await;
    assert_eq!(ids(&page), [id(&created), id(&mts), id(&tele2)]);
    assert_eq!(page["page"], 1);
    assert_eq!(page["page_size"], 50);
    assert_eq!(page["total"], 3);
}

async fn operator_list_is_paginated_by_id() {
    let app = spawn_app().await;
    let mut created = vec![];
    for code in ["o1", "o2", "o3", "o4", "o5"] {
        created.push(id(&app.create_operator(code).await));
    }

    let first = body(
        app.get("/api/v1/operators?page_size=2").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&first), created[0..2]);
    assert_eq!(
        (first["page"].clone(), first["total"].clone()),
        (json!(1), json!(5))
    );
    let third = body(
        app.get("/api/v1/operators?page=3&page_size=2").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&third), created[4..5]);
    assert_eq!(third["page_size"], 2);
    let beyond = body(
        app.get("/api/v1/operators?page=4&page_size=2").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&beyond), Vec::<i64>::new());
    assert_eq!(beyond["total"], 5);
}

async fn put_replaces_and_patch_changes_given_fields() {
    let app = spawn_app().await;
    let operator = app.create_operator("bln").await;
    let path = format!("/api/v1/operators/{}", id(&operator));

    let replaced = body(
        app.put_json(&path, &json!({ "code": "beeline", "name": "VimpelCom" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (replaced["code"].as_str(), replaced["name"].as_str()),
        (Some("beeline"), Some("VimpelCom"))
    );
    assert_eq!(replaced["created_at"], operator["created_at"]);

    let patched = body(
        app.patch_json(&path, &json!({ "name": "Beeline" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        patched["code"], "beeline",
        "a field left out keeps its value"
    );
    assert_eq!(patched["name"], "Beeline");
    let unchanged = body(app.patch_json(&path, &json!({})).await, StatusCode::OK).await;
    assert_eq!(
        (unchanged["code"].clone(), unchanged["name"].clone()),
        (json!("beeline"), json!("Beeline"))
    );
    assert_eq!(
        body(app.get(&path).await, StatusCode::OK).await["name"],
        "Beeline"
    );
}

async fn delete_removes_the_operator() {
    let app = spawn_app().await;
    let operator = app.create_operator("bln").await;
    let path = format!("/api/v1/operators/{}", id(&operator));

    let response = app.delete(&path).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.text().await.unwrap().is_empty());
    error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(app.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.operators, 0);
}

async fn missing_operators_are_not_found() {
    let app = spawn_app().await;
    let path = "/api/v1/operators/999";
    let valid = json!({ "code": "bln", "name": "Beeline" });

    error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    error(
        app.put_json(path, &valid).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error(
        app.patch_json(path, &valid).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error(app.delete(path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.counts().await.operators, 0);
}

async fn invalid_operators_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let before = app.counts().await;
    let cases = [
        (
            json!({ "code": "", "name": "Beeline" }),
            vec![("code", "empty")],
        ),
        (
            json!({ "code": "   ", "name": "Beeline" }),
            vec![("code", "empty")],
        ),
        (
            json!({ "code": "BLN", "name": "Beeline" }),
            vec![("code", "operator_code_format")],
        ),
        (
            json!({ "code": "b ln", "name": "Beeline" }),
            vec![("code", "operator_code_format")],
        ),
        (
            json!({ "code": "-bln", "name": "Beeline" }),
            vec![("code", "operator_code_format")],
        ),
        (
            json!({ "code": "билайн", "name": "Beeline" }),
            vec![("code", "operator_code_format")],
        ),
        (
            json!({ "code": "x".repeat(33), "name": "Beeline" }),
            vec![("code", "operator_code_format")],
        ),
        (
            json!({ "code": "bln", "name": "" }),
            vec![("name", "empty")],
        ),
        (
            json!({ "code": "bln", "name": "n".repeat(101) }),
            vec![("name", "too_long")],
        ),
        (
            json!({ "code": "bln", "name": "Bee\nline" }),
            vec![("name", "control_characters")],
        ),
        (
            json!({ "code": "BLN", "name": " " }),
            vec![("code", "operator_code_format"), ("name", "empty")],
        ),
    ];
    for (input, expected) in &cases {
        let response = app.post_json("/api/v1/operators", input).await;
        validation(response, expected).await;
    }
    assert_eq!(app.counts().await, before);

    let longest = json!({ "code": "x".repeat(32), "name": "n".repeat(100) });
    body(
        app.post_json("/api/v1/operators", &longest).await,
        StatusCode::CREATED,
    )
    .await;
}

async fn invalid_updates_change_nothing() {
    let app = spawn_app().await;
    let operator = app.create_operator("bln").await;
    let path = format!("/api/v1/operators/{}", id(&operator));

    let response = app
        .put_json(&path, &json!({ "code": "BLN", "name": "" }))
        .await;
    validation(
        response,
        &[("code", "operator_code_format"), ("name", "empty")],
    )
    .await;
    let response = app.patch_json(&path, &json!({ "code": "b/ln" })).await;
    validation(response, &[("code", "operator_code_format")]).await;
    let response = app.patch_json(&path, &json!({ "name": "\u{7}" })).await;
    validation(response, &[("name", "control_characters")]).await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, operator);
}

async fn duplicate_codes_conflict() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let mts = app.create_operator("mts").await;
    let before = app.counts().await;

    let response = app
        .post_json(
            "/api/v1/operators",
            &json!({ "code": "bln", "name": "Other" }),
        )
        .await;
    let conflict = error(response, StatusCode::CONFLICT, "duplicate_operator_code").await;
    assert_details(&conflict, &[("code", "unique")]);
    assert_eq!(app.counts().await, before);

    let path = format!("/api/v1/operators/{}", id(&mts));
    let response = app.patch_json(&path, &json!({ "code": "bln" })).await;
    error(response, StatusCode::CONFLICT, "duplicate_operator_code").await;
    let response = app
        .put_json(&path, &json!({ "code": "bln", "name": "MTS" }))
        .await;
    error(response, StatusCode::CONFLICT, "duplicate_operator_code").await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, mts);
}

async fn operators_in_use_cannot_be_deleted_or_recoded() {
    let app = spawn_app().await;
    let operator = app.create_operator("bln").await;
    let client = app.create_client("79001234567", "bln", &[]).await;
    let path = format!("/api/v1/operators/{}", id(&operator));

    error(
        app.delete(&path).await,
        StatusCode::CONFLICT,
        "operator_in_use",
    )
    .await;
    let response = app.patch_json(&path, &json!({ "code": "beeline" })).await;
    error(response, StatusCode::CONFLICT, "operator_in_use").await;
    let response = app
        .put_json(&path, &json!({ "code": "beeline", "name": "Beeline" }))
        .await;
    error(response, StatusCode::CONFLICT, "operator_in_use").await;
    assert_eq!(body(app.get(&path).await, StatusCode::OK).await, operator);
    assert_eq!(app.counts().await.operators, 1);

    // Renaming keeps the code, so the clients are not affected.
    let renamed = body(
        app.put_json(&path, &json!({ "code": "bln", "name": "Beeline 2" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["name"], "Beeline 2");
    body(
        app.patch_json(&path, &json!({ "code": "bln" })).await,
        StatusCode::OK,
    )
    .await;

    let response = app
        .delete(&format!("/api/v1/clients/{}", id(&client)))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
}

async fn racing_duplicate_codes_get_one_operator_and_conflicts() {
    let app = spawn_app().await;

    let requests = (0..8)
        .map(|i| {
            let input = json!({ "code": "race", "name": format!("Racer {i}") });
            (Method::POST, "/api/v1/operators".to_owned(), input)
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
        assert_eq!(refused["code"], "duplicate_operator_code");
    }
    assert_eq!(app.counts().await.operators, 1);
}
