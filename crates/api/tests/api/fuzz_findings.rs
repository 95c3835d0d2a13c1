//! Regressions for what fuzzing the API against its own document (`make fuzz-api`) found.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_setups!(
    a_wrong_method_is_a_405_with_allow,
    the_document_says_request_bodies_take_no_other_fields,
    paging_bounds_are_documented,
    the_document_states_exact_value_rules,
);

/// A method a resource does not serve is a 405 that names the ones it does (RFC 9110
/// §15.5.6), in the API's JSON error body; the body used to replace the `Allow` header.
async fn a_wrong_method_is_a_405_with_allow() {
    let app = spawn_app().await;
    let operator = app.create_operator("bln").await;
    let item = format!("/api/v1/operators/{}", id(&operator));
    for (method, path, allowed) in [
        (Method::TRACE, "/api/v1/operators", &["GET", "POST"][..]),
        (Method::DELETE, "/api/v1/operators", &["GET", "POST"]),
        (
            Method::POST,
            item.as_str(),
            &["DELETE", "GET", "PATCH", "PUT"],
        ),
        (Method::GET, "/api/v1/auth/token", &["POST"]),
        (Method::PUT, "/api/v1/mailings/stats", &["GET"]),
    ] {
        let response = app
            .request(method.clone(), path)
            .send()
            .await
            .expect("the server answers");
        let allow = response
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header"))
            .to_str()
            .unwrap()
            .to_owned();
        let mut listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        listed.sort_unstable();
        assert_eq!(listed, allowed, "{method} {path}");
        assert!(response.headers().get("x-request-id").is_some());
        error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

/// Every request body refuses fields it does not name (422 `unknown_field`); the document
/// says so, so generated clients and fuzzers do not send them as valid.
async fn the_document_says_request_bodies_take_no_other_fields() {
    let app = spawn_app().await;
    let doc = body(
        app.get_without_token("/api/v1/openapi.json").await,
        StatusCode::OK,
    )
    .await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let inputs: Vec<&String> = schemas
        .keys()
        .filter(|name| name.ends_with("Input") || name.ends_with("Request"))
        .collect();
    assert!(inputs.len() >= 11, "{inputs:?}");
    for name in inputs {
        let schema = &schemas[name];
        assert_eq!(schema["additionalProperties"], false, "{name}");
        for (field, property) in schema["properties"].as_object().unwrap() {
            if property["type"] == "object" {
                assert_eq!(property["additionalProperties"], false, "{name}.{field}");
            }
        }
    }
    // Responses may grow fields; the document does not close them.
    assert!(schemas["Client"].get("additionalProperties").is_none());

    let response = app
        .post_json(
            "/api/v1/mailings",
            &with(
                &scheduled_mailing_body(),
                json!({ "filter": { "tags": [], "extra": 1 } }),
            ),
        )
        .await;
    validation(response, &[("filter.extra", "unknown_field")]).await;
}

/// `page` and `page_size` carry their bounds in the document. Page numbers are 32-bit
/// unsigned, which the document used to call `int32`, so page 2147483648, accepted, broke it.
async fn paging_bounds_are_documented() {
    let app = spawn_app().await;
    let doc = body(
        app.get_without_token("/api/v1/openapi.json").await,
        StatusCode::OK,
    )
    .await;
    let mut lists = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(parameters) = item["get"]["parameters"].as_array() else {
            continue;
        };
        let schema = |name: &str| -> Option<Value> {
            parameters
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == name)
                .map(|p| p["schema"].clone())
        };
        if let Some(page) = schema("page") {
            lists += 1;
            assert_eq!(
                (&page["format"], &page["minimum"], &page["maximum"]),
                (&json!("int64"), &json!(1), &json!(u32::MAX)),
                "{path}"
            );
            let size = schema("page_size").unwrap();
            assert_eq!(
                (&size["minimum"], &size["maximum"]),
                (&json!(1), &json!(500))
            );
        }
    }
    assert_eq!(
        lists, 15,
        "every list (users, API keys and the audit log among them) and the per-mailing statistics"
    );
    let schemas = &doc["components"]["schemas"];
    for page in ["ClientPage", "MailingStatsPage", "MessagePage"] {
        assert_eq!(
            schemas[page]["properties"]["page"]["format"], "int64",
            "{page}"
        );
    }
    let nested = &schemas["MailingDetailStats"]["properties"]["messages"];
    assert_eq!(
        nested["allOf"][0]["$ref"], "#/components/schemas/MessagePage",
        "one page schema, referred to"
    );

    for path in [
        "/api/v1/operators",
        "/api/v1/tags",
        "/api/v1/clients",
        "/api/v1/client-filters",
        "/api/v1/mailings",
        "/api/v1/mailings/stats",
        "/api/v1/messages",
    ] {
        let last = body(
            app.get(&format!("{path}?page=2147483648")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(last["page"], 2147483648u32, "{path}");
        assert_eq!(last["items"], json!([]), "{path}");
        let response = app.get(&format!("{path}?page=4294967296")).await;
        invalid_query(response, &[("page", "invalid_type")]).await;
    }
}

/// Most generated writes were refused because the document named no rule on the values; it
/// now states those a schema can state exactly, and the server keeps to each of them.
async fn the_document_states_exact_value_rules() {
    let app = spawn_app().await;
    let doc = body(
        app.get_without_token("/api/v1/openapi.json").await,
        StatusCode::OK,
    )
    .await;
    let schemas = &doc["components"]["schemas"];
    for input in ["ClientInput", "ClientPatchInput"] {
        let phone = &schemas[input]["properties"]["phone_number"];
        assert_eq!(phone["pattern"], "^7[0-9]{10}$", "{input}");
    }
    for input in ["MailingInput", "MailingPatchInput"] {
        assert_eq!(
            schemas[input]["properties"]["text"]["maxLength"], 1600,
            "{input}"
        );
    }
    let query = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    assert_eq!(
        query("/api/v1/clients", "phone_prefix")["pattern"],
        "^[0-9]{1,11}$"
    );
    let statuses = json!([
        "scheduled",
        "queued",
        "sent",
        "retrying",
        "failed",
        "expired",
        "cancelled",
        "suppressed"
    ]);
    assert_eq!(schemas["MessageStatus"]["enum"], statuses);
    for path in ["/api/v1/messages", "/api/v1/mailings/{id}/stats"] {
        assert_eq!(
            query(path, "status")["$ref"],
            "#/components/schemas/MessageStatus",
            "{path}"
        );
    }

    app.create_operator("bln").await;
    for phone in ["89001234567", "7900123456", "790012345678", " 79001234567"] {
        let response = app
            .post_json(
                "/api/v1/clients",
                &json!({ "phone_number": phone, "operator_code": "bln" }),
            )
            .await;
        validation(response, &[("phone_number", "phone_format")]).await;
    }
    app.create_client("79001234567", "bln", &[]).await;
    for prefix in ["", "7a", "790012345678", "+7"] {
        let response = app
            .get(&format!(
                "/api/v1/clients?phone_prefix={}",
                urlencode(prefix)
            ))
            .await;
        invalid_query(response, &[("phone_prefix", "digits")]).await;
    }
    let page = body(
        app.get("/api/v1/clients?phone_prefix=79001234567").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["total"], 1);
    for status in ["SENT", "sent ", "unknown"] {
        let response = app
            .get(&format!("/api/v1/messages?status={}", urlencode(status)))
            .await;
        invalid_query(response, &[("status", "unknown_status")]).await;
    }
    for status in statuses.as_array().unwrap() {
        let path = format!("/api/v1/messages?status={}", status.as_str().unwrap());
        body(app.get(&path).await, StatusCode::OK).await;
    }
    let longest = "é".repeat(1600);
    let mailing = app
        .create_mailing(&with(&scheduled_mailing_body(), json!({ "text": longest })))
        .await;
    let response = app
        .patch_json(
            &format!("/api/v1/mailings/{}", id(&mailing)),
            &json!({ "text": format!("{longest}x") }),
        )
        .await;
    validation(response, &[("text", "too_long")]).await;
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
