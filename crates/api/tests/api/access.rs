//! Roles, accounts, revocable tokens and API keys over HTTP: what each role may do on every
//! operation of the document, accounts that are changed, disabled and deleted with their
//! tokens ending at once, logging out, one's own password, keys that work until revoked, and
//! password sign-in turned off.

use crate::helpers::*;
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

both_setups!(
    each_role_may_do_exactly_what_it_is_for_on_every_operation,
    accounts_are_created_changed_disabled_and_deleted_and_their_tokens_end_at_once,
    logging_out_revokes_only_the_token_it_carries,
    people_change_their_own_password,
    an_api_key_works_until_it_is_revoked_or_expires,
    password_sign_in_can_be_turned_off,
);

async fn call(app: &TestApp, method: &Method, path: &str, credential: &str) -> Response {
    let mut request = app
        .request_without_token(method.clone(), path)
        .header(AUTHORIZATION, format!("Bearer {credential}"));
    if [Method::POST, Method::PUT, Method::PATCH].contains(method) {
        request = request.json(&json!({}));
    }
    request.send().await.expect("the server answers")
}

/// The least role an operation needs, written out here independently of the server's rule.
fn needed(method: &Method, path: &str) -> &'static str {
    let resource = path
        .trim_start_matches("/api/v1/")
        .split('/')
        .next()
        .unwrap();
    if ["users", "api-keys", "audit-log"].contains(&resource) {
        "admin"
    } else if resource == "reports" && *method == Method::GET {
        "manager"
    } else if resource == "auth" || *method == Method::GET {
        "viewer"
    } else if ["operators", "reports"].contains(&resource) {
        "admin"
    } else {
        "manager"
    }
}

async fn each_role_may_do_exactly_what_it_is_for_on_every_operation() {
    let app = spawn_app().await;
    let viewer = app.account_token("vera", "viewer").await;
    let manager = app.account_token("max", "manager").await;
    let (_, viewer_key) = app.api_key("dashboard", "viewer").await;
    let (_, manager_key) = app.api_key("crm", "manager").await;
    let callers = [
        ("viewer", "the account vera is a viewer", viewer.as_str()),
        (
            "viewer",
            "the API key dashboard is a viewer",
            viewer_key.as_str(),
        ),
        ("manager", "the account max is a manager", manager.as_str()),
        (
            "manager",
            "the API key crm is a manager",
            manager_key.as_str(),
        ),
    ];
    let rank = |role: &str| {
        ["viewer", "manager", "admin"]
            .iter()
            .position(|r| *r == role)
    };
    let operations = crate::auth::protected_operations(&app).await;
    assert_eq!(operations.len(), 64);
    let counts = app.counts().await;
    let (mut refused, mut allowed) = (0, 0);
    for (method, path) in &operations {
        // Logging out would end the caller's token for the rest of the walk.
        if path == "/api/v1/auth/logout" {
            continue;
        }
        let needs = needed(method, path);
        for (role, who, credential) in &callers {
            let response = call(&app, method, path, credential).await;
            let what = format!("{method} {path} as {who}");
            if rank(role) < rank(needs) {
                let refusal = error(response, StatusCode::FORBIDDEN, "forbidden").await;
                assert_eq!(
                    refusal["message"],
                    format!("this needs the {needs} role; {who}"),
                    "{what}"
                );
                refused += 1;
            } else {
                assert_ne!(response.status(), StatusCode::FORBIDDEN, "{what}");
                assert_ne!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
                allowed += 1;
            }
        }
    }
    // A walk that refused nothing, or everything, would prove nothing.
    assert!(
        refused > 100 && allowed > 60,
        "{refused} refused, {allowed} allowed"
    );
    let after = app.counts().await;
    assert_eq!(
        after.operators, counts.operators,
        "refused writes stored nothing"
    );
    assert_eq!(after.mailings, counts.mailings);
}

