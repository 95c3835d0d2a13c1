use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{Read, Write};

both_setups!(
    broken_json_is_a_bad_request,
    wrong_types_name_the_field,
    unknown_fields_are_named,
    missing_fields_are_required,
    bodies_must_be_json,
    oversized_bodies_are_refused_with_json,
    oversized_chunked_bodies_are_refused_while_reading,
    malformed_path_ids_are_bad_requests,
    malformed_queries_are_bad_requests,
    unknown_query_parameters_are_named,
    unknown_routes_and_methods_answer_json,
    odd_but_well_formed_input_never_gets_a_server_error,
);

/// One record of every kind, so updates have something to aim at. Returns every write
/// operation as (method, path, a valid body).
async fn arrange(app: &TestApp) -> Vec<(Method, String, Value)> {
    let operator = app.create_operator("bln").await;
    let tag = app.create_tag("vip").await;
    let client = app.create_client("79001234567", "bln", &["vip"]).await;
    let filter = app.create_client_filter(&json!({ "tags": ["vip"] })).await;
    let mailing = app.scheduled_mailing().await;
    let operator_body = json!({ "code": "mts", "name": "MTS" });
    let tag_body = json!({ "value": "new" });
    let client_body = json!({ "phone_number": "79007654321", "operator_code": "bln" });
    let filter_body = json!({ "operator_codes": ["bln"] });
    let mailing_body = scheduled_mailing_body();
    let mut operations = vec![(
        Method::POST,
        "/api/v1/auth/token".to_owned(),
        json!({ "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD }),
    )];
    for (collection, record, valid) in [
        ("operators", &operator, operator_body),
        ("tags", &tag, tag_body),
        ("clients", &client, client_body),
        ("client-filters", &filter, filter_body),
        ("mailings", &mailing, mailing_body),
    ] {
        let item = format!("/api/v1/{collection}/{}", id(record));
        operations.push((Method::POST, format!("/api/v1/{collection}"), valid.clone()));
        operations.push((Method::PUT, item.clone(), valid.clone()));
        operations.push((Method::PATCH, item, valid));
    }
    operations
}

/// Every record as the API shows it, to compare before and after refused writes.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut all = vec![];
    for collection in ["operators", "tags", "clients", "client-filters", "mailings"] {
        let page = body(
            app.get(&format!("/api/v1/{collection}?page_size=500"))
                .await,
            StatusCode::OK,
        )
        .await;
        let mut items = page["items"].as_array().unwrap().clone();
        // The derived status may move on with the clock; the stored data may not.
        for item in &mut items {
            item.as_object_mut().unwrap().remove("status");
        }
        all.extend(items);
    }
    all
}

async fn broken_json_is_a_bad_request() {
    let app = spawn_app().await;
    let operations = arrange(&app).await;
    let before = snapshot(&app).await;

    // Each breaks before the first key, so no endpoint can object to a field first.
    let bodies: [&[u8]; 8] = [
        b"",
        b"   ",
        b"{",
        b"{,}",
        b"{\"",
        b"nul",
        b"{'value': 'x'}",
        b"\xff\xfe{}",
    ];
    for (method, path, valid) in &operations {
        let trailing = format!("{valid} trailing").into_bytes();
        let unclosed = format!("{valid}").trim_end_matches('}').as_bytes().to_vec();
        for raw in bodies
            .iter()
            .map(|b| b.to_vec())
            .chain([trailing, unclosed])
        {
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let response = app
                .send_raw(method.clone(), path, Some("application/json"), raw)
                .await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{method} {path} {shown:?}"
            );
            let refused = error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
            assert_details(&refused, &[]);
        }
    }
    assert_eq!(snapshot(&app).await, before);
}

