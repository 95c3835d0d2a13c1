//! `Idempotency-Key`: a POST sent again with its key gets the first answer again, marked
//! `Idempotent-Replayed: true`, and changes nothing; the key with another request, on another
//! path or while the first still runs is refused; keys are per account; what the key does not
//! cover (other methods, the login, oversized bodies) behaves as without one.

use crate::helpers::*;
use mailing_api::idempotency::request_hash;
use mailing_domain::store::{Begun, IdempotentRequest, KeyLifetimes};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

both_setups!(
    a_client_posted_twice_with_one_key_is_created_once,
    the_key_with_another_body_is_refused_and_stores_nothing,
    the_key_covers_the_path,
    a_refusal_is_answered_again_as_it_was,
    a_mailing_posted_twice_with_one_key_is_created_and_cancelled_once,
    keys_belong_to_the_account_that_sent_them,
    the_same_request_while_the_first_still_runs_is_a_conflict,
    invalid_keys_are_bad_requests_naming_the_header,
    what_the_key_does_not_cover_runs_every_time,
    an_oversized_body_with_a_key_is_refused_as_without_one,
);

const KEY_HEADER: &str = "Idempotency-Key";
const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// A response as the tests compare them: everything an answer sent again must repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: String,
    /// `Idempotent-Replayed`, if sent.
    replayed: Option<String>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// The answer without its replay mark, to compare with the first one.
    fn unmarked(&self) -> Answer {
        Answer {
            replayed: None,
            ..self.clone()
        }
    }

    #[track_caller]
    fn assert_replay_of(&self, first: &Answer) {
        assert_eq!(first.replayed, None, "the first answer is not a replay");
        assert_eq!(self.replayed.as_deref(), Some("true"), "{self:?}");
        assert_eq!(&self.unmarked(), first);
    }
}

async fn answer(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("the server answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, replayed) = (header("content-type"), header(REPLAYED_HEADER));
    Answer {
        status: response.status(),
        content_type,
        replayed,
        body: response.text().await.expect("a readable body"),
    }
}

/// `POST path` with `body` (as `body.to_string()` makes it) and the key.
fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> RequestBuilder {
    app.request(Method::POST, path)
        .header(KEY_HEADER, key)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

fn client_body(phone: &str) -> Value {
    json!({ "phone_number": phone, "operator_code": "bln", "tags": ["vip"] })
}

async fn a_client_posted_twice_with_one_key_is_created_once() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let before = app.counts().await;
    let body = client_body("79001234567");

    let first = answer(post_with_key(&app, "/api/v1/clients", "client-1", &body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let again = answer(post_with_key(&app, "/api/v1/clients", "client-1", &body)).await;
    again.assert_replay_of(&first);
    assert_eq!(app.counts().await.clients, before.clients + 1);
    assert_eq!(
        app.counts().await.tags,
        before.tags + 1,
        "one tag made for it"
    );

    // Without a key, the same body is a new request: it finds the client there.
    let response = app.post_json("/api/v1/clients", &body).await;
    error(response, StatusCode::CONFLICT, "duplicate_phone_number").await;
    // A new key is a new request too.
    let other = answer(post_with_key(&app, "/api/v1/clients", "client-2", &body)).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{other:?}");
    assert_eq!(other.replayed, None);
    assert_eq!(app.counts().await.clients, before.clients + 1);
}

async fn the_key_with_another_body_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let first = answer(post_with_key(
        &app,
        "/api/v1/clients",
        "client-1",
        &client_body("79001234567"),
    ))
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let before = app.counts().await;

    let response = post_with_key(
        &app,
        "/api/v1/clients",
        "client-1",
        &client_body("79007654321"),
    )
    .send()
    .await
    .unwrap();
    assert!(response.headers().get(REPLAYED_HEADER).is_none());
    let refused = error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("another request"),
        "{refused}"
    );
    // The body with its bytes in another order is another body.
    let reordered = r#"{"tags":["vip"],"operator_code":"bln","phone_number":"79001234567"}"#;
    let response = app
        .request(Method::POST, "/api/v1/clients")
        .header(KEY_HEADER, "client-1")
        .header(CONTENT_TYPE, "application/json")
        .body(reordered)
        .send()
        .await
        .unwrap();
    error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.counts().await, before);

    // The first request is still answered as it was.
    let again = answer(post_with_key(
        &app,
        "/api/v1/clients",
        "client-1",
        &client_body("79001234567"),
    ))
    .await;
    again.assert_replay_of(&first);
}

