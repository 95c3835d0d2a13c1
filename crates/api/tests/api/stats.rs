use crate::helpers::*;
use mailing_domain::MessageStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_setups!(
    stats_of_every_mailing_count_messages_by_status,
    stats_of_no_mailings_are_an_empty_page,
    stats_of_one_mailing_list_its_messages,
    stats_of_a_mailing_without_messages_are_zero,
    stats_follow_cancellation,
    stats_refuse_bad_queries_and_missing_mailings,
);

const STATUSES: [&str; 8] = [
    "scheduled",
    "queued",
    "sent",
    "retrying",
    "failed",
    "expired",
    "cancelled",
    "suppressed",
];

/// `by_status` with the given counts and zero for every other status.
fn by_status(counts: &[(&str, u64)]) -> Value {
    let mut all = serde_json::Map::new();
    for status in STATUSES {
        let count = counts
            .iter()
            .find(|(name, _)| *name == status)
            .map_or(0, |(_, count)| *count);
        all.insert(status.to_owned(), json!(count));
    }
    Value::Object(all)
}

async fn clients(app: &TestApp, count: usize) -> Vec<i64> {
    app.create_operator("bln").await;
    let mut ids = vec![];
    for i in 0..count {
        ids.push(id(&app
            .create_client(&format!("790000000{i:02}"), "bln", &[])
            .await));
    }
    ids
}

async fn stats_of_every_mailing_count_messages_by_status() {
    let app = spawn_app().await;
    let c = clients(&app, 10).await;
    let busy = id(&app.running_mailing().await);
    let quiet = id(&app.scheduled_mailing().await);
    let other = id(&app.running_mailing().await);
    use MessageStatus::*;
    app.insert_messages_in(
        busy,
        &[
            (c[0], Sent),
            (c[1], Sent),
            (c[2], Sent),
            (c[3], Scheduled),
            (c[4], Queued),
            (c[5], Retrying),
            (c[6], Failed),
            (c[7], Expired),
            (c[8], Cancelled),
            (c[9], Failed),
        ],
    )
    .await;
    app.insert_messages_in(other, &[(c[0], Scheduled), (c[1], Sent)])
        .await;

    let stats = body(app.get("/api/v1/mailings/stats").await, StatusCode::OK).await;
    assert_eq!(stats["total"], 3, "mailings over all pages");
    assert_eq!(
        (stats["page"].clone(), stats["page_size"].clone()),
        (json!(1), json!(50))
    );
    let items = stats["items"].as_array().unwrap();
    let mailing_ids: Vec<i64> = items.iter().map(|item| id(&item["mailing"])).collect();
    assert_eq!(mailing_ids, [busy, quiet, other]);

    assert_eq!(items[0]["total"], 10);
    assert_eq!(
        items[0]["by_status"],
        by_status(&[
            ("sent", 3),
            ("scheduled", 1),
            ("queued", 1),
            ("retrying", 1),
            ("failed", 2),
            ("expired", 1),
            ("cancelled", 1),
        ])
    );
    assert_eq!(items[0]["mailing"]["status"], "running");
    assert_eq!(items[1]["total"], 0);
    assert_eq!(
        items[1]["by_status"],
        by_status(&[]),
        "every status is present"
    );
    assert_eq!(items[1]["mailing"]["status"], "scheduled");
    assert_eq!(items[2]["total"], 2);
    assert_eq!(
        items[2]["by_status"],
        by_status(&[("scheduled", 1), ("sent", 1)])
    );

    let second = body(
        app.get("/api/v1/mailings/stats?page=2&page_size=2").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["total"], 3);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(id(&second["items"][0]["mailing"]), other);
    assert_eq!(second["items"][0]["total"], 2);
}

async fn stats_of_no_mailings_are_an_empty_page() {
    let app = spawn_app().await;

    let stats = body(app.get("/api/v1/mailings/stats").await, StatusCode::OK).await;
    assert_eq!(stats["items"], json!([]));
    assert_eq!(stats["total"], 0);
}