async fn wrong_types_name_the_field() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let before = app.counts().await;
    let client = json!({ "phone_number": "79001234567", "operator_code": "bln" });
    let mailing = scheduled_mailing_body();

    for (path, input, field) in [
        (
            "/api/v1/operators",
            json!({ "code": 1, "name": "x" }),
            "code",
        ),
        (
            "/api/v1/operators",
            json!({ "code": "x", "name": null }),
            "name",
        ),
        ("/api/v1/tags", json!({ "value": ["vip"] }), "value"),
        (
            "/api/v1/clients",
            with(&client, json!({ "phone_number": 79001234567_i64 })),
            "phone_number",
        ),
        (
            "/api/v1/clients",
            with(&client, json!({ "tags": "vip" })),
            "tags",
        ),
        (
            "/api/v1/clients",
            with(&client, json!({ "tags": ["vip", 7] })),
            "tags[1]",
        ),
        (
            "/api/v1/clients",
            with(&client, json!({ "time_zone": 3 })),
            "time_zone",
        ),
        (
            "/api/v1/client-filters",
            json!({ "operator_codes": "bln" }),
            "operator_codes",
        ),
        ("/api/v1/client-filters", json!({ "name": false }), "name"),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "text": 42 })),
            "text",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "start_at": "tomorrow" })),
            "start_at",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "end_at": "2030-01-01T10:00:00" })),
            "end_at",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "end_at": 1_900_000_000 })),
            "end_at",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "local_time": "yes" })),
            "local_time",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "filter": [] })),
            "filter",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "filter": { "tags": "vip" } })),
            "filter.tags",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "filter": { "operator_codes": [1] } })),
            "filter.operator_codes[0]",
        ),
        (
            "/api/v1/mailings",
            with(
                &mailing,
                json!({ "send_window": { "start": 9, "end": "10:00" } }),
            ),
            "send_window.start",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "filter": null, "client_filter_id": "1" })),
            "client_filter_id",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "filter": null, "client_filter_id": 1.5 })),
            "client_filter_id",
        ),
        (
            "/api/v1/auth/token",
            json!({ "username": null, "password": "x" }),
            "username",
        ),
    ] {
        let code = match field {
            _ if input[field].is_null() && input.get(field).is_some() => "null_not_allowed",
            "start_at" if input[field] == "tomorrow" => "datetime_format",
            "end_at" if input[field].is_string() => "offset_required",
            _ => "invalid_type",
        };
        let response = app.post_json(path, &input).await;
        let refused = validation(response, &[(field, code)]).await;
        assert!(
            !refused["details"][0]["message"]
                .as_str()
                .unwrap()
                .contains(" at line "),
            "positions are not part of the message: {refused}"
        );
    }
    for whole in [json!([]), json!("text"), json!(null), json!(42)] {
        let response = app.post_json("/api/v1/tags", &whole).await;
        validation(response, &[("body", "not_an_object")]).await;
    }
    assert_eq!(app.counts().await, before);
}

/// The (field, code) pairs of an error body's details.
fn detail_pairs(body: &Value) -> Vec<(String, String)> {
    body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap().to_owned(),
                d["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn unknown_fields_are_named() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let operator = app.create_operator("mts").await;
    let before = app.counts().await;
    let client = json!({ "phone_number": "79001234567", "operator_code": "bln" });
    let mailing = scheduled_mailing_body();
    let operator_path = format!("/api/v1/operators/{}", id(&operator));

    let cases = [
        (
            Method::POST,
            "/api/v1/clients",
            with(&client, json!({ "email": "a@b.c" })),
            "email",
        ),
        (
            Method::POST,
            "/api/v1/clients",
            with(&client, json!({ "phone": "79001234567" })),
            "phone",
        ),
        (
            Method::POST,
            "/api/v1/tags",
            json!({ "value": "x", "id": 3 }),
            "id",
        ),
        (
            Method::POST,
            "/api/v1/mailings",
            with(&mailing, json!({ "status": "running" })),
            "status",
        ),
        (
            Method::POST,
            "/api/v1/mailings",
            with(&mailing, json!({ "filter": { "colour": "red" } })),
            "filter.colour",
        ),
        (
            Method::POST,
            "/api/v1/mailings",
            with(
                &mailing,
                json!({ "send_window": { "start": "09:00", "end": "10:00", "tz": "UTC" } }),
            ),
            "send_window.tz",
        ),
        (
            Method::POST,
            "/api/v1/auth/token",
            json!({ "username": "admin", "password": "12345", "remember": true }),
            "remember",
        ),
        (
            Method::PATCH,
            operator_path.as_str(),
            json!({ "name": "x", "created_at": "now" }),
            "created_at",
        ),
    ];
    // Every case is checked before failing, so a report shows the whole pattern.
    let mut wrong = vec![];
    for (method, path, input, field) in cases {
        let response = app
            .request(method.clone(), path)
            .json(&input)
            .send()
            .await
            .unwrap();
        let refused = error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let expected = vec![(field.to_owned(), "unknown_field".to_owned())];
        let actual = detail_pairs(&refused);
        if actual != expected {
            wrong.push(format!(
                "{method} {path}: expected {expected:?}, got {actual:?}"
            ));
        }
    }
    assert_eq!(app.counts().await, before);
    assert!(
        wrong.is_empty(),
        "unknown fields misnamed:\n{}",
        wrong.join("\n")
    );
}

async fn missing_fields_are_required() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let before = app.counts().await;
    let mailing = scheduled_mailing_body();

    for (path, input, field) in [
        ("/api/v1/operators", json!({ "code": "x" }), "name"),
        ("/api/v1/operators", json!({ "name": "x" }), "code"),
        ("/api/v1/tags", json!({}), "value"),
        (
            "/api/v1/clients",
            json!({ "operator_code": "bln" }),
            "phone_number",
        ),
        (
            "/api/v1/clients",
            json!({ "phone_number": "79001234567" }),
            "operator_code",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "text": null })),
            "text",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "start_at": null })),
            "start_at",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "end_at": null })),
            "end_at",
        ),
        (
            "/api/v1/mailings",
            with(&mailing, json!({ "send_window": { "start": "09:00" } })),
            "send_window.end",
        ),
    ] {
        let response = app.post_json(path, &input).await;
        validation(response, &[(field, "required")]).await;
    }
    assert_eq!(app.counts().await, before);
}

