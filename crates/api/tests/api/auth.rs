use crate::helpers::*;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

both_setups!(
    token_endpoint_issues_a_bearer_token,
    issued_token_lives_as_long_as_configured,
    wrong_password_is_refused,
    unknown_user_is_refused,
    odd_usernames_are_wrong_credentials_not_server_errors,
    configured_admin_account_replaces_the_default,
    every_protected_operation_refuses_requests_without_a_valid_token,
    issued_tokens_are_accepted_with_either_spelling_of_the_scheme,
    tokens_with_wrong_claims_or_algorithm_are_refused,
    health_readiness_and_documentation_need_no_token,
    token_request_is_validated_like_any_body,
    repeated_failed_logins_are_throttled_per_client_and_account,
    a_successful_login_clears_the_failures,
);

/// base64url of `{"alg":"none","typ":"JWT"}`.
const ALG_NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

async fn token_endpoint_issues_a_bearer_token() {
    let app = spawn_app().await;

    assert_eq!(app.login["token_type"], "Bearer");
    assert_eq!(app.login["expires_in"], 3600, "the dev default lifetime");
    let mut keys: Vec<&String> = app.login.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "expires_in", "token_type"]);
    let response = app.get("/api/v1/operators").await;
    body(response, StatusCode::OK).await;
}

