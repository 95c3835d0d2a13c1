use crate::helpers::*;
use mailing_domain::MessageStatus;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, VARY};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_setups!(
    the_root_leads_a_browser_to_the_admin_ui,
    the_root_lists_the_entry_points_for_json_clients,
    openapi_document_describes_bearer_auth,
    served_openapi_document_matches_the_committed_one,
    docs_lead_to_swagger_ui,
    short_docs_paths_redirect_to_swagger_ui,
    unknown_documentation_files_are_not_found,
    docs_with_a_query_string_still_answer,
    health_and_readiness,
    responses_match_the_documented_schemas,
);

async fn the_root_leads_a_browser_to_the_admin_ui() {
    let app = spawn_app().await;

    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (method, accept) in [
        (Method::GET, None),
        (Method::GET, Some("*/*")),
        (Method::GET, Some(browser)),
        (Method::GET, Some("text/html, application/json;q=0.5")),
        (Method::GET, Some("not a media type")),
        (Method::HEAD, Some(browser)),
    ] {
        let mut request = app.request_without_token(method.clone(), "/");
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{method} / with Accept {accept:?}"
        );
        assert_eq!(response.headers()[LOCATION], "/admin");
        assert_eq!(response.headers()[VARY], "Accept");
    }

    // Followed as a browser does, it ends on the admin UI's login page.
    let admin = app.get_without_token("/admin").await;
    assert_eq!(admin.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin.headers()[LOCATION], "/admin/login");
    let login = app.get_without_token("/admin/login").await;
    assert_eq!(login.status(), StatusCode::OK);
    assert!(
        login.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    // Only reading is redirected.
    let response = app
        .request_without_token(Method::POST, "/")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
}

async fn the_root_lists_the_entry_points_for_json_clients() {
    let app = spawn_app().await;

    for accept in [
        "application/json",
        "application/problem+json",
        "application/json, text/html;q=0.5",
    ] {
        let response = app
            .request_without_token(Method::GET, "/")
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[VARY], "Accept", "{accept}");
        let index = body(response, StatusCode::OK).await;
        assert_eq!(index["service"], "mailing", "{accept}");
        assert_eq!(index["links"]["admin"], "/admin");
        assert_eq!(index["links"]["api_base"], "/api/v1");
    }

    let response = app
        .request_without_token(Method::GET, "/")
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    let index = body(response, StatusCode::OK).await;
    // Every entry point it names answers without a token (the API's base is a prefix only).
    for (name, link) in index["links"].as_object().unwrap() {
        if name == "api_base" {
            continue;
        }
        let path = link.as_str().unwrap();
        let status = app.get_without_token(path).await.status();
        assert!(
            status.is_success() || status.is_redirection(),
            "{name}: GET {path} answers {status}"
        );
    }
}

async fn openapi_document_describes_bearer_auth() {
    let app = spawn_app().await;

    let response = app.get_without_token("/api/v1/openapi.json").await;
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc = body(response, StatusCode::OK).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let paths = doc["paths"].as_object().unwrap();
    for resource in ["operators", "tags", "clients", "client-filters", "mailings"] {
        let collection = &paths[&format!("/api/v1/{resource}")];
        let item = &paths[&format!("/api/v1/{resource}/{{id}}")];
        for method in ["get", "post"] {
            assert!(collection[method].is_object(), "{method} /{resource}");
        }
        for method in ["get", "put", "patch", "delete"] {
            assert!(item[method].is_object(), "{method} /{resource}/{{id}}");
        }
    }
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            // A provider's forwarded reply proves itself by its signature instead of a token.
            let expected = if path == "/api/v1/auth/token" {
                json!([])
            } else if path == "/api/v1/inbound" && method == "post" {
                json!([{ "inboundSignature": [] }])
            } else {
                json!([{ "bearerAuth": [] }])
            };
            assert_eq!(operation["security"], expected, "{method} {path}");
        }
    }
}

async fn served_openapi_document_matches_the_committed_one() {
    let app = spawn_app().await;

    let served = body(
        app.get_without_token("/api/v1/openapi.json").await,
        StatusCode::OK,
    )
    .await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json"))
            .expect("docs/openapi.json is JSON");
    assert!(
        served == committed,
        "docs/openapi.json is stale; regenerate it with `make openapi`"
    );
}

