use crate::helpers::*;
use mailing_domain::MessageStatus;
use reqwest::StatusCode;
use serde_json::json;

both_setups!(
    a_number_opts_out_once_and_back_in,
    bad_opt_outs_are_refused_listing_every_problem,
    opting_out_suppresses_waiting_messages_and_statistics_count_them,
);

async fn a_number_opts_out_once_and_back_in() {
    let app = spawn_app().await;
    let created = body(
        app.post_json(
            "/api/v1/opt-outs",
            &json!({"phone_number": "+7 (900) 123-45-67", "reason": "  asked by phone "}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["phone_number"], "79001234567");
    assert_eq!(created["source"], "api");
    assert_eq!(created["reason"], "asked by phone");
    assert_eq!(created["suppressed"], 0);

    // Again, written another way and with another reason: the first entry stands.
    let again = body(
        app.post_json(
            "/api/v1/opt-outs",
            &json!({"phone_number": "8 900 123 45 67", "reason": "again"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["reason"], "asked by phone");
    assert_eq!(again["created_at"], created["created_at"]);

    body(
        app.post_json("/api/v1/opt-outs", &json!({"phone_number": "79005550000"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let one = body(
        app.get("/api/v1/opt-outs/79001234567").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["reason"], "asked by phone");
    // A number in the path may be written as people write it.
    let same = body(
        app.get("/api/v1/opt-outs/89001234567").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(same, one);

    let all = body(app.get("/api/v1/opt-outs").await, StatusCode::OK).await;
    assert_eq!(all["total"], 2);
    assert_eq!(
        all["items"][0]["phone_number"], "79005550000",
        "newest first"
    );
    assert_eq!(all["items"][1]["reason"], "asked by phone");
    let found = body(
        app.get("/api/v1/opt-outs?phone_number=%2B79001234567")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            found["total"].as_u64(),
            found["items"].as_array().map(Vec::len)
        ),
        (Some(1), Some(1))
    );
    let prefixed = body(
        app.get("/api/v1/opt-outs?phone_prefix=79005").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(prefixed["items"][0]["phone_number"], "79005550000");
    assert_eq!(prefixed["total"], 1);

    let deleted = app.delete("/api/v1/opt-outs/79001234567").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    error(
        app.delete("/api/v1/opt-outs/79001234567").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error(
        app.get("/api/v1/opt-outs/79001234567").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let left = body(app.get("/api/v1/opt-outs").await, StatusCode::OK).await;
    assert_eq!(left["total"], 1);
}

async fn bad_opt_outs_are_refused_listing_every_problem() {
    let app = spawn_app().await;
    validation(
        app.post_json(
            "/api/v1/opt-outs",
            &json!({"phone_number": "12345", "reason": " ", "source": "ui"}),
        )
        .await,
        &[
            ("phone_number", "phone_format"),
            ("reason", "empty"),
            ("source", "unknown_field"),
        ],
    )
    .await;
    validation(
        app.post_json("/api/v1/opt-outs", &json!({"reason": "x".repeat(501)}))
            .await,
        &[("phone_number", "required"), ("reason", "too_long")],
    )
    .await;
    validation(
        app.post_json(
            "/api/v1/opt-outs",
            &json!({"phone_number": 79001234567_i64}),
        )
        .await,
        &[("phone_number", "invalid_type")],
    )
    .await;
    let refused = error(
        app.get("/api/v1/opt-outs/12345").await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
    )
    .await;
    assert_details(&refused, &[("phone_number", "phone_format")]);
    invalid_query(
        app.get("/api/v1/opt-outs?phone_prefix=abc&phone_number=1&page=0")
            .await,
        &[
            ("phone_prefix", "digits"),
            ("phone_number", "phone_format"),
            ("page", "out_of_range"),
        ],
    )
    .await;
    let all = body(app.get("/api/v1/opt-outs").await, StatusCode::OK).await;
    assert_eq!(all["total"], 0, "nothing stored");
}

async fn opting_out_suppresses_waiting_messages_and_statistics_count_them() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let leaving = id(&app.create_client("79001112233", "bln", &[]).await);
    let staying = id(&app.create_client("79001112244", "bln", &[]).await);
    let sent_to = id(&app.create_client("79001112255", "bln", &[]).await);
    let mailing = id(&app.running_mailing().await);
    app.insert_messages_in(
        mailing,
        &[
            (leaving, MessageStatus::Scheduled),
            (staying, MessageStatus::Scheduled),
            (sent_to, MessageStatus::Sent),
        ],
    )
    .await;
    let added = body(
        app.post_json("/api/v1/opt-outs", &json!({"phone_number": "79001112233"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["suppressed"], 1);
    // A number already sent to keeps its message as it was.
    let sent = body(
        app.post_json("/api/v1/opt-outs", &json!({"phone_number": "79001112255"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(sent["suppressed"], 0);

    let stats = body(
        app.get(&format!("/api/v1/mailings/{mailing}/stats")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["by_status"]["suppressed"], 1, "{stats}");
    assert_eq!(stats["by_status"]["scheduled"], 1, "{stats}");
    assert_eq!(stats["by_status"]["sent"], 1, "{stats}");
    let all = body(app.get("/api/v1/mailings/stats").await, StatusCode::OK).await;
    assert_eq!(all["by_status"]["suppressed"], 1, "{all}");
    let suppressed = body(
        app.get(&format!(
            "/api/v1/messages?mailing_id={mailing}&status=suppressed"
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(suppressed["total"], 1);
    assert_eq!(suppressed["items"][0]["client_id"], leaving);
    assert_eq!(suppressed["items"][0]["last_error"], "the number opted out");
}