async fn the_key_covers_the_path() {
    let app = spawn_app().await;
    let body = json!({ "value": "vip" });
    let first = answer(post_with_key(&app, "/api/v1/tags", "shared", &body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let before = app.counts().await;

    for path in ["/api/v1/operators", "/api/v1/tags?detach=true"] {
        let response = post_with_key(&app, path, "shared", &body)
            .send()
            .await
            .unwrap();
        error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
        )
        .await;
    }
    assert_eq!(app.counts().await, before);
}

async fn a_refusal_is_answered_again_as_it_was() {
    let app = spawn_app().await;
    // No operator `bln` yet: the client is refused.
    let body = client_body("79001234567");
    let first = answer(post_with_key(&app, "/api/v1/clients", "client-1", &body)).await;
    assert_eq!(first.status, StatusCode::UNPROCESSABLE_ENTITY, "{first:?}");
    assert_details(&first.json(), &[("operator_code", "unknown_operator")]);

    // Once the operator exists, the key still answers what it answered: it does not run again.
    app.create_operator("bln").await;
    let again = answer(post_with_key(&app, "/api/v1/clients", "client-1", &body)).await;
    again.assert_replay_of(&first);
    assert_eq!(app.counts().await.clients, 0);
    let created = answer(post_with_key(&app, "/api/v1/clients", "client-2", &body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");

    // A body that is not JSON is a request too, and its 400 is kept.
    let broken = || {
        app.request(Method::POST, "/api/v1/tags")
            .header(KEY_HEADER, "broken")
            .header(CONTENT_TYPE, "application/json")
            .body("{\"value\": ")
    };
    let first = answer(broken()).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST, "{first:?}");
    answer(broken()).await.assert_replay_of(&first);
}

async fn a_mailing_posted_twice_with_one_key_is_created_and_cancelled_once() {
    let app = spawn_app().await;
    let body = running_mailing_body();
    app.ensure_named(&body["filter"]).await;

    let first = answer(post_with_key(&app, "/api/v1/mailings", "mailing-1", &body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let again = answer(post_with_key(&app, "/api/v1/mailings", "mailing-1", &body)).await;
    again.assert_replay_of(&first);
    assert_eq!(app.counts().await.mailings, 1);
    let mailing = id(&first.json());

    let cancel = format!("/api/v1/mailings/{mailing}/cancel");
    let cancelled = answer(
        app.request(Method::POST, &cancel)
            .header(KEY_HEADER, "cancel-1"),
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{cancelled:?}");
    assert_eq!(cancelled.json()["status"], "cancelled");
    let again = answer(
        app.request(Method::POST, &cancel)
            .header(KEY_HEADER, "cancel-1"),
    )
    .await;
    again.assert_replay_of(&cancelled);

    assert_eq!(
        app.published_events(2).await,
        mailing_events(mailing, &["created", "cancelled"])
    );
    app.assert_no_more_events(2).await;
}

async fn keys_belong_to_the_account_that_sent_them() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let body = client_body("79001234567");
    let first = answer(post_with_key(&app, "/api/v1/clients", "client-1", &body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");

    // Another caller: an integrator's API key.
    let (_, other) = app.api_key("integrator", "manager").await;
    let theirs = answer(
        app.request_without_token(Method::POST, "/api/v1/clients")
            .bearer_auth(&other)
            .header(KEY_HEADER, "client-1")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(
        theirs.status,
        StatusCode::CONFLICT,
        "it runs for them, and finds the client: {theirs:?}"
    );
    assert_eq!(theirs.replayed, None);
    assert_eq!(theirs.json()["code"], "duplicate_phone_number");
    assert_eq!(app.counts().await.clients, 1);
}

async fn the_same_request_while_the_first_still_runs_is_a_conflict() {
    let app = spawn_app().await;
    let body = json!({ "value": "vip" });
    // The first request has begun (on another replica, say) and not answered yet.
    let running = IdempotentRequest {
        account: ADMIN_USERNAME.to_owned(),
        key: "tag-1".to_owned(),
        request_hash: request_hash("POST", "/api/v1/tags", body.to_string().as_bytes()),
    };
    let store = app.store();
    let hold = tokio::task::spawn_blocking(move || {
        let lifetimes = KeyLifetimes {
            ttl: Duration::from_secs(24 * 3600),
            stale_after: Duration::from_secs(300),
        };
        store.begin_idempotent(&running, chrono::Utc::now(), lifetimes)
    })
    .await
    .unwrap()
    .unwrap();
    let Begun::Started(hold) = hold else {
        panic!("the key is new: {hold:?}");
    };

    let response = post_with_key(&app, "/api/v1/tags", "tag-1", &body)
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(REPLAYED_HEADER).is_none());
    error(response, StatusCode::CONFLICT, "idempotency_key_in_flight").await;
    assert_eq!(app.counts().await.tags, 0);
    // Another request with the key is still another request.
    let response = post_with_key(&app, "/api/v1/tags", "tag-1", &json!({ "value": "x" }))
        .send()
        .await
        .unwrap();
    error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;

    // The first one fails in a way a retry may cure: the retry runs.
    let store = app.store();
    tokio::task::spawn_blocking(move || store.abandon_idempotent(&hold))
        .await
        .unwrap()
        .unwrap();
    let retried = answer(post_with_key(&app, "/api/v1/tags", "tag-1", &body)).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{retried:?}");
    assert_eq!(retried.replayed, None);
    assert_eq!(app.counts().await.tags, 1);
}

async fn invalid_keys_are_bad_requests_naming_the_header() {
    let app = spawn_app().await;
    let body = json!({ "value": "vip" });
    let too_long = "k".repeat(256);
    let cases: Vec<(Vec<HeaderValue>, &str)> = vec![
        (vec![HeaderValue::from_static("")], "empty"),
        (vec![HeaderValue::from_str(&too_long).unwrap()], "too_long"),
        (
            vec![HeaderValue::from_static("two words")],
            "invalid_characters",
        ),
        (
            vec![HeaderValue::from_bytes("ключ".as_bytes()).unwrap()],
            "invalid_characters",
        ),
        (
            vec![HeaderValue::from_static("a"), HeaderValue::from_static("a")],
            "repeated",
        ),
    ];
    for (values, code) in cases {
        let mut request = app
            .request(Method::POST, "/api/v1/tags")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        for value in values {
            request = request.header(KEY_HEADER, value);
        }
        let response = request.send().await.unwrap();
        let refused = error(response, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
        assert_details(&refused, &[(KEY_HEADER, code)]);
        let message = refused["details"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("Idempotency-Key: "),
            "an example: {message}"
        );
    }
    let longest = "k".repeat(255);
    let created = answer(post_with_key(&app, "/api/v1/tags", &longest, &body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(app.counts().await.tags, 1);

    // Who is asking comes first: without a valid token, a 401 whatever the key.
    let response = app
        .request_without_token(Method::POST, "/api/v1/tags")
        .header(KEY_HEADER, "")
        .json(&body)
        .send()
        .await
        .unwrap();
    error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
}

async fn what_the_key_does_not_cover_runs_every_time() {
    let app = spawn_app().await;
    let tag = app.create_tag("vip").await;
    let path = format!("/api/v1/tags/{}", id(&tag));

    // Other methods than POST.
    for value in ["loyal", "vip"] {
        let put = answer(
            app.request(Method::PUT, &path)
                .header(KEY_HEADER, "put-1")
                .json(&json!({ "value": value })),
        )
        .await;
        assert_eq!(put.status, StatusCode::OK, "{put:?}");
        assert_eq!(put.replayed, None);
        assert_eq!(put.json()["value"], value, "each PUT ran");
    }
    // The login: its answer is a token, which is never kept.
    let login = || {
        app.request_without_token(Method::POST, "/api/v1/auth/token")
            .header(KEY_HEADER, "login-1")
            .json(&json!({ "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD }))
    };
    for _ in 0..2 {
        let answered = answer(login()).await;
        assert_eq!(answered.status, StatusCode::OK, "{answered:?}");
        assert_eq!(answered.replayed, None);
    }
    // A wrong password is not kept either.
    let wrong = answer(
        app.request_without_token(Method::POST, "/api/v1/auth/token")
            .header(KEY_HEADER, "login-1")
            .json(&json!({ "username": ADMIN_USERNAME, "password": "wrong" })),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Nor what a request without a valid token is answered.
    for _ in 0..2 {
        let refused = answer(
            app.request_without_token(Method::POST, "/api/v1/tags")
                .bearer_auth("not-a-token")
                .header(KEY_HEADER, "tag-1")
                .json(&json!({ "value": "new" })),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
        assert_eq!(refused.replayed, None);
    }
    let created = answer(post_with_key(
        &app,
        "/api/v1/tags",
        "tag-1",
        &json!({ "value": "new" }),
    ))
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
}

async fn an_oversized_body_with_a_key_is_refused_as_without_one() {
    let app = spawn_app_with(&[("MAILING_MAX_BODY_BYTES", "1024")]).await;
    let big = json!({ "value": "v".repeat(4000) });
    for _ in 0..2 {
        let refused = answer(post_with_key(&app, "/api/v1/tags", "big-1", &big)).await;
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE, "{refused:?}");
        assert_eq!(refused.replayed, None);
        assert_eq!(refused.json()["code"], "payload_too_large");
    }
    // Without Content-Length, the limit is found while reading: the handler still answers.
    let payload = big.to_string().into_bytes();
    let (port, token) = (app.port, app.token.clone());
    let (status, text) = tokio::task::spawn_blocking(move || {
        crate::malformed::chunked_post(
            port,
            "/api/v1/tags",
            &token,
            &[(KEY_HEADER, "big-2")],
            &payload,
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    // A chunked body under the limit is read whole and kept with its key.
    let small = json!({ "value": "chunked" }).to_string().into_bytes();
    let mut answers = vec![];
    for _ in 0..2 {
        let (port, token, small) = (app.port, app.token.clone(), small.clone());
        answers.push(
            tokio::task::spawn_blocking(move || {
                crate::malformed::chunked_post(
                    port,
                    "/api/v1/tags",
                    &token,
                    &[(KEY_HEADER, "small-1")],
                    &small,
                )
            })
            .await
            .unwrap(),
        );
    }
    assert_eq!(answers[0].0, 201, "{answers:?}");
    assert_eq!(answers[0], answers[1]);
    assert_eq!(app.counts().await.tags, 1);
}

/// PostgreSQL only: a SQLite file stays readable to the connections that have it open.
#[tokio::test]
async fn keys_that_cannot_be_read_are_a_503_not_a_500() {
    let mut app = spawn_app_with(&[("MAILING_DATABASE_ACQUIRE_TIMEOUT_MS", "500")]).await;
    app.drop_database();
    let response = post_with_key(&app, "/api/v1/tags", "tag-1", &json!({ "value": "vip" }))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}
