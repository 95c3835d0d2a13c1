//! The OpenAPI 3 document. paperclip collects operations and schemas from the handlers; this
//! module adds what paperclip's v2 model cannot say (bearer auth, the API's description) and
//! keeps each operation's error responses to those it can produce.

use crate::operations::paging::{MAX_PAGE, MAX_PAGE_SIZE};
use crate::routes;
use mailing_domain::{MailingText, MessageStatus};
use paperclip::actix::{OpenApiExt, web};
use serde_json::{Map, Value, json};

/// Builds the document from the same route table the server mounts.
pub fn document() -> Value {
    let mut spec = Value::Null;
    let _app = actix_web::App::new()
        .wrap_api()
        .service(routes::api_v1(web::scope("/api/v1")))
        .with_raw_json_spec_v3(|app, raw| {
            spec = raw;
            app
        });
    finish(spec)
}

fn finish(mut spec: Value) -> Value {
    spec["info"] = json!({
        "title": "Mailing API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "SMS mailing campaigns: a directory of clients, mailings with filters, \
            send windows and local time, and delivery statistics.\n\n\
            Get a token from `POST /api/v1/auth/token`, then send \
            `Authorization: Bearer <access_token>` with every other call. Errors are JSON \
            objects with a stable `code`, a `message` and per-field `details`.",
    });
    spec["servers"] = json!([{ "url": "/" }]);
    let components = spec["components"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut components = components;
    components.insert(
        "securitySchemes".into(),
        json!({
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "Access token from POST /api/v1/auth/token",
            }
        }),
    );
    spec["components"] = Value::Object(components);

    if let Some(schemas) = spec["components"]["schemas"].as_object_mut() {
        for (name, schema) in schemas.iter_mut() {
            // Responses always carry every field, `null` where there is no value; requests
            // accept `null` wherever a field may be left out.
            let response = !name.ends_with("Input") && !name.ends_with("Request");
            describe_nulls(schema, response);
            if !response {
                describe_input_values(schema);
            }
        }
    }
    if let Some(paths) = spec["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    tidy_operation(path, method, operation);
                }
            }
        }
    }
    spec
}

/// paperclip leaves `Option` fields out of `required` and never says they may be `null`, nor
/// that request bodies refuse fields they do not name (every input type denies unknown fields).
fn describe_nulls(schema: &mut Value, response: bool) {
    if !response && schema["type"] == "object" {
        schema["additionalProperties"] = Value::Bool(false);
    }
    let required: Vec<String> = schema["required"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object_mut() else {
        return;
    };
    let mut all = vec![];
    for (name, property) in properties.iter_mut() {
        all.push(Value::String(name.clone()));
        if !required.contains(name)
            && let Some(property) = property.as_object_mut()
        {
            property.insert("nullable".into(), Value::Bool(true));
        }
        if name == "page" && property["type"] == "integer" {
            // The page of a list is a u32, past paperclip's int32.
            property["format"] = json!("int64");
        }
        if property["type"] == "object" {
            describe_nulls(property, response);
        } else if property["type"] == "array" && property["items"]["type"] == "object" {
            describe_nulls(&mut property["items"], response);
        }
    }
    if response {
        all.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        schema["required"] = Value::Array(all);
    }
}

fn tidy_operation(path: &str, method: &str, operation: &mut Map<String, Value>) {
    let public = path == "/api/v1/auth/token";
    operation.insert(
        "security".into(),
        if public {
            json!([])
        } else {
            json!([{ "bearerAuth": [] }])
        },
    );
    describe_query(operation);
    let has_body = operation.contains_key("requestBody");
    let has_id = path.contains('{');
    let writes = method != "get";
    if let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    {
        responses.retain(|status, _| match status.as_str() {
            "404" => has_id,
            "409" => writes && !public,
            "413" | "415" => has_body,
            "422" => has_body,
            _ => true,
        });
    }
}

/// Rules on request fields that a schema states exactly, so that clients and fuzzers can tell
/// a valid value (the others, such as trimmed labels or IANA zone names, stay in prose).
fn describe_input_values(schema: &mut Value) {
    let Some(properties) = schema["properties"].as_object_mut() else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        match name.as_str() {
            "phone_number" => property["pattern"] = json!("^7[0-9]{10}$"),
            "text" => property["maxLength"] = json!(MailingText::MAX_CHARS),
            _ => {}
        }
    }
}

/// The bounds and values [`crate::routes`] checks on query parameters, which paperclip cannot
/// say: paging, a message `status` and a `phone_prefix`.
fn describe_query(operation: &mut Map<String, Value>) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        if parameter["in"] != "query" {
            continue;
        }
        let name = parameter["name"].as_str().unwrap_or_default().to_owned();
        let schema = &mut parameter["schema"];
        match name.as_str() {
            "page" => {
                // A u32, which paperclip calls int32.
                schema["format"] = json!("int64");
                schema["minimum"] = json!(1);
                schema["maximum"] = json!(MAX_PAGE);
            }
            "page_size" => {
                schema["minimum"] = json!(1);
                schema["maximum"] = json!(MAX_PAGE_SIZE);
            }
            "status" => {
                schema["enum"] = MessageStatus::ALL
                    .iter()
                    .map(|status| json!(status.as_str()))
                    .collect();
            }
            "phone_prefix" => schema["pattern"] = json!("^[0-9]{1,11}$"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document is what integrators and the validator in `make test` read; it
    /// must be what the code serves. Regenerate with `make openapi`.
    #[test]
    fn committed_document_matches_the_code() {
        let committed: Value =
            serde_json::from_str(include_str!("../../../docs/openapi.json")).unwrap();
        assert!(
            committed == document(),
            "docs/openapi.json is out of date: run `make openapi`"
        );
    }

    #[test]
    fn every_operation_but_login_requires_the_bearer_token() {
        let doc = document();
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 15, "{:?}", paths.keys());
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let security = &operation["security"];
                if path == "/api/v1/auth/token" {
                    assert_eq!(security, &json!([]));
                } else {
                    assert_eq!(security, &json!([{ "bearerAuth": [] }]), "{method} {path}");
                    assert!(operation["responses"]["401"].is_object(), "{method} {path}");
                }
            }
        }
    }
}
