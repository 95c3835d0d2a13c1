use crate::helpers::*;
use mailing_domain::MessageStatus;
use mailing_runtime::signature;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

both_setups!(
    unsigned_or_badly_signed_replies_are_refused_and_kept_nowhere,
    keywords_opt_numbers_out_and_back_in_in_either_language_and_case,
    configured_keywords_replace_the_defaults,
    bad_replies_are_refused_listing_every_problem,
    a_reply_suppresses_the_numbers_waiting_messages,
);

const SECRET: &str = "a shared secret with the provider";

async fn app_with_secret() -> TestApp {
    spawn_app_with(&[("MAILING_INBOUND_SECRET", SECRET)]).await
}

/// Posts `raw` to `/api/v1/inbound` with `signature` as `X-Signature`, without a token.
async fn post_raw(app: &TestApp, raw: &[u8], signature: Option<&str>) -> Response {
    let mut request = app
        .request_without_token(Method::POST, "/api/v1/inbound")
        .header(CONTENT_TYPE, "application/json")
        .body(raw.to_vec());
    if let Some(signature) = signature {
        request = request.header("X-Signature", signature);
    }
    request.send().await.expect("the server answers")
}

/// Posts `reply` signed with the shared secret.
async fn reply(app: &TestApp, reply: &Value) -> Response {
    let raw = serde_json::to_vec(reply).unwrap();
    let signed = signature::sign(SECRET.as_bytes(), &raw);
    post_raw(app, &raw, Some(&signed)).await
}

async fn stored(app: &TestApp) -> (u64, u64) {
    let inbound = body(app.get("/api/v1/inbound").await, StatusCode::OK).await;
    let opt_outs = body(app.get("/api/v1/opt-outs").await, StatusCode::OK).await;
    (
        inbound["total"].as_u64().unwrap(),
        opt_outs["total"].as_u64().unwrap(),
    )
}

