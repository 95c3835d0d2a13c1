//! The daily report in the API: its numbers match the statistics, who may read and send it,
//! the dates it takes, and sending it now through a real SMTP server (aiosmtpd).

use crate::helpers::*;
use chrono::{Duration, Utc};
use mailing_domain::MessageStatus;
use mailing_reports::testing::{SinkOptions, SmtpSink};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_setups!(
    the_daily_report_counts_as_the_statistics_do,
    viewers_cannot_read_the_report_and_only_admins_send_it,
    report_dates_are_checked_and_explained,
    sending_the_report_now_delivers_both_parts_and_records_the_day,
    a_day_sent_by_hand_before_its_time_still_gets_its_scheduled_email,
    sending_with_the_email_off_says_how_to_turn_it_on,
    a_refusing_smtp_server_is_a_bad_gateway_and_nothing_is_recorded,
);

fn today() -> String {
    Utc::now().format("%Y-%m-%d").to_string()
}

async fn a_busy_day(app: &TestApp) -> i64 {
    app.create_operator("bln").await;
    let mut clients = vec![];
    for i in 0..6 {
        clients.push(id(&app
            .create_client(&format!("790000000{i:02}"), "bln", &[])
            .await));
    }
    let mailing = id(&app.running_mailing().await);
    use MessageStatus::*;
    app.insert_messages_in(
        mailing,
        &[
            (clients[0], Sent),
            (clients[1], Sent),
            (clients[2], Failed),
            (clients[3], Expired),
            (clients[4], Scheduled),
            (clients[5], Suppressed),
        ],
    )
    .await;
    mailing
}

