use crate::helpers::*;
use mailing_domain::MessageStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_setups!(
    messages_list_in_id_order_with_their_fields,
    messages_filter_by_mailing_client_and_status,
    unknown_status_is_a_bad_query,
    missing_messages_are_not_found,
    messages_are_read_only,
    a_message_keeps_the_number_it_was_addressed_to,
    a_deleted_mailings_messages_go_with_it,
);

/// Two mailings and three clients with messages in assorted statuses. Returns
/// (mailings, clients).
async fn arrange(app: &TestApp) -> (Vec<i64>, Vec<i64>) {
    app.create_operator("bln").await;
    let mut clients = vec![];
    for phone in ["79000000001", "79000000002", "79000000003"] {
        clients.push(id(&app.create_client(phone, "bln", &[]).await));
    }
    let first = id(&app.running_mailing().await);
    let second = id(&app.running_mailing().await);
    app.insert_messages_in(
        first,
        &[
            (clients[0], MessageStatus::Sent),
            (clients[1], MessageStatus::Scheduled),
            (clients[2], MessageStatus::Failed),
        ],
    )
    .await;
    app.insert_messages_in(
        second,
        &[
            (clients[0], MessageStatus::Scheduled),
            (clients[1], MessageStatus::Sent),
        ],
    )
    .await;
    (vec![first, second], clients)
}