async fn bodies_must_be_json() {
    let app = spawn_app().await;
    let operations = arrange(&app).await;
    let before = snapshot(&app).await;

    for (method, path, valid) in &operations {
        let raw = valid.to_string();
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
            Some("not a mime type"),
            None,
        ] {
            let response = app
                .send_raw(method.clone(), path, content_type, raw.clone())
                .await;
            error(
                response,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
    }
    assert_eq!(snapshot(&app).await, before);

    // Parameters of the JSON media type are fine. The bodies may still conflict with each
    // other (a POST takes the code a PUT then asks for); what matters is that they are read.
    for (method, path, valid) in &operations {
        let response = app
            .send_raw(
                method.clone(),
                path,
                Some("application/json; charset=utf-8"),
                valid.to_string(),
            )
            .await;
        let status = response.status();
        assert!(
            status.is_success() || status == StatusCode::CONFLICT,
            "{method} {path}: {status} {}",
            response.text().await.unwrap()
        );
    }
}

async fn oversized_bodies_are_refused_with_json() {
    let app = spawn_app_with(&[("MAILING_MAX_BODY_BYTES", "1024")]).await;
    let before = app.counts().await;
    let big = with(
        &scheduled_mailing_body(),
        json!({ "text": "x".repeat(1500) }),
    );
    assert!(big.to_string().len() > 1024);

    let response = app.post_json("/api/v1/mailings", &big).await;
    let refused = error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(
        refused["message"].as_str().unwrap().contains("1024"),
        "{refused}"
    );
    let response = app
        .post_json("/api/v1/tags", &json!({ "value": "v".repeat(5000) }))
        .await;
    error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_eq!(app.counts().await, before);

    let fits = with(
        &scheduled_mailing_body(),
        json!({ "text": "x".repeat(700) }),
    );
    assert!(fits.to_string().len() < 1024);
    app.create_mailing(&fits).await;
}

/// Sends a chunked request (no Content-Length) with the `extra` headers over a plain socket and
/// returns the status line and the body of the response.
pub fn chunked_post(
    port: u16,
    path: &str,
    token: &str,
    extra: &[(&str, &str)],
    payload: &[u8],
) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let extra: String = extra
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{extra}\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in payload.chunks(256) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer before it has read everything; what it answers is the point.
    let _ = stream.write_all(&request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_owned())
}

async fn oversized_chunked_bodies_are_refused_while_reading() {
    let app = spawn_app_with(&[("MAILING_MAX_BODY_BYTES", "1024")]).await;
    let before = app.counts().await;
    let payload = json!({ "value": "v".repeat(4000) })
        .to_string()
        .into_bytes();
    let (port, token) = (app.port, app.token.clone());

    let (status, text) = tokio::task::spawn_blocking(move || {
        chunked_post(port, "/api/v1/tags", &token, &[], &payload)
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{text}");
    let refused: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text:?}"));
    assert_error_shape(&refused);
    assert_eq!(refused["code"], "payload_too_large");
    assert_eq!(app.counts().await, before);

    let small = json!({ "value": "chunked" }).to_string().into_bytes();
    let (port, token) = (app.port, app.token.clone());
    let (status, text) = tokio::task::spawn_blocking(move || {
        chunked_post(port, "/api/v1/tags", &token, &[], &small)
    })
    .await
    .unwrap();
    assert_eq!(status, 201, "{text}");
}

async fn malformed_path_ids_are_bad_requests() {
    let app = spawn_app().await;
    let before = app.counts().await;
    let mut templates = vec![];
    for collection in ["operators", "tags", "clients", "client-filters", "mailings"] {
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            templates.push((method, format!("/api/v1/{collection}/{{id}}")));
        }
    }
    templates.push((Method::GET, "/api/v1/messages/{id}".to_owned()));
    templates.push((Method::POST, "/api/v1/mailings/{id}/cancel".to_owned()));
    templates.push((Method::GET, "/api/v1/mailings/{id}/stats".to_owned()));

    for (method, template) in &templates {
        for bad in ["abc", "1.5", "1e3", "0x10", "99999999999999999999", "%20"] {
            let path = template.replace("{id}", bad);
            let request = app.request(method.clone(), &path).json(&json!({}));
            let response = request.send().await.expect("an answer");
            let refused = error(response, StatusCode::BAD_REQUEST, "invalid_path").await;
            assert_details(&refused, &[("id", "invalid_id")]);
        }
    }
    assert_eq!(app.counts().await, before);
}