async fn accounts_are_created_changed_disabled_and_deleted_and_their_tokens_end_at_once() {
    let app = spawn_app().await;
    // Every problem at once, and nothing stored.
    let refused = app
        .post_json(
            "/api/v1/users",
            &json!({ "username": "ann smith", "role": "root", "password": "short", "age": 3 }),
        )
        .await;
    let refused = error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_details(
        &refused,
        &[
            ("username", "username_format"),
            ("role", "unknown_role"),
            ("password", "password_length"),
            ("age", "unknown_field"),
        ],
    );
    let listed = body(app.get("/api/v1/users").await, StatusCode::OK).await;
    assert_eq!(listed["total"], 1, "only the configured admin: {listed}");

    let token = app.account_token("ann", "manager").await;
    let users = body(app.get("/api/v1/users").await, StatusCode::OK).await;
    let ann = &users["items"][1];
    assert_eq!(ann["username"], "ann");
    assert_eq!(ann["role"], "manager");
    assert_eq!(ann["has_password"], true);
    assert!(ann["last_sign_in_at"].is_string(), "{ann}");
    assert!(ann.get("password_hash").is_none());
    let id = ann["id"].as_i64().unwrap();
    let duplicate = app
        .post_json(
            "/api/v1/users",
            &json!({ "username": "ann", "role": "viewer" }),
        )
        .await;
    error(duplicate, StatusCode::CONFLICT, "duplicate_username").await;

    let as_ann = |path: &str| {
        app.request_without_token(Method::POST, path)
            .bearer_auth(&token)
            .json(&json!({ "value": "vip" }))
    };
    body(send(as_ann("/api/v1/tags")).await, StatusCode::CREATED).await;
    // A role change applies to the token she holds, at once.
    let demoted = app
        .patch_json(&format!("/api/v1/users/{id}"), &json!({ "role": "viewer" }))
        .await;
    assert_eq!(body(demoted, StatusCode::OK).await["role"], "viewer");
    error(
        send(as_ann("/api/v1/tags")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let disabled = app
        .patch_json(&format!("/api/v1/users/{id}"), &json!({ "disabled": true }))
        .await;
    assert_eq!(body(disabled, StatusCode::OK).await["disabled"], true);
    let refused = send(
        app.request_without_token(Method::GET, "/api/v1/tags")
            .bearer_auth(&token),
    )
    .await;
    error(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let login = app
        .post_json_without_token(
            "/api/v1/auth/token",
            &json!({ "username": "ann", "password": "a long passphrase" }),
        )
        .await;
    error(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    app.patch_json(
        &format!("/api/v1/users/{id}"),
        &json!({ "disabled": false }),
    )
    .await;
    let login = app
        .post_json_without_token(
            "/api/v1/auth/token",
            &json!({ "username": "ann", "password": "a long passphrase" }),
        )
        .await;
    let again = body(login, StatusCode::OK).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = app.delete(&format!("/api/v1/users/{id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let refused = send(
        app.request_without_token(Method::GET, "/api/v1/tags")
            .bearer_auth(&again),
    )
    .await;
    error(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
    error(
        app.get(&format!("/api/v1/users/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The configured account changes only through the configuration.
    let admin_id = users["items"][0]["id"].as_i64().unwrap();
    let refused = app
        .patch_json(
            &format!("/api/v1/users/{admin_id}"),
            &json!({ "role": "viewer" }),
        )
        .await;
    error(refused, StatusCode::CONFLICT, "configured_account").await;
    error(
        app.delete(&format!("/api/v1/users/{admin_id}")).await,
        StatusCode::CONFLICT,
        "configured_account",
    )
    .await;
    // Nor can an admin lock themselves out.
    let boss = app.account_token("boss", "admin").await;
    let boss_id = body(app.get("/api/v1/users").await, StatusCode::OK).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["username"] == "boss")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let own = send(
        app.request_without_token(Method::PATCH, &format!("/api/v1/users/{boss_id}"))
            .bearer_auth(&boss)
            .json(&json!({ "disabled": true })),
    )
    .await;
    error(own, StatusCode::CONFLICT, "own_account").await;
}

async fn logging_out_revokes_only_the_token_it_carries() {
    let app = spawn_app().await;
    let first = app.account_token("ann", "viewer").await;
    let login = app
        .post_json_without_token(
            "/api/v1/auth/token",
            &json!({ "username": "ann", "password": "a long passphrase" }),
        )
        .await;
    let second = body(login, StatusCode::OK).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = |token: &str| {
        send(
            app.request_without_token(Method::GET, "/api/v1/operators")
                .bearer_auth(token),
        )
    };
    let out = send(
        app.request_without_token(Method::POST, "/api/v1/auth/logout")
            .bearer_auth(&first),
    )
    .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    error(get(&first).await, StatusCode::UNAUTHORIZED, "token_revoked").await;
    body(get(&second).await, StatusCode::OK).await;
    let again = send(
        app.request_without_token(Method::POST, "/api/v1/auth/logout")
            .bearer_auth(&first),
    )
    .await;
    error(again, StatusCode::UNAUTHORIZED, "token_revoked").await;

    let (_, key) = app.api_key("crm", "viewer").await;
    let refused = send(
        app.request_without_token(Method::POST, "/api/v1/auth/logout")
            .bearer_auth(&key),
    )
    .await;
    error(refused, StatusCode::UNPROCESSABLE_ENTITY, "not_an_account").await;
}

async fn people_change_their_own_password() {
    let app = spawn_app().await;
    let token = app.account_token("ann", "viewer").await;
    let change = |current: &str, new: &str| {
        send(
            app.request_without_token(Method::POST, "/api/v1/auth/password")
                .bearer_auth(&token)
                .json(&json!({ "current_password": current, "new_password": new })),
        )
    };
    let wrong = error(
        change("not it at all", "a brand new passphrase").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_details(&wrong, &[("current_password", "wrong_password")]);
    let short = error(
        change("a long passphrase", "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_details(&short, &[("new_password", "password_length")]);
    assert_eq!(
        change("a long passphrase", "a brand new passphrase")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let login = |password: &str| {
        send(
            app.request_without_token(Method::POST, "/api/v1/auth/token")
                .json(&json!({ "username": "ann", "password": password })),
        )
    };
    error(
        login("a long passphrase").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    body(login("a brand new passphrase").await, StatusCode::OK).await;

    let configured = app
        .post_json(
            "/api/v1/auth/password",
            &json!({ "current_password": ADMIN_PASSWORD, "new_password": "a brand new passphrase" }),
        )
        .await;
    error(configured, StatusCode::CONFLICT, "configured_account").await;
}

async fn an_api_key_works_until_it_is_revoked_or_expires() {
    let app = spawn_app().await;
    let created = app
        .post_json(
            "/api/v1/api-keys",
            &json!({ "name": "crm-sync", "role": "manager", "expires_at": "2099-01-01T00:00:00Z" }),
        )
        .await;
    let created = body(created, StatusCode::CREATED).await;
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["prefix"].as_str().unwrap();
    assert!(
        key.starts_with("mlk_") && key.starts_with(prefix) && prefix.len() == 12,
        "{created}"
    );
    assert_eq!(created["created_by"], ADMIN_USERNAME);
    let id = created["id"].as_i64().unwrap();

    let tag = send(
        app.request_without_token(Method::POST, "/api/v1/tags")
            .bearer_auth(&key)
            .json(&json!({ "value": "vip" })),
    )
    .await;
    body(tag, StatusCode::CREATED).await;
    let listed = body(app.get("/api/v1/api-keys").await, StatusCode::OK).await;
    let shown = &listed["items"][0];
    assert_eq!(shown["name"], "crm-sync");
    assert_eq!(shown["role"], "manager");
    assert!(shown["last_used_at"].is_string(), "{shown}");
    assert_eq!(shown["expires_at"], "2099-01-01T00:00:00Z");
    assert!(
        !listed.to_string().contains(&key[prefix.len()..]),
        "the secret is shown once"
    );

    let duplicate = app
        .post_json(
            "/api/v1/api-keys",
            &json!({ "name": "crm-sync", "role": "viewer" }),
        )
        .await;
    error(duplicate, StatusCode::CONFLICT, "duplicate_api_key_name").await;
    let bad = app
        .post_json(
            "/api/v1/api-keys",
            &json!({ "name": "", "role": "owner", "expires_at": "2001-01-01T00:00:00Z" }),
        )
        .await;
    let bad = error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_details(
        &bad,
        &[
            ("name", "empty"),
            ("role", "unknown_role"),
            ("expires_at", "in_past"),
        ],
    );

    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let refused = send(
        app.request_without_token(Method::GET, "/api/v1/tags")
            .bearer_auth(&key),
    )
    .await;
    error(refused, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    error(
        app.delete(&format!("/api/v1/api-keys/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // A key past its expiry is refused like a revoked one.
    let (short_id, short_lived) = app.api_key("short-lived", "viewer").await;
    app.store()
        .delete_api_key(mailing_domain::ApiKeyId(short_id))
        .unwrap();
    let expiring = app
        .post_json(
            "/api/v1/api-keys",
            &json!({
                "name": "expiring",
                "role": "viewer",
                "expires_at": (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339(),
            }),
        )
        .await;
    let expiring = body(expiring, StatusCode::CREATED).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let use_key = |key: &str| {
        send(
            app.request_without_token(Method::GET, "/api/v1/tags")
                .bearer_auth(key),
        )
    };
    body(use_key(&expiring).await, StatusCode::OK).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    error(
        use_key(&expiring).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await;
    error(
        use_key(&short_lived).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await;
}

async fn password_sign_in_can_be_turned_off() {
    let app = spawn_app_with(&[("MAILING_PASSWORD_LOGIN", "false")]).await;
    let login = app
        .post_json_without_token(
            "/api/v1/auth/token",
            &json!({ "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD }),
        )
        .await;
    let refused: Value = error(login, StatusCode::FORBIDDEN, "password_login_disabled").await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("MAILING_PASSWORD_LOGIN")
    );
    let page = app.get_without_token("/admin/login").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("type=\"password\""),
        "no password form: {html}"
    );
    assert!(html.contains("Signing in with a password is turned off"));
}