async fn issued_token_lives_as_long_as_configured() {
    let app = spawn_app_with(&[("MAILING_JWT_TTL_SECONDS", "120")]).await;

    assert_eq!(app.login["expires_in"], 120);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    let claims = jsonwebtoken::decode::<Value>(
        &app.token,
        &jsonwebtoken::DecodingKey::from_secret(DEV_JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("the token is signed with the dev secret")
    .claims;
    assert_eq!(claims["sub"], ADMIN_USERNAME);
    assert_eq!(claims["iss"], ISSUER);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 120);
    assert!((claims["iat"].as_i64().unwrap() - now_secs()).abs() <= 5);
}

async fn wrong_password_is_refused() {
    let app = spawn_app().await;

    let response = app.login(ADMIN_USERNAME, "123456").await;
    assert_eq!(response.headers().get(WWW_AUTHENTICATE).unwrap(), "Bearer");
    error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let response = app.login(ADMIN_USERNAME, "").await;
    error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

async fn unknown_user_is_refused() {
    let app = spawn_app().await;

    let response = app.login("root", ADMIN_PASSWORD).await;
    error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Usernames are exact: no trimming, no case folding.
    for username in ["Admin", " admin", "admin "] {
        let response = app.login(username, ADMIN_PASSWORD).await;
        error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

async fn odd_usernames_are_wrong_credentials_not_server_errors() {
    let app = spawn_app().await;

    // A NUL cannot be stored in a PostgreSQL text column, so no account can have one.
    for username in ["ad\u{0}min", "\u{0}", &"a".repeat(10_000), "' OR 1=1 --"] {
        let response = app.login(username, ADMIN_PASSWORD).await;
        error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

async fn configured_admin_account_replaces_the_default() {
    let app = spawn_app_with(&[
        ("MAILING_ADMIN_USERNAME", "operator"),
        ("MAILING_ADMIN_PASSWORD", "correct horse battery staple"),
    ])
    .await;

    assert_eq!(app.login["token_type"], "Bearer");
    let response = app.login("operator", "correct horse battery staple").await;
    body(response, StatusCode::OK).await;
    let response = app.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
    error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

/// Every operation of the OpenAPI document but the login and the signed replies (see
/// `inbound.rs`), with ids set to 1 and numbers to `79001234567`.
pub(crate) async fn protected_operations(app: &TestApp) -> Vec<(Method, String)> {
    let doc = body(
        app.get_without_token("/api/v1/openapi.json").await,
        StatusCode::OK,
    )
    .await;
    let mut operations = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            let method: Method = method.to_uppercase().parse().expect("an HTTP method");
            if method == Method::POST
                && ["/api/v1/auth/token", "/api/v1/inbound"].contains(&path.as_str())
            {
                continue;
            }
            let path = path
                .replace("{id}", "1")
                .replace("{phone_number}", "79001234567");
            operations.push((method, path));
        }
    }
    operations
}

async fn call(app: &TestApp, method: &Method, path: &str, authorization: Option<&str>) -> Response {
    let mut request = app.request_without_token(method.clone(), path);
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    if [Method::POST, Method::PUT, Method::PATCH].contains(method) {
        request = request.json(&json!({}));
    }
    request.send().await.expect("the server answers")
}

async fn assert_refused(response: Response, code: &str, what: &str) {
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "{what}: {:?}",
        response.text().await
    );
    assert_eq!(
        response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap()),
        Some("Bearer"),
        "{what}"
    );
    let body = error(response, StatusCode::UNAUTHORIZED, code).await;
    assert_details(&body, &[]);
}

async fn every_protected_operation_refuses_requests_without_a_valid_token() {
    let app = spawn_app().await;
    let operations = protected_operations(&app).await;
    // Five CRUD resources, messages, stats, the mailing actions (cancel, pause, resume,
    // resend) and preview, imports and the export, opt-outs and the list of replies: a walk
    // over nothing would prove nothing.
    // Then users, API keys, the audit log, logging out and changing one's password.
    assert_eq!(operations.len(), 64, "{operations:?}");

    let now = now_secs();
    let other_secret = sign_token(
        "another-secret-that-is-long-enough-0123456789",
        ADMIN_USERNAME,
        now,
        now + 600,
    );
    let expired = sign_token(DEV_JWT_SECRET, ADMIN_USERNAME, now - 7200, now - 3600);
    // Well signed, but never issued: the database knows no such token.
    let never_issued = sign_token(DEV_JWT_SECRET, ADMIN_USERNAME, now, now + 600);
    let cases: [(Option<String>, &str); 8] = [
        (None, "missing_token"),
        (Some("Bearer not-a-jwt".to_owned()), "invalid_token"),
        (Some("Bearer ".to_owned()), "invalid_token"),
        (Some(format!("Basic {}", app.token)), "invalid_token"),
        (Some(format!("Bearer {other_secret}")), "invalid_token"),
        (Some(format!("Bearer {expired}")), "token_expired"),
        (Some(format!("Bearer {never_issued}")), "token_revoked"),
        (
            Some("Bearer mlk_0123456789abcdefghijklmnopqrstuvwxyzABCD".to_owned()),
            "invalid_api_key",
        ),
    ];
    let counts = app.counts().await;
    for (method, path) in &operations {
        for (authorization, code) in &cases {
            let response = call(&app, method, path, authorization.as_deref()).await;
            assert_refused(
                response,
                code,
                &format!("{method} {path} with {authorization:?}"),
            )
            .await;
        }
    }
    assert_eq!(
        app.counts().await,
        counts,
        "refused requests stored nothing"
    );
}

async fn issued_tokens_are_accepted_with_either_spelling_of_the_scheme() {
    // The refusals above are only meaningful if an issued token is otherwise good.
    let app = spawn_app().await;
    let token = app.token.clone();

    for scheme in ["Bearer", "bearer"] {
        let response = call(
            &app,
            &Method::GET,
            "/api/v1/operators",
            Some(&format!("{scheme} {token}")),
        )
        .await;
        body(response, StatusCode::OK).await;
    }
}

async fn tokens_with_wrong_claims_or_algorithm_are_refused() {
    let app = spawn_app().await;
    let now = now_secs();
    let good = sign_token(DEV_JWT_SECRET, ADMIN_USERNAME, now, now + 600);
    let payload = good.split('.').nth(1).unwrap();
    let unsigned = format!("{ALG_NONE_HEADER}.{payload}.");
    // Another subject's claims under the admin token's signature.
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let other = sign_token(DEV_JWT_SECRET, "someone-else", now, now + 6000);
        let other_payload = other.split('.').nth(1).unwrap().to_owned();
        format!("{}.{other_payload}.{}", parts[0], parts[2])
    };
    let wrong_issuer = sign_claims(
        DEV_JWT_SECRET,
        &json!({ "sub": ADMIN_USERNAME, "iss": "someone-else", "iat": now, "exp": now + 600 }),
    );
    let no_expiry = sign_claims(
        DEV_JWT_SECRET,
        &json!({ "sub": ADMIN_USERNAME, "iss": ISSUER, "iat": now }),
    );
    let just_expired = sign_token(DEV_JWT_SECRET, ADMIN_USERNAME, now - 600, now - 1);

    for (token, code) in [
        (unsigned, "invalid_token"),
        (tampered, "invalid_token"),
        (wrong_issuer, "invalid_token"),
        (no_expiry, "invalid_token"),
        (just_expired, "token_expired"),
    ] {
        let response = call(
            &app,
            &Method::GET,
            "/api/v1/clients",
            Some(&format!("Bearer {token}")),
        )
        .await;
        assert_refused(response, code, &token).await;
    }
}

async fn health_readiness_and_documentation_need_no_token() {
    let app = spawn_app().await;

    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/openapi.json",
        "/api/v1/docs/index.html",
    ] {
        let response = app.get_without_token(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    for path in ["/api/v1/docs", "/docs", "/docs/"] {
        let response = app.get_without_token(path).await;
        assert!(
            response.status().is_redirection(),
            "{path}: {}",
            response.status()
        );
    }
}

async fn token_request_is_validated_like_any_body() {
    let app = spawn_app().await;

    let response = app
        .post_json_without_token("/api/v1/auth/token", &json!({ "username": "admin" }))
        .await;
    validation(response, &[("password", "required")]).await;
    let response = app
        .post_json_without_token(
            "/api/v1/auth/token",
            &json!({ "username": "admin", "password": 12345 }),
        )
        .await;
    validation(response, &[("password", "invalid_type")]).await;
    let response = send_form(&app).await;
    error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

async fn send_form(app: &TestApp) -> Response {
    app.request_without_token(Method::POST, "/api/v1/auth/token")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("username=admin&password=12345")
        .send()
        .await
        .unwrap()
}

async fn repeated_failed_logins_are_throttled_per_client_and_account() {
    let app = spawn_app_with(&[
        ("MAILING_LOGIN_MAX_FAILURES", "3"),
        ("MAILING_LOGIN_FAILURE_WINDOW_SECONDS", "60"),
    ])
    .await;
    for _ in 0..3 {
        let response = app.login(ADMIN_USERNAME, "wrong-password").await;
        error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    let refused = app.login(ADMIN_USERNAME, "wrong-password").await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let right_password_too = app.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
    error(
        right_password_too,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;

    let other_account = app.login("someone-else", "wrong-password").await;
    error(
        other_account,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let token_in_hand = app.get("/api/v1/operators").await;
    assert_eq!(
        token_in_hand.status(),
        StatusCode::OK,
        "tokens already issued keep working"
    );
}

async fn a_successful_login_clears_the_failures() {
    let app = spawn_app_with(&[("MAILING_LOGIN_MAX_FAILURES", "2")]).await;
    for _ in 0..3 {
        let response = app.login(ADMIN_USERNAME, "wrong-password").await;
        error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let response = app.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
        body(response, StatusCode::OK).await;
    }
}