async fn malformed_queries_are_bad_requests() {
    let app = spawn_app().await;
    let mailing = app.scheduled_mailing().await;
    let lists = [
        "/api/v1/operators".to_owned(),
        "/api/v1/tags".to_owned(),
        "/api/v1/clients".to_owned(),
        "/api/v1/client-filters".to_owned(),
        "/api/v1/mailings".to_owned(),
        "/api/v1/messages".to_owned(),
        "/api/v1/mailings/stats".to_owned(),
        format!("/api/v1/mailings/{}/stats", id(&mailing)),
    ];

    for list in &lists {
        for (query, expected) in [
            ("page=abc", vec![("page", "invalid_type")]),
            ("page=-1", vec![("page", "invalid_type")]),
            ("page=1.5", vec![("page", "invalid_type")]),
            ("page=4294967296", vec![("page", "invalid_type")]),
            ("page=0", vec![("page", "out_of_range")]),
            ("page_size=0", vec![("page_size", "out_of_range")]),
            ("page_size=501", vec![("page_size", "out_of_range")]),
            ("page_size=", vec![("page_size", "invalid_type")]),
            (
                "page=0&page_size=0",
                vec![("page", "out_of_range"), ("page_size", "out_of_range")],
            ),
        ] {
            let response = app.get(&format!("{list}?{query}")).await;
            invalid_query(response, &expected).await;
        }
        let response = app.get(&format!("{list}?page=1&page=2")).await;
        error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
        for ok in [
            "page_size=500",
            "page=4294967295&page_size=500",
            "page=1&page_size=1",
        ] {
            let response = app.get(&format!("{list}?{ok}")).await;
            assert_eq!(response.status(), StatusCode::OK, "{list}?{ok}");
        }
    }
    for (list, query, field) in [
        ("/api/v1/messages", "mailing_id=abc", "mailing_id"),
        ("/api/v1/messages", "client_id=1.0", "client_id"),
    ] {
        let response = app.get(&format!("{list}?{query}")).await;
        invalid_query(response, &[(field, "invalid_type")]).await;
    }
}