async fn stats_of_one_mailing_list_its_messages() {
    let app = spawn_app().await;
    let c = clients(&app, 6).await;
    let mailing = app.running_mailing().await;
    let other = id(&app.running_mailing().await);
    use MessageStatus::*;
    app.insert_messages_in(
        id(&mailing),
        &[
            (c[0], Sent),
            (c[1], Scheduled),
            (c[2], Sent),
            (c[3], Retrying),
            (c[4], Sent),
            (c[5], Expired),
        ],
    )
    .await;
    app.insert_messages_in(other, &[(c[0], Sent)]).await;
    let path = format!("/api/v1/mailings/{}/stats", id(&mailing));

    let stats = body(app.get(&path).await, StatusCode::OK).await;
    // Warnings are given in the answers about the mailing itself, not where it is embedded.
    assert_eq!(stats["mailing"]["warnings"], Value::Null);
    assert_eq!(
        with(&stats["mailing"], json!({ "warnings": null })),
        with(&mailing, json!({ "warnings": null }))
    );
    assert_eq!(stats["total"], 6);
    assert_eq!(
        stats["by_status"],
        by_status(&[
            ("sent", 3),
            ("scheduled", 1),
            ("retrying", 1),
            ("expired", 1)
        ])
    );
    let messages = &stats["messages"];
    assert_eq!(messages["total"], 6);
    assert_eq!(messages["page"], 1);
    assert_eq!(messages["page_size"], 50);
    let listed: Vec<i64> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["client_id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, c, "only this mailing's messages, in id order");
    assert!(
        messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["mailing_id"] == id(&mailing))
    );

    let sent = body(
        app.get(&format!("{path}?status=sent")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sent["total"], 6, "counts ignore the message filter");
    assert_eq!(sent["by_status"], stats["by_status"]);
    assert_eq!(sent["messages"]["total"], 3);
    let statuses: Vec<&str> = sent["messages"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["sent", "sent", "sent"]);

    let paged = body(
        app.get(&format!("{path}?status=sent&page=2&page_size=2"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paged["messages"]["total"], 3);
    assert_eq!(paged["messages"]["page"], 2);
    assert_eq!(paged["messages"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(paged["messages"]["items"][0]["client_id"], c[4]);

    let none = body(
        app.get(&format!("{path}?status=failed")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(none["messages"]["items"], json!([]));
    assert_eq!(none["messages"]["total"], 0);
}

async fn stats_of_a_mailing_without_messages_are_zero() {
    let app = spawn_app().await;
    let mailing = app.scheduled_mailing().await;

    let stats = body(
        app.get(&format!("/api/v1/mailings/{}/stats", id(&mailing)))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["total"], 0);
    assert_eq!(stats["by_status"], by_status(&[]));
    assert_eq!(stats["messages"]["items"], json!([]));
}

async fn stats_follow_cancellation() {
    let app = spawn_app().await;
    let c = clients(&app, 3).await;
    let mailing = id(&app.running_mailing().await);
    use MessageStatus::*;
    app.insert_messages_in(mailing, &[(c[0], Sent), (c[1], Queued), (c[2], Scheduled)])
        .await;

    body(
        app.post(&format!("/api/v1/mailings/{mailing}/cancel"))
            .await,
        StatusCode::OK,
    )
    .await;
    let stats = body(
        app.get(&format!("/api/v1/mailings/{mailing}/stats")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        stats["by_status"],
        by_status(&[("sent", 1), ("cancelled", 2)])
    );
    assert_eq!(stats["mailing"]["status"], "cancelled");
}

async fn stats_refuse_bad_queries_and_missing_mailings() {
    let app = spawn_app().await;
    let mailing = app.scheduled_mailing().await;
    let path = format!("/api/v1/mailings/{}/stats", id(&mailing));

    invalid_query(
        app.get(&format!("{path}?status=bogus")).await,
        &[("status", "unknown_status")],
    )
    .await;
    invalid_query(
        app.get(&format!("{path}?page_size=0")).await,
        &[("page_size", "out_of_range")],
    )
    .await;
    let response = app.get("/api/v1/mailings/999/stats").await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
}
