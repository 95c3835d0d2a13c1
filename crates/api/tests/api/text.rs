//! Personalised text over the API: templates checked on save with each problem's position, the
//! preview of what a mailing would send (recipients, encodings, parts, cost, samples,
//! warnings), operators' prices, and each message's text, encoding and parts in the messages
//! and the statistics.

use crate::helpers::*;
use chrono::{Duration, Utc};
use mailing_domain::store::{Outcome, OutcomeKind};
use mailing_domain::{MessageId, MessageStatus, MessageText};
use reqwest::StatusCode;
use serde_json::{Value, json};

const GREETING: &str = "Здравствуйте, {{ attributes.name | default: \"клиент\" }}!";

fn preview_body(text: &str, filter: Value) -> Value {
    json!({
        "text": text,
        "start_at": at(-Duration::minutes(1)),
        "end_at": at(Duration::days(1)),
        "filter": filter,
    })
}

/// Two priced operators and three clients: one named, one without a name, one opted out.
async fn audience(app: &TestApp) -> Vec<i64> {
    for (code, price) in [("mts", "0.45"), ("bln", "0.5")] {
        let created = body(
            app.post_json(
                "/api/v1/operators",
                &json!({ "code": code, "name": code, "price_per_segment": price }),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(
            created["price_per_segment"],
            if code == "mts" { "0.45" } else { "0.50" }
        );
    }
    let mut ids = vec![];
    for (phone, operator, attributes) in [
        ("79001000001", "mts", json!({"name": "Анна"})),
        ("79001000002", "mts", json!({})),
        ("79001000003", "bln", json!({"name": "Bob"})),
    ] {
        let client = body(
            app.post_json(
                "/api/v1/clients",
                &json!({
                    "phone_number": phone, "operator_code": operator, "time_zone": "UTC",
                    "attributes": attributes,
                }),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(id(&client));
    }
    let opted = app
        .post_json(
            "/api/v1/opt-outs",
            &json!({ "phone_number": "79001000003" }),
        )
        .await;
    assert!(opted.status().is_success(), "{}", opted.status());
    ids
}

#[tokio::test]
async fn a_preview_counts_recipients_parts_and_cost_without_storing_anything() {
    let app = spawn_app().await;
    audience(&app).await;
    let before = app.counts().await;
    let long = format!("{GREETING} {}", "ж".repeat(60));
    let preview = body(
        app.post_json("/api/v1/mailings/preview", &preview_body(&long, json!({})))
            .await,
        StatusCode::OK,
    )
    .await;
    // "Здравствуйте, Анна! " + 60 = 80 units: two parts; "… клиент! " + 60 = 82: two parts.
    assert_eq!(preview["recipients"], 3);
    assert_eq!(preview["suppressed"], 1);
    assert_eq!(preview["messages"], 2);
    assert_eq!(preview["by_encoding"], json!({"gsm7": 0, "ucs2": 2}));
    assert_eq!(preview["by_parts"], json!({"2": 2}));
    assert_eq!(preview["segments_total"], 4);
    assert_eq!(
        preview["cost"],
        json!({
            "total": "1.80",
            "by_operator": [{
                "operator_code": "mts", "messages": 2, "segments": 4,
                "price_per_segment": "0.45", "cost": "1.80",
            }],
            "unpriced_operators": [],
        })
    );
    assert_eq!(preview["has_variables"], true);
    assert_eq!(preview["text_count"]["characters"], 82);
    let samples = preview["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    assert_eq!(
        samples[0]["text"],
        format!("Здравствуйте, Анна! {}", "ж".repeat(60))
    );
    assert_eq!(
        samples[1]["text"],
        format!("Здравствуйте, клиент! {}", "ж".repeat(60))
    );
    assert_eq!(
        (
            &samples[1]["encoding"],
            &samples[1]["characters"],
            &samples[1]["segments"]
        ),
        (&json!("ucs2"), &json!(82), &json!(2))
    );
    assert_eq!(preview["warnings"], json!([]));
    assert_eq!(app.counts().await, before, "a preview stores nothing");
}

#[tokio::test]
async fn a_preview_warns_as_a_save_would_and_names_missing_values() {
    let app = spawn_app().await;
    audience(&app).await;
    let text = "Hi {{ attributes.name }}, your plan: {{ attributes.plan }}";
    let preview = body(
        app.post_json(
            "/api/v1/mailings/preview",
            &preview_body(text, json!({"operator_codes": ["mts"]})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let warnings: Vec<&str> = preview["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        vec![
            "1 of 2 matching clients have no name attribute, so {{ attributes.name }} is empty \
             in their text; give a fallback, e.g. {{ attributes.name | default: \"friend\" }}",
            "2 of 2 matching clients have no plan attribute, so {{ attributes.plan }} is empty \
             in their text; give a fallback, e.g. {{ attributes.plan | default: \"friend\" }}",
        ]
    );
    assert_eq!(preview["samples"][1]["text"], "Hi , your plan: ");
    assert_eq!(
        preview["samples"][1]["missing_variables"],
        json!(["attributes.name", "attributes.plan"])
    );
    // Saving says the same.
    let saved = body(
        app.post_json(
            "/api/v1/mailings",
            &preview_body(text, json!({"operator_codes": ["mts"]})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(saved["warnings"], preview["warnings"]);

    let nobody = body(
        app.post_json(
            "/api/v1/mailings/preview",
            &preview_body("Hi", json!({"operator_codes": ["bln"], "tags": []})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // The one bln client opted out: it matches, and nothing is sent.
    assert_eq!(
        (nobody["recipients"].clone(), nobody["messages"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(nobody["cost"]["total"], "0.00");
}

#[tokio::test]
async fn template_problems_are_refused_with_their_position_and_nothing_is_stored() {
    let app = spawn_app().await;
    audience(&app).await;
    for path in ["/api/v1/mailings", "/api/v1/mailings/preview"] {
        let refused = validation(
            app.post_json(
                path,
                &preview_body(
                    "Привет, {{ first_name }} {{ attributes.Name }} {{ phone_number | upcase }}",
                    json!({}),
                ),
            )
            .await,
            &[
                ("text", "unknown_variable"),
                ("text", "unknown_variable"),
                ("text", "template_syntax"),
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
            messages[0].starts_with("unknown variable \"first_name\" at character 12"),
            "{}",
            messages[0]
        );
        assert!(
            messages[1].contains("\"attributes.Name\" at character 29"),
            "{}",
            messages[1]
        );
        assert!(messages[2].contains("at character 64"), "{}", messages[2]);
        validation(
            app.post_json(path, &preview_body("Hi {{ phone_number", json!({})))
                .await,
            &[("text", "template_syntax")],
        )
        .await;
    }
    assert_eq!(app.counts().await.mailings, 0);
    // A running mailing's new text is checked too.
    let mailing = app.create_mailing(&preview_body("Hi", json!({}))).await;
    validation(
        app.patch_json(
            &format!("/api/v1/mailings/{}", id(&mailing)),
            &json!({ "text": "Hi {{ nickname }}" }),
        )
        .await,
        &[("text", "unknown_variable")],
    )
    .await;
}

#[tokio::test]
async fn an_operator_price_is_a_decimal_string_that_can_change_and_go() {
    let app = spawn_app().await;
    let created = body(
        app.post_json(
            "/api/v1/operators",
            &json!({ "code": "mts", "name": "MTS", "price_per_segment": "1.5" }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["price_per_segment"], "1.50");
    let path = format!("/api/v1/operators/{}", id(&created));
    for bad in [
        json!("1,5"),
        json!("-1"),
        json!("0.1234567"),
        json!(""),
        json!("1e3"),
    ] {
        validation(
            app.patch_json(&path, &json!({ "price_per_segment": bad }))
                .await,
            &[("price_per_segment", "price_format")],
        )
        .await;
    }
    validation(
        app.patch_json(&path, &json!({ "price_per_segment": 0.45 }))
            .await,
        &[("price_per_segment", "invalid_type")],
    )
    .await;
    let changed = body(
        app.patch_json(&path, &json!({ "price_per_segment": "0.000125" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["price_per_segment"], "0.000125");
    let removed = body(
        app.patch_json(&path, &json!({ "price_per_segment": null }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(removed["price_per_segment"], Value::Null);
    let unpriced = body(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(unpriced["price_per_segment"], Value::Null);
}

#[tokio::test]
async fn each_message_shows_the_text_it_was_sent_with_and_statistics_add_up_parts() {
    let app = spawn_app().await;
    let clients = audience(&app).await;
    let mailing = app.create_mailing(&preview_body(GREETING, json!({}))).await;
    let mailing_id = id(&mailing);
    app.insert_messages_in(
        mailing_id,
        &[
            (clients[0], MessageStatus::Queued),
            (clients[1], MessageStatus::Queued),
        ],
    )
    .await;
    let page = body(
        app.get(&format!("/api/v1/messages?mailing_id={mailing_id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<i64> = ids(&page);
    for message in page["items"].as_array().unwrap() {
        assert_eq!(
            (&message["text"], &message["encoding"], &message["segments"]),
            (&Value::Null, &Value::Null, &Value::Null),
            "not attempted yet"
        );
    }
    let sent = |id: i64, text: &str| Outcome {
        message_id: MessageId(id),
        claimed_at: None,
        kind: OutcomeKind::Sent { at: Utc::now() },
        text: Some(MessageText::counted(text.to_owned())),
    };
    let long = format!("Здравствуйте, клиент! {}", "ж".repeat(60));
    app.store()
        .record_outcomes(&[sent(ids[0], "Здравствуйте, Анна!"), sent(ids[1], &long)])
        .unwrap();
    let first = body(
        app.get(&format!("/api/v1/messages/{}", ids[0])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&first["text"], &first["encoding"], &first["segments"]),
        (&json!("Здравствуйте, Анна!"), &json!("ucs2"), &json!(1))
    );
    let stats = body(
        app.get(&format!("/api/v1/mailings/{mailing_id}/stats"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["segments_sent"], 3);
    assert_eq!(stats["messages"]["items"][1]["segments"], 2);
    let all = body(app.get("/api/v1/mailings/stats").await, StatusCode::OK).await;
    assert_eq!(all["segments_sent"], 3);
    assert_eq!(all["items"][0]["segments_sent"], 3);
}