async fn unknown_query_parameters_are_named() {
    let app = spawn_app().await;

    let mut wrong = vec![];
    for (path, field) in [
        ("/api/v1/operators?color=red", "color"),
        ("/api/v1/clients?operator=bln", "operator"),
        ("/api/v1/messages?mailing=1", "mailing"),
        ("/api/v1/mailings/stats?status=sent", "status"),
        ("/api/v1/tags?page=1&sort=desc", "sort"),
    ] {
        let refused = error(
            app.get(path).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
        let expected = vec![(field.to_owned(), "unknown_field".to_owned())];
        let actual = detail_pairs(&refused);
        if actual != expected {
            wrong.push(format!("{path}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "unknown parameters misnamed:\n{}",
        wrong.join("\n")
    );
}

async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;

    // `/` leads elsewhere (docs_and_health.rs).
    for path in [
        "/api",
        "/api/v1",
        "/api/v1/nope",
        "/api/v2/clients",
        "/api/v1/clients/1/extra",
        "/api/v1/mailings/1/unknown",
        "/metrics.php",
    ] {
        error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
        let response = app.get_without_token(path).await;
        error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/clients"),
        (Method::PUT, "/api/v1/operators"),
        (Method::POST, "/api/v1/clients/1"),
        (Method::GET, "/api/v1/mailings/1/cancel"),
        (Method::POST, "/api/v1/mailings/stats"),
        (Method::GET, "/api/v1/auth/token"),
    ] {
        let response = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

async fn odd_but_well_formed_input_never_gets_a_server_error() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let mailing = app.scheduled_mailing().await;
    let mailing_path = format!("/api/v1/mailings/{}", id(&mailing));
    let client = json!({ "phone_number": "79001234567", "operator_code": "bln" });
    let base = scheduled_mailing_body();
    let mut deep = json!("bottom");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let nested_text = format!("{{\"value\": {deep}}}");

    let cases: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/api/v1/tags".into(),
            json!({ "value": "🎉".repeat(64) }),
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            json!({ "value": "e\u{301}".repeat(32) }),
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            json!({ "value": "\u{feff}bom" }),
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            json!({ "value": "\u{202e}rtl" }),
        ),
        (
            Method::POST,
            "/api/v1/operators".into(),
            json!({ "code": "n\u{0}l", "name": "x" }),
        ),
        (
            Method::POST,
            "/api/v1/operators".into(),
            json!({ "code": "nul", "name": "\u{0}" }),
        ),
        (
            Method::POST,
            "/api/v1/clients".into(),
            with(&client, json!({ "time_zone": "UTC\u{0}" })),
        ),
        (
            Method::POST,
            "/api/v1/clients".into(),
            with(&client, json!({ "operator_code": "\u{0}" })),
        ),
        (
            Method::POST,
            "/api/v1/clients".into(),
            with(&client, json!({ "phone_number": "7900123456\u{0}" })),
        ),
        (
            Method::POST,
            "/api/v1/client-filters".into(),
            json!({ "name": "a\u{0}", "tags": ["\u{0}"] }),
        ),
        (
            Method::POST,
            "/api/v1/mailings".into(),
            with(&base, json!({ "text": "\u{0}" })),
        ),
        (
            Method::POST,
            "/api/v1/mailings".into(),
            with(
                &base,
                json!({ "start_at": "0001-01-01T00:00:00Z", "end_at": "9999-12-31T23:59:59Z" }),
            ),
        ),
        (
            Method::POST,
            "/api/v1/mailings".into(),
            with(
                &base,
                json!({
                    "start_at": "0000-01-01T00:00:00+14:00",
                    "end_at": "9999-12-31T23:59:59-12:00",
                    "local_time": true,
                }),
            ),
        ),
        (
            Method::POST,
            "/api/v1/mailings".into(),
            with(&base, json!({ "end_at": "2030-01-01T00:00:00+23:59" })),
        ),
        (
            Method::POST,
            "/api/v1/mailings".into(),
            with(
                &base,
                json!({ "filter": null, "client_filter_id": i64::MAX }),
            ),
        ),
        (
            Method::POST,
            "/api/v1/mailings".into(),
            with(
                &base,
                json!({ "filter": null, "client_filter_id": i64::MIN }),
            ),
        ),
        (
            Method::POST,
            "/api/v1/mailings".into(),
            with(&base, json!({ "filter": null, "client_filter_id": 0 })),
        ),
        (
            Method::PATCH,
            mailing_path.clone(),
            json!({ "end_at": "9999-12-31T23:59:59Z" }),
        ),
        (
            Method::PATCH,
            mailing_path.clone(),
            json!({ "local_time": true }),
        ),
        (
            Method::PATCH,
            mailing_path.clone(),
            json!({ "start_at": "0001-01-01T00:00:00Z" }),
        ),
        (
            Method::PATCH,
            mailing_path.clone(),
            json!({ "client_filter_id": -1 }),
        ),
        (
            Method::POST,
            "/api/v1/auth/token".into(),
            json!({ "username": "admin", "password": "\u{0}".repeat(1000) }),
        ),
    ];
    for (method, path, input) in cases {
        let response = app
            .request(method.clone(), &path)
            .json(&input)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.as_u16() < 500,
            "{method} {path} {input}: {status} {text}"
        );
        if !status.is_success() {
            assert_error_shape(&serde_json::from_str(&text).unwrap());
        }
    }

    for raw in [
        nested_text.as_str(),
        "{\"value\": 1e400}",
        "{\"value\": \"\\ud800\"}",
        "{\"value\": \"x\", \"value\": \"y\"}",
    ] {
        let response = app
            .send_raw(
                Method::POST,
                "/api/v1/tags",
                Some("application/json"),
                raw.to_owned(),
            )
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_client_error(), "{raw:.60}: {status} {text}");
        assert_error_shape(&serde_json::from_str(&text).unwrap());
    }

    for query in [
        "/api/v1/clients?tag=%00",
        "/api/v1/clients?phone_prefix=%00",
        "/api/v1/clients?operator_code=%00",
        "/api/v1/clients?tag=%FF%FE",
        "/api/v1/messages?status=%00",
        "/api/v1/messages?mailing_id=9223372036854775807&client_id=-9223372036854775808",
        "/api/v1/operators?page=%ZZ",
    ] {
        let response = app.get(query).await;
        let status = response.status();
        assert!(
            status.as_u16() < 500,
            "{query}: {status} {}",
            response.text().await.unwrap()
        );
    }
}