async fn docs_lead_to_swagger_ui() {
    let app = spawn_app().await;

    let response = app.get_without_token("/api/v1/docs").await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/api/v1/docs/index.html"),
        "{location}"
    );
    assert!(location.contains("url=/api/v1/openapi.json"), "{location}");

    let page = app.get_without_token(&location).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html:.200}");

    // Everything the page pulls in by a relative link loads too.
    let mut assets = vec![];
    for marker in ["href=\"./", "src=\"./"] {
        for piece in html.split(marker).skip(1) {
            let asset = piece.split('"').next().unwrap();
            assets.push(asset.split('?').next().unwrap().to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    for asset in assets {
        let response = app
            .get_without_token(&format!("/api/v1/docs/{asset}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
}

async fn short_docs_paths_redirect_to_swagger_ui() {
    let app = spawn_app().await;

    for path in ["/docs", "/docs/", "/api/v1/docs", "/api/v1/docs/?url=x"] {
        let response = app.get_without_token(path).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{path}");
        assert_eq!(
            response.headers()[LOCATION],
            "/api/v1/docs/index.html?url=/api/v1/openapi.json",
            "{path}"
        );
    }
}

async fn unknown_documentation_files_are_not_found() {
    let app = spawn_app().await;

    for path in [
        "/api/v1/docs/not-a-file",
        "/api/v1/docs/index.htm",
        "/api/v1/docs/../Cargo.toml",
        "/api/v1/docs/dist/index.html",
    ] {
        let response = app.get_without_token(path).await;
        error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

async fn docs_with_a_query_string_still_answer() {
    let app = spawn_app().await;

    // A bookmark of the docs with Swagger UI's `?url=` or a tracking parameter must get an
    // answer, not a dropped connection.
    for path in [
        "/api/v1/docs?url=/api/v1/openapi.json",
        "/api/v1/docs/?url=/api/v1/openapi.json",
    ] {
        let response = app.get_without_token(path).await;
        let status = response.status();
        assert!(
            status.is_redirection() || status == StatusCode::OK || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
    }
    // And the server is still serving afterwards.
    let response = app.get_without_token("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn health_and_readiness() {
    let app = spawn_app().await;

    let health = body(app.get_without_token("/healthz").await, StatusCode::OK).await;
    assert_eq!(health, json!({ "status": "ok" }));
    let ready = body(app.get_without_token("/readyz").await, StatusCode::OK).await;
    assert_eq!(
        ready,
        json!({ "status": "ready", "database": "ok", "broker": "connected" })
    );
}

/// PostgreSQL only: a SQLite file stays readable to the connections that have it open.
#[tokio::test]
async fn losing_the_database_makes_the_instance_unready_not_broken() {
    let mut app = spawn_app_with(&[("MAILING_DATABASE_ACQUIRE_TIMEOUT_MS", "500")]).await;
    app.drop_database();

    let health = body(app.get_without_token("/healthz").await, StatusCode::OK).await;
    assert_eq!(health["status"], "ok", "the process itself is fine");
    let ready = body(
        app.get_without_token("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(ready["status"], "not_ready");
    let response = app.get("/api/v1/clients").await;
    error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let response = app
        .post_json("/api/v1/tags", &json!({ "value": "while down" }))
        .await;
    error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

/// Checks `value` against an OpenAPI 3.0 `schema` of `doc`: types, enums, `nullable`,
/// `required` and undeclared properties. Records each mismatch with its JSON path.
fn conform(doc: &Value, schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return conform(
            doc,
            &doc["components"]["schemas"][name],
            value,
            path,
            problems,
        );
    }
    if value.is_null() {
        if schema["nullable"] != true {
            problems.push(format!("{path}: null, but the schema does not allow null"));
        }
        return;
    }
    // A named schema with a description or `nullable` of its own.
    if let Some(first) = schema["allOf"].get(0) {
        return conform(doc, first, value, path, problems);
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {values:?}"));
    }
    let matches = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !matches {
        problems.push(format!("{path}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            conform(
                doc,
                &schema["items"],
                item,
                &format!("{path}[{i}]"),
                problems,
            );
        }
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object())
    {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                problems.push(format!("{path}.{name}: required but missing"));
            }
        }
        for (name, field) in object {
            match properties.get(name) {
                Some(property) => {
                    conform(doc, property, field, &format!("{path}.{name}"), problems)
                }
                None => problems.push(format!("{path}.{name}: not in the schema")),
            }
        }
    }
}

async fn responses_match_the_documented_schemas() {
    let app = spawn_app().await;
    let doc = body(
        app.get_without_token("/api/v1/openapi.json").await,
        StatusCode::OK,
    )
    .await;
    // Data with every nullable field both set and null.
    let operator = app.create_operator("bln").await;
    let tag = app.create_tag("vip").await;
    let kept = app.create_client("79000000001", "bln", &["vip"]).await;
    let gone = app.create_client("79000000002", "bln", &[]).await;
    let named = app
        .create_client_filter(&json!({ "name": "VIPs", "tags": ["vip"] }))
        .await;
    app.create_client_filter(&json!({})).await;
    let mailing = app
        .create_mailing(&json!({
            "text": "Hello",
            "start_at": at(chrono::Duration::hours(-1)),
            "end_at": at(chrono::Duration::days(1)),
            "client_filter_id": id(&named),
            "send_window": { "start": "09:00", "end": "21:00" },
        }))
        .await;
    let plain = app.running_mailing().await;
    app.insert_messages(vec![
        message(id(&mailing), id(&kept), MessageStatus::Sent),
        message(id(&mailing), id(&gone), MessageStatus::Scheduled),
        message(id(&plain), id(&kept), MessageStatus::Retrying),
    ])
    .await;
    body(
        app.post(&format!("/api/v1/mailings/{}/cancel", id(&plain)))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/clients/{}", id(&gone)))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let messages = body(app.get("/api/v1/messages").await, StatusCode::OK).await;
    let message_id = id(&messages["items"][0]);

    let calls: Vec<(Method, &str, String, Option<Value>)> = vec![
        (
            Method::GET,
            "/api/v1/operators",
            "/api/v1/operators".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/operators/{id}",
            format!("/api/v1/operators/{}", id(&operator)),
            None,
        ),
        (
            Method::POST,
            "/api/v1/operators",
            "/api/v1/operators".into(),
            Some(json!({ "code": "mts", "name": "MTS" })),
        ),
        (Method::GET, "/api/v1/tags", "/api/v1/tags".into(), None),
        (
            Method::GET,
            "/api/v1/tags/{id}",
            format!("/api/v1/tags/{}", id(&tag)),
            None,
        ),
        (
            Method::GET,
            "/api/v1/clients",
            "/api/v1/clients".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/clients/{id}",
            format!("/api/v1/clients/{}", id(&kept)),
            None,
        ),
        (
            Method::GET,
            "/api/v1/client-filters",
            "/api/v1/client-filters".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/client-filters/{id}",
            format!("/api/v1/client-filters/{}", id(&named)),
            None,
        ),
        (
            Method::GET,
            "/api/v1/mailings",
            "/api/v1/mailings".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/mailings/{id}",
            format!("/api/v1/mailings/{}", id(&plain)),
            None,
        ),
        (
            Method::GET,
            "/api/v1/messages",
            "/api/v1/messages".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/messages/{id}",
            format!("/api/v1/messages/{message_id}"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/mailings/stats",
            "/api/v1/mailings/stats".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/mailings/{id}/stats",
            format!("/api/v1/mailings/{}/stats", id(&mailing)),
            None,
        ),
        (
            Method::GET,
            "/api/v1/clients/{id}",
            "/api/v1/clients/999".into(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/clients",
            "/api/v1/clients".into(),
            Some(json!({ "phone_number": "1", "operator_code": "bln" })),
        ),
    ];
    let mut problems = vec![];
    for (method, template, path, input) in calls {
        let mut request = app.request(method.clone(), &path);
        if let Some(input) = input {
            request = request.json(&input);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16().to_string();
        let value: Value = response.json().await.unwrap();
        let operation = &doc["paths"][template][method.as_str().to_lowercase()];
        let schema = &operation["responses"][&status]["content"]["application/json"]["schema"];
        if schema.is_null() {
            problems.push(format!(
                "{method} {template}: status {status} is not documented"
            ));
            continue;
        }
        conform(
            &doc,
            schema,
            &value,
            &format!("{method} {path} ({status})"),
            &mut problems,
        );
    }
    assert!(
        problems.is_empty(),
        "responses differ from the document:\n{}",
        problems.join("\n")
    );
}