async fn unsigned_or_badly_signed_replies_are_refused_and_kept_nowhere() {
    let raw = br#"{"from": "79001234567", "text": "STOP"}"#;
    // No secret configured: nothing can be signed.
    let closed = spawn_app().await;
    let signed = signature::sign(SECRET.as_bytes(), raw);
    error(
        post_raw(&closed, raw, Some(&signed)).await,
        StatusCode::UNAUTHORIZED,
        "inbound_disabled",
    )
    .await;
    assert_eq!(stored(&closed).await, (0, 0));

    let app = app_with_secret().await;
    let other_body = signature::sign(
        SECRET.as_bytes(),
        br#"{"from": "79001234567", "text": "hi"}"#,
    );
    let other_secret = signature::sign(b"another secret", raw);
    for (header, code) in [
        (None, "missing_signature"),
        (Some("".to_owned()), "invalid_signature"),
        (Some(signed[7..].to_owned()), "invalid_signature"),
        (Some(other_body), "invalid_signature"),
        (Some(other_secret), "invalid_signature"),
        (Some(format!("Bearer {}", app.token)), "invalid_signature"),
    ] {
        error(
            post_raw(&app, raw, header.as_deref()).await,
            StatusCode::UNAUTHORIZED,
            code,
        )
        .await;
    }
    // The body is read only once the signature holds: broken JSON unsigned is a 401 too.
    error(
        post_raw(&app, b"{not json", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_signature",
    )
    .await;
    // A bearer token does not stand in for the signature.
    let with_token = app
        .request(Method::POST, "/api/v1/inbound")
        .json(&json!({"from": "79001234567", "text": "STOP"}))
        .send()
        .await
        .unwrap();
    error(with_token, StatusCode::UNAUTHORIZED, "missing_signature").await;
    assert_eq!(stored(&app).await, (0, 0));

    // Signed as the provider would, the same body is taken.
    let taken = body(
        post_raw(&app, raw, Some(&signed)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(taken["action"], "opt_out");
    assert_eq!(stored(&app).await, (1, 1));
}

async fn keywords_opt_numbers_out_and_back_in_in_either_language_and_case() {
    let app = app_with_secret().await;
    let texts = ["STOP", "стоп", " Стоп! ", "ОТПИСКА.", "unsubscribe", "СТОП"];
    for (i, text) in texts.iter().enumerate() {
        let from = format!("+7 900 000-00-{i:02}");
        let answer = body(
            reply(&app, &json!({"from": from, "text": text})).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(answer["action"], "opt_out", "{text:?}: {answer}");
        assert_eq!(answer["opted_out"], true);
        assert_eq!(answer["text"], *text, "kept as received");
        let number = format!("790000000{i:02}");
        assert_eq!(answer["phone_number"], number);
        let opt_out = body(
            app.get(&format!("/api/v1/opt-outs/{number}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(opt_out["source"], "inbound");
        assert_eq!(opt_out["reason"], format!("replied \"{}\"", text.trim()));
    }
    for text in ["STOP please", "Спасибо", ""] {
        let answer = body(
            reply(&app, &json!({"from": "79009990000", "text": text})).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(answer["action"], "none", "{text:?}");
    }
    error(
        app.get("/api/v1/opt-outs/79009990000").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    for (text, number) in [("старт", "79000000001"), ("Start!", "79000000002")] {
        let answer = body(
            reply(&app, &json!({"from": number, "text": text})).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(answer["action"], "opt_in", "{text:?}");
        assert_eq!(answer["opted_out"], false);
        error(
            app.get(&format!("/api/v1/opt-outs/{number}")).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    let all = body(app.get("/api/v1/inbound").await, StatusCode::OK).await;
    assert_eq!(all["total"], 11);
    assert_eq!(all["items"][0]["text"], "Start!", "newest first");
    let theirs = body(
        app.get("/api/v1/inbound?phone_number=8%20900%20000%2000%2001")
            .await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["opt_in", "opt_out"]);
    invalid_query(
        app.get("/api/v1/inbound?phone_number=1").await,
        &[("phone_number", "phone_format")],
    )
    .await;
}

async fn configured_keywords_replace_the_defaults() {
    let app = spawn_app_with(&[
        ("MAILING_INBOUND_SECRET", SECRET),
        ("MAILING_INBOUND_OPT_OUT_KEYWORDS", "Хватит, halt"),
        ("MAILING_INBOUND_OPT_IN_KEYWORDS", "Снова"),
    ])
    .await;
    for (text, action) in [
        ("хватит", "opt_out"),
        ("HALT", "opt_out"),
        ("STOP", "none"),
        ("снова", "opt_in"),
    ] {
        let answer = body(
            reply(&app, &json!({"from": "79001234567", "text": text})).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(answer["action"], action, "{text:?}");
    }
}

async fn bad_replies_are_refused_listing_every_problem() {
    let app = app_with_secret().await;
    validation(
        reply(
            &app,
            &json!({"from": "12345", "text": "x".repeat(1601), "to": "79001234567"}),
        )
        .await,
        &[
            ("from", "phone_format"),
            ("text", "too_long"),
            ("to", "unknown_field"),
        ],
    )
    .await;
    validation(
        reply(&app, &json!({"text": null})).await,
        &[("from", "required"), ("text", "null_not_allowed")],
    )
    .await;
    let raw = b"{\"from\": ";
    let signed = signature::sign(SECRET.as_bytes(), raw);
    error(
        post_raw(&app, raw, Some(&signed)).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_eq!(stored(&app).await, (0, 0));
}

async fn a_reply_suppresses_the_numbers_waiting_messages() {
    let app = app_with_secret().await;
    app.create_operator("bln").await;
    let client = id(&app.create_client("79001112233", "bln", &[]).await);
    let mailing = id(&app.running_mailing().await);
    app.insert_messages_in(mailing, &[(client, MessageStatus::Retrying)])
        .await;
    let answer = body(
        reply(&app, &json!({"from": "8 (900) 111-22-33", "text": "СТОП"})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(answer["suppressed"], 1);
    let stats = body(
        app.get(&format!("/api/v1/mailings/{mailing}/stats")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["by_status"]["suppressed"], 1, "{stats}");
    assert_eq!(stats["by_status"]["retrying"], 0, "{stats}");
}
