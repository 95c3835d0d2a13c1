//! The client list: filtered by attribute values, walked by cursor, its parameters checked.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_setups!(
    lists_require_attribute_values_read_as_cells,
    a_cursor_walks_the_whole_list_page_by_page,
    bad_cursors_and_attribute_parameters_are_refused,
);

async fn client_holding(app: &TestApp, phone: &str, tags: &[&str], attributes: Value) -> i64 {
    let response = app
        .post_json(
            "/api/v1/clients",
            &json!({"phone_number": phone, "operator_code": "bln", "tags": tags,
                    "attributes": attributes}),
        )
        .await;
    id(&body(response, StatusCode::CREATED).await)
}

async fn listed(app: &TestApp, query: &str) -> Vec<i64> {
    let page = body(
        app.get(&format!("/api/v1/clients?{query}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["total"], json!(ids(&page).len()), "{query}: {page}");
    assert_eq!(page["total_estimated"], false);
    ids(&page)
}

async fn lists_require_attribute_values_read_as_cells() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let a = client_holding(
        &app,
        "79000000001",
        &["vip"],
        json!({"city": "Kazan", "vip": true, "age": 30, "zip": "007"}),
    )
    .await;
    let b = client_holding(
        &app,
        "79000000002",
        &[],
        json!({"city": "Kazan", "vip": "true", "age": "30", "zip": 7}),
    )
    .await;
    let c = client_holding(&app, "79000000003", &["vip"], json!({})).await;

    assert_eq!(listed(&app, "attr.city=Kazan").await, [a, b]);
    assert_eq!(listed(&app, "attr.vip=true").await, [a]);
    assert_eq!(listed(&app, "attr.vip=%22true%22").await, [b]);
    assert_eq!(listed(&app, "attr.age=30").await, [a]);
    // A cell reads as a number only as JSON writes it; `30.0` is text, which nobody holds.
    assert_eq!(listed(&app, "attr.age=30.0").await, Vec::<i64>::new());
    assert_eq!(listed(&app, "attr.zip=%22007%22").await, [a]);
    assert_eq!(listed(&app, "attr.zip=7").await, [b]);
    assert_eq!(listed(&app, "attr.city=Kazan&attr.age=%2230%22").await, [b]);
    assert_eq!(listed(&app, "attr.city=Kazan&tag=vip").await, [a]);
    assert_eq!(listed(&app, "attr.city=Perm").await, Vec::<i64>::new());
    assert_eq!(listed(&app, "tag=vip").await, [a, c]);
}

async fn a_cursor_walks_the_whole_list_page_by_page() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let mut all = vec![];
    for n in 0..7 {
        all.push(client_holding(&app, &format!("7900000001{n}"), &[], json!({})).await);
    }
    let mut seen = vec![];
    let mut query = "page_size=3".to_owned();
    let mut pages = 0;
    loop {
        let page = body(
            app.get(&format!("/api/v1/clients?{query}")).await,
            StatusCode::OK,
        )
        .await;
        pages += 1;
        assert_eq!(
            (page["total"].clone(), page["total_estimated"].clone()),
            (json!(7), json!(false))
        );
        assert_eq!(page["page"], 1);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("page_size=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert_eq!(pages, 3);
    // Page numbers still work.
    let second = body(
        app.get("/api/v1/clients?page=2&page_size=3").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&second), all[3..6].to_vec());
    assert!(second["next_cursor"].is_string());
    let last = body(
        app.get("/api/v1/clients?page=3&page_size=3").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(last["next_cursor"], json!(null));
}

async fn bad_cursors_and_attribute_parameters_are_refused() {
    let app = spawn_app().await;
    for (query, expected) in [
        ("cursor=abc", vec![("cursor", "invalid_cursor")]),
        ("cursor=c1.", vec![("cursor", "invalid_cursor")]),
        ("cursor=c1.zz", vec![("cursor", "invalid_cursor")]),
        ("cursor=c1.0", vec![("cursor", "invalid_cursor")]),
        (
            "cursor=c1.ffffffffffffffffff",
            vec![("cursor", "invalid_cursor")],
        ),
        ("cursor=c1.3e8&page=2", vec![("page", "exclusive")]),
        (
            "attr.City=Kazan",
            vec![("attr.City", "attribute_key_format")],
        ),
        ("attr.=Kazan", vec![("attr.", "attribute_key_format")]),
        ("attr.city=", vec![("attr.city", "empty")]),
        (
            "attr.city=Kazan&attr.city=Perm",
            vec![("attr.city", "duplicate")],
        ),
        ("attrs.city=Kazan", vec![("attrs.city", "unknown_field")]),
        (
            "cursor=x&attr.Bad=1&colour=red",
            vec![
                ("cursor", "invalid_cursor"),
                ("attr.Bad", "attribute_key_format"),
                ("colour", "unknown_field"),
            ],
        ),
    ] {
        let refused = invalid_query(
            app.get(&format!("/api/v1/clients?{query}")).await,
            &expected,
        )
        .await;
        for detail in refused["details"].as_array().unwrap() {
            let message = detail["message"].as_str().unwrap();
            if detail["code"] != "unknown_field" {
                assert!(
                    message.contains("e.g.") || message.contains("for example"),
                    "{query}: {message}"
                );
            }
        }
    }
}