fn pairs(page: &Value) -> Vec<(i64, i64, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mailing_id"].as_i64().unwrap(),
                m["client_id"].as_i64().unwrap(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn messages_list_in_id_order_with_their_fields() {
    let app = spawn_app().await;
    let (mailings, clients) = arrange(&app).await;

    let page = body(app.get("/api/v1/messages").await, StatusCode::OK).await;
    assert_eq!(page["total"], 5);
    let listed = ids(&page);
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted);
    let first = &page["items"][0];
    for field in [
        "id",
        "mailing_id",
        "client_id",
        "phone_number",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "updated_at",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    assert_eq!(first["mailing_id"], mailings[0]);
    assert_eq!(first["client_id"], clients[0]);
    assert_eq!(first["phone_number"], "79000000001");
    assert_eq!(first["status"], "sent");
    assert!(first["sent_at"].is_string());
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["last_error"], json!(null));

    let fetched = body(
        app.get(&format!("/api/v1/messages/{}", id(first))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(&fetched, first);

    let second_page = body(
        app.get("/api/v1/messages?page=2&page_size=2").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&second_page), listed[2..4]);
    assert_eq!(second_page["total"], 5);
}

async fn messages_filter_by_mailing_client_and_status() {
    let app = spawn_app().await;
    let (m, c) = arrange(&app).await;
    let sent = "sent".to_owned();
    let scheduled = "scheduled".to_owned();

    for (query, expected) in [
        (
            format!("mailing_id={}", m[0]),
            vec![
                (m[0], c[0], sent.clone()),
                (m[0], c[1], scheduled.clone()),
                (m[0], c[2], "failed".to_owned()),
            ],
        ),
        (
            format!("client_id={}", c[1]),
            vec![(m[0], c[1], scheduled.clone()), (m[1], c[1], sent.clone())],
        ),
        (
            "status=sent".to_owned(),
            vec![(m[0], c[0], sent.clone()), (m[1], c[1], sent.clone())],
        ),
        (
            format!("mailing_id={}&status=scheduled", m[1]),
            vec![(m[1], c[0], scheduled.clone())],
        ),
        (
            format!("mailing_id={}&client_id={}", m[1], c[1]),
            vec![(m[1], c[1], sent.clone())],
        ),
        (
            format!("mailing_id={}&client_id={}&status=failed", m[0], c[0]),
            vec![],
        ),
        ("status=expired".to_owned(), vec![]),
        ("mailing_id=999999".to_owned(), vec![]),
    ] {
        let page = body(
            app.get(&format!("/api/v1/messages?{query}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(pairs(&page), expected, "{query}");
        assert_eq!(page["total"], expected.len(), "{query}");
    }
}

async fn unknown_status_is_a_bad_query() {
    let app = spawn_app().await;

    for status in ["bogus", "Sent", ""] {
        let response = app.get(&format!("/api/v1/messages?status={status}")).await;
        invalid_query(response, &[("status", "unknown_status")]).await;
    }
}

async fn missing_messages_are_not_found() {
    let app = spawn_app().await;

    error(
        app.get("/api/v1/messages/1").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn messages_are_read_only() {
    let app = spawn_app().await;
    let (mailings, _) = arrange(&app).await;
    let before = app.counts().await;
    let message = json!({ "mailing_id": mailings[0], "client_id": 1, "status": "sent" });

    let response = app.post_json("/api/v1/messages", &message).await;
    error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let page = body(app.get("/api/v1/messages").await, StatusCode::OK).await;
    let path = format!("/api/v1/messages/{}", id(&page["items"][0]));
    let response = app.put_json(&path, &message).await;
    error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let response = app.delete(&path).await;
    error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert_eq!(app.counts().await, before);
}

async fn a_message_keeps_the_number_it_was_addressed_to() {
    let app = spawn_app().await;
    let (mailings, clients) = arrange(&app).await;
    let client_path = format!("/api/v1/clients/{}", clients[0]);
    body(
        app.patch_json(&client_path, &json!({ "phone_number": "79000000009" }))
            .await,
        StatusCode::OK,
    )
    .await;
    let numbers = |page: &Value| -> Vec<(i64, String, String)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["mailing_id"].as_i64().unwrap(),
                    m["status"].as_str().unwrap().to_owned(),
                    m["phone_number"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let query = format!("/api/v1/messages?client_id={}", clients[0]);
    let page = body(app.get(&query).await, StatusCode::OK).await;
    // The sent one went to the old number; the waiting one goes to the new.
    assert_eq!(
        numbers(&page),
        [
            (mailings[0], "sent".to_owned(), "79000000001".to_owned()),
            (
                mailings[1],
                "scheduled".to_owned(),
                "79000000009".to_owned()
            ),
        ]
    );

    assert_eq!(
        app.delete(&client_path).await.status(),
        StatusCode::NO_CONTENT
    );
    let kept = body(
        app.get(&format!("/api/v1/messages/{}", id(&page["items"][0])))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["client_id"], json!(null));
    assert_eq!(kept["phone_number"], "79000000001");
    assert_eq!(kept["status"], "sent");
}

async fn a_deleted_mailings_messages_go_with_it() {
    let app = spawn_app().await;
    let (mailings, clients) = arrange(&app).await;
    let all = body(app.get("/api/v1/messages").await, StatusCode::OK).await;
    let of_first = id(&all["items"][0]);

    let mailing_path = format!("/api/v1/mailings/{}", mailings[0]);
    assert_eq!(
        app.delete(&mailing_path).await.status(),
        StatusCode::NO_CONTENT
    );
    let page = body(app.get("/api/v1/messages").await, StatusCode::OK).await;
    assert_eq!(page["total"], 2);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["mailing_id"] == mailings[1]),
        "{page}"
    );
    error(
        app.get(&format!("/api/v1/messages/{of_first}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for query in [
        format!("mailing_id={}", mailings[0]),
        format!("mailing_id={}&status=sent", mailings[0]),
        format!("client_id={}&status=failed", clients[2]),
    ] {
        let page = body(
            app.get(&format!("/api/v1/messages?{query}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["total"], 0, "{query}");
        assert_eq!(page["items"], json!([]), "{query}");
    }
    error(
        app.get(&format!("/api/v1/mailings/{}/stats", mailings[0]))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let stats = body(app.get("/api/v1/mailings/stats").await, StatusCode::OK).await;
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["items"][0]["mailing"]["id"], mailings[1]);
}