async fn the_daily_report_counts_as_the_statistics_do() {
    let app = spawn_app().await;
    let mailing = a_busy_day(&app).await;
    let report = body(
        app.get(&format!("/api/v1/reports/daily?date={}", today()))
            .await,
        StatusCode::OK,
    )
    .await;
    let stats = body(app.get("/api/v1/mailings/stats").await, StatusCode::OK).await;
    assert_eq!(report["date"], today());
    assert_eq!(report["time_zone"], "UTC");
    let item = &report["mailings"][0];
    assert_eq!(item["id"], mailing);
    assert_eq!(item["now"], stats["items"][0]["by_status"], "{report}");
    assert_eq!(item["total"], stats["items"][0]["total"]);
    assert_eq!(item["segments_sent"], stats["items"][0]["segments_sent"]);
    assert_eq!(item["day"]["sent"], 2);
    assert_eq!(item["day"]["failed"], 1);
    assert_eq!(item["day"]["expired"], 1);
    assert_eq!(
        item["day"]["expiry_reasons"][0],
        json!({ "reason": "the mailing ended before its turn came", "messages": 1 })
    );
    assert_eq!(report["totals"]["sent"], stats["by_status"]["sent"]);
    assert_eq!(report["totals"]["mailings"], 1);
    assert_eq!(report["totals"]["delivery_rate"], 0.5);
    assert_eq!(report["previous_day"]["sent"], 0);
    assert_eq!(report["provider"]["breaker_trips"], 0);
    assert_eq!(report["email"], json!(null));

    // Without a date: the day the latest report covers, yesterday by default.
    let default = body(app.get("/api/v1/reports/daily").await, StatusCode::OK).await;
    let yesterday = (Utc::now() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(default["date"], yesterday);
    assert_eq!(default["mailings"], json!([]), "the mailing was made today");
}

async fn viewers_cannot_read_the_report_and_only_admins_send_it() {
    let app = spawn_app().await;
    let viewer = app.account_token("vera", "viewer").await;
    let manager = app.account_token("max", "manager").await;
    let as_viewer = app
        .request_without_token(Method::GET, "/api/v1/reports/daily")
        .bearer_auth(&viewer);
    let refused = error(send(as_viewer).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        refused["message"],
        "this needs the manager role; the account vera is a viewer"
    );
    let as_manager = app
        .request_without_token(Method::GET, "/api/v1/reports/daily")
        .bearer_auth(&manager);
    body(send(as_manager).await, StatusCode::OK).await;
    let sending = app
        .request_without_token(Method::POST, "/api/v1/reports/daily/send")
        .bearer_auth(&manager)
        .json(&json!({}));
    error(send(sending).await, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn report_dates_are_checked_and_explained() {
    let app = spawn_app().await;
    let refused = invalid_query(
        app.get("/api/v1/reports/daily?date=2026-13-01").await,
        &[("date", "date_format")],
    )
    .await;
    let message = refused["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("YYYY-MM-DD; for example \""), "{message}");
    let tomorrow = (Utc::now() + Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    invalid_query(
        app.get(&format!("/api/v1/reports/daily?date={tomorrow}"))
            .await,
        &[("date", "date_in_future")],
    )
    .await;
    invalid_query(
        app.get("/api/v1/reports/daily?date=-0001-01-01").await,
        &[("date", "date_out_of_range")],
    )
    .await;
    error(
        app.get("/api/v1/reports/daily?day=2026-12-01").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    validation(
        app.post_json(
            "/api/v1/reports/daily/send",
            &json!({ "date": "06.12.2026" }),
        )
        .await,
        &[("date", "date_format")],
    )
    .await;
}

fn email_settings(sink: &SmtpSink) -> Vec<(&'static str, String)> {
    vec![
        ("MAILING_SMTP_URL", sink.url()),
        ("MAILING_REPORT_RECIPIENTS", "ops@example.com".to_owned()),
        (
            "MAILING_REPORT_ADMIN_URL",
            "https://mailing.example.com/admin".to_owned(),
        ),
    ]
}

async fn spawn_with(vars: &[(&'static str, String)]) -> TestApp {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&vars).await
}

async fn sending_the_report_now_delivers_both_parts_and_records_the_day() {
    let sink = SmtpSink::start();
    // An evening report due at midnight: today's is due already.
    let mut settings = email_settings(&sink);
    settings.extend([
        ("MAILING_REPORT_DAY", "current".to_owned()),
        ("MAILING_REPORT_TIME", "00:00".to_owned()),
    ]);
    let app = spawn_with(&settings).await;
    a_busy_day(&app).await;
    let sent = body(
        app.post_json("/api/v1/reports/daily/send", &json!({ "date": today() }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sent["date"], today());
    assert_eq!(sent["recipients"], "ops@example.com");
    let mail = sink.received();
    assert_eq!(mail.len(), 1, "the answer comes once the server took it");
    assert_eq!(mail[0].message_id, sent["message_id"].as_str().unwrap());
    assert_eq!(
        mail[0].subject,
        format!(
            "Mailing daily report for {}: 2 sent, 50.0% delivered",
            today()
        )
    );
    assert!(mail[0].text.is_some() && mail[0].html.is_some());
    let link = format!(
        "https://mailing.example.com/admin/reports/daily?date={}",
        today()
    );
    assert!(mail[0].html.as_deref().unwrap().contains(&link));

    let report = body(
        app.get(&format!("/api/v1/reports/daily?date={}", today()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["email"]["state"], "sent", "{report}");
    assert_eq!(report["email"]["message_id"], sent["message_id"]);
    let audit = body(
        app.get("/api/v1/audit-log?resource=reports").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(audit["items"][0]["action"], "send", "{audit}");
    assert_eq!(audit["items"][0]["changes"], json!({ "date": today() }));

    // Asked again, it goes again, as a new message that mail services will not drop.
    let again = body(
        app.post_json("/api/v1/reports/daily/send", &json!({ "date": today() }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(again["message_id"], sent["message_id"]);
    assert_eq!(sink.received().len(), 2);
}

async fn sending_with_the_email_off_says_how_to_turn_it_on() {
    let app = spawn_app().await;
    let refused = error(
        app.post_json("/api/v1/reports/daily/send", &json!({}))
            .await,
        StatusCode::CONFLICT,
        "report_email_off",
    )
    .await;
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("MAILING_SMTP_URL"), "{message}");
}

async fn a_refusing_smtp_server_is_a_bad_gateway_and_nothing_is_recorded() {
    let sink = SmtpSink::start_with(SinkOptions {
        refuse_first: 1,
        ..SinkOptions::default()
    });
    let app = spawn_with(&email_settings(&sink)).await;
    let refused = error(
        app.post_json("/api/v1/reports/daily/send", &json!({ "date": today() }))
            .await,
        StatusCode::BAD_GATEWAY,
        "smtp_failed",
    )
    .await;
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("451"), "the server's answer: {message}");
    let report = body(
        app.get(&format!("/api/v1/reports/daily?date={}", today()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["email"], json!(null));
    assert!(sink.received().is_empty());
}

async fn a_day_sent_by_hand_before_its_time_still_gets_its_scheduled_email() {
    let sink = SmtpSink::start();
    // A morning report: today's is due tomorrow.
    let app = spawn_with(&email_settings(&sink)).await;
    body(
        app.post_json("/api/v1/reports/daily/send", &json!({ "date": today() }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sink.received().len(), 1);
    let report = body(
        app.get(&format!("/api/v1/reports/daily?date={}", today()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        report["email"],
        json!(null),
        "the whole day still goes out tomorrow morning"
    );
}
