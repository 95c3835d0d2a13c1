use super::*;
use crate::auth::routes::TokenRequest;
use crate::error_codes::Answered;
use crate::operations::client_filters::{ClientFilterInput, ClientFilterPatchInput};
use crate::operations::clients::{ClientInput, ClientPatchInput};
use crate::operations::inbound::InboundInput;
use crate::operations::mailings::{MailingInput, MailingPatchInput, ResendInput};
use crate::operations::operators::{OperatorInput, OperatorPatchInput};
use crate::operations::opt_outs::OptOutInput;
use crate::operations::tags::{TagInput, TagPatchInput};
use serde::de::DeserializeOwned;

/// Every operation: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

/// `value`, or what it refers to within `doc`.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => doc
            .pointer(&format!("/{pointer}"))
            .unwrap_or_else(|| panic!("{pointer} is missing")),
        None => value,
    }
}

fn schema_of(doc: &Value, name: &str) -> Value {
    doc["components"]["schemas"][name].clone()
}

/// The committed document is what integrators and the validator in `make test` read; it
/// must be what the code serves. Regenerate with `make openapi`.
#[test]
fn committed_document_matches_the_code() {
    let committed: Value =
        serde_json::from_str(include_str!("../../../../docs/openapi.json")).unwrap();
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
    let all = operations(&doc);
    assert!(all.len() >= 30, "{}", all.len());
    for (path, method, operation) in all {
        let security = &operation["security"];
        if path == "/api/v1/auth/token" {
            assert_eq!(security, &json!([]));
        } else if path == "/api/v1/inbound" && method == "post" {
            // A provider's replies are signed instead.
            assert_eq!(
                security,
                &json!([{ "inboundSignature": [] }]),
                "{method} {path}"
            );
            assert!(operation["responses"]["401"].is_object(), "{method} {path}");
        } else {
            assert_eq!(security, &json!([{ "bearerAuth": [] }]), "{method} {path}");
            assert!(operation["responses"]["401"].is_object(), "{method} {path}");
        }
    }
}

#[test]
fn every_operation_has_a_unique_lower_camel_case_operation_id() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for (path, method, operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            id.starts_with(|c: char| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{method} {path}: {id} is not lowerCamelCase"
        );
        assert!(seen.insert(id.to_owned()), "{id} is used twice");
    }
    for id in [
        "login",
        "listClients",
        "createClient",
        "getClient",
        "replaceClient",
        "updateClient",
        "deleteClient",
        "createMailing",
        "getMailingStats",
        "listMailingStats",
        "cancelMailing",
    ] {
        assert!(seen.contains(id), "{id}");
    }
}

/// A body schema a generator turns into a named class: a `$ref`, or an array of them.
fn assert_named(schema: &Value, what: &str) {
    let schema = if schema["type"] == "array" {
        &schema["items"]
    } else {
        schema
    };
    assert!(
        schema["$ref"]
            .as_str()
            .is_some_and(|r| r.starts_with(SCHEMAS)),
        "{what}: {schema}"
    );
}

#[test]
fn request_and_response_bodies_refer_to_named_schemas() {
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        for (media, content) in operation["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert_named(
                &content["schema"],
                &format!("{method} {path} request {media}"),
            );
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                assert_named(
                    &content["schema"],
                    &format!("{method} {path} {status} {media}"),
                );
            }
        }
    }
}

/// Collects the schema names `value` refers to, directly or through nested schemas.
fn references(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child.as_str()) {
                    ("$ref", Some(reference)) => {
                        if let Some(name) = reference.strip_prefix(SCHEMAS) {
                            into.insert(name.to_owned());
                        }
                    }
                    ("example" | "examples", _) => {}
                    _ => references(child, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, into)),
        _ => {}
    }
}

/// The JSON pointers of every `$ref` in `value`.
fn collect_pointers(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child.as_str()) {
                    ("$ref", Some(reference)) => {
                        into.push(reference.trim_start_matches('#').to_owned())
                    }
                    _ => collect_pointers(child, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_pointers(item, into)),
        _ => {}
    }
}

#[test]
fn one_mailing_schema_serves_every_mailing_operation() {
    let doc = document();
    let by_id: BTreeMap<String, Value> = operations(&doc)
        .into_iter()
        .map(|(_, _, op)| (op["operationId"].as_str().unwrap().to_owned(), op))
        .collect();
    for (id, status) in [
        ("getMailing", "200"),
        ("createMailing", "201"),
        ("replaceMailing", "200"),
        ("updateMailing", "200"),
        ("cancelMailing", "200"),
        ("pauseMailing", "200"),
        ("resumeMailing", "200"),
        ("resendMailing", "201"),
    ] {
        assert_eq!(
            by_id[id]["responses"][status]["content"]["application/json"]["schema"],
            json!({ "$ref": format!("{SCHEMAS}Mailing") }),
            "{id}"
        );
    }
    assert_eq!(
        schema_of(&doc, "MailingPage")["properties"]["items"]["items"],
        json!({ "$ref": format!("{SCHEMAS}Mailing") })
    );
    for stats in ["MailingStats", "MailingDetailStats"] {
        let mut used = BTreeSet::new();
        references(&schema_of(&doc, stats), &mut used);
        assert!(used.contains("Mailing"), "{stats}: {used:?}");
    }
    // No schema is a copy of another under a second name (an input and a response of the same
    // fields differ in what they require and allow).
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut shapes = BTreeMap::new();
    for (name, schema) in schemas {
        let mut shape = schema.clone();
        for key in ["description", "example"] {
            shape.as_object_mut().unwrap().remove(key);
        }
        if schema["properties"].is_object()
            && let Some(other) = shapes.insert(shape.to_string(), name.clone())
        {
            panic!("{name} and {other} are the same schema");
        }
    }
}

#[test]
fn nested_types_are_named_once_and_never_inlined() {
    let built = Document::build();
    assert!(built.clashes.is_empty(), "{:?}", built.clashes);
    for part in ["components", "paths"] {
        let text = built.spec[part].to_string();
        assert!(!text.contains("\"title\""), "a nested schema stayed inline");
    }
    let schemas = built.spec["components"]["schemas"].as_object().unwrap();
    for name in [
        "Mailing",
        "Client",
        "Operator",
        "Tag",
        "ClientFilter",
        "Message",
        "Filter",
        "FilterInput",
        "SendWindow",
        "ByStatus",
        "ApiError",
        "FieldError",
    ] {
        assert!(schemas.contains_key(name), "{name}: {:?}", schemas.keys());
    }
    // Every reference resolves.
    let mut pointers = vec![];
    collect_pointers(&built.spec, &mut pointers);
    for pointer in pointers {
        assert!(
            built.spec.pointer(&pointer).is_some(),
            "{pointer} is referred to but missing"
        );
    }
}

fn enum_values(doc: &Value, name: &str) -> Vec<String> {
    schema_of(doc, name)["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not an enum"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The schema a property or parameter refers to, through an `allOf` wrapper if any.
fn referred(schema: &Value) -> Option<&str> {
    schema["$ref"]
        .as_str()
        .or_else(|| schema["allOf"][0]["$ref"].as_str())
        .map(|r| r.trim_start_matches(SCHEMAS))
}

#[test]
fn statuses_are_enums_of_the_domain_lists() {
    let doc = document();
    let names = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mailing: Vec<&str> = MailingStatus::ALL.iter().map(|s| s.as_str()).collect();
    let message: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(enum_values(&doc, "MailingStatus"), names(&mailing));
    assert_eq!(enum_values(&doc, "MessageStatus"), names(&message));
    for (schema, property, enumeration) in ENUM_PROPERTIES {
        let found = &schema_of(&doc, schema)["properties"][*property];
        assert_eq!(referred(found), Some(*enumeration), "{schema}.{property}");
    }
    let mut parameters = 0;
    for (path, method, operation) in operations(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["name"] == "status" {
                assert!(
                    referred(&parameter["schema"]).is_some(),
                    "{method} {path}: status is not an enum"
                );
                parameters += 1;
            }
        }
    }
    assert!(parameters >= 2);
    // The counts by status name every message status.
    let by_status: BTreeSet<String> = schema_of(&doc, "ByStatus")["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(by_status, names(&message).into_iter().collect());
}

#[test]
fn responses_declare_the_headers_the_api_sends() {
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let headers = &response["headers"];
            let header = |name: &str| resolve(&doc, &headers[name]).clone();
            let what = format!("{method} {path} {status}");
            assert_eq!(header("X-Request-Id")["required"], true, "{what}");
            match status.as_str() {
                "401" => assert_eq!(header("WWW-Authenticate")["required"], true, "{what}"),
                "429" => assert_eq!(header("Retry-After")["required"], true, "{what}"),
                // Sent while the service starts, not by every 503.
                "503" => assert_eq!(header("Retry-After")["required"], false, "{what}"),
                // No 201 says where the new record is: its id is in the body.
                "201" => assert!(headers.get("Location").is_none(), "{what}"),
                _ => {}
            }
            // Only answers that may be stored ones sent again say so, and not always.
            if let Some(replayed) = headers.get("Idempotent-Replayed") {
                assert_eq!(resolve(&doc, replayed)["required"], false, "{what}");
                assert!(!status.starts_with('5') && status != "429", "{what}");
            }
        }
    }
}

#[test]
fn error_responses_list_each_code_with_an_example() {
    let doc = document();
    let all = operations(&doc);
    for (path, method, operation) in &all {
        let responses = operation["responses"].as_object().unwrap();
        for (status, response) in responses {
            if status.starts_with('2') {
                continue;
            }
            let what = format!("{method} {path} {status}");
            let content = &response["content"]["application/json"];
            assert_eq!(referred(&content["schema"]), Some("ApiError"), "{what}");
            let examples = content["examples"].as_object().unwrap();
            assert!(!examples.is_empty(), "{what}");
            for (key, example) in examples {
                let value = &resolve(&doc, example)["value"];
                let code = key.strip_prefix("details.").map_or_else(
                    || value["code"].as_str().unwrap(),
                    |_| value["details"][0]["code"].as_str().unwrap(),
                );
                assert_eq!(key.trim_start_matches("details."), code, "{what}");
                assert!(
                    response["description"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("`{code}`")),
                    "{what}: {code} is not described"
                );
            }
        }
        let id = operation["operationId"].as_str().unwrap();
        let has_body = operation.get("requestBody").is_some();
        let takes_key = method == "post" && id != "login" && id != "receiveInbound";
        for status in ["400", "500", "503"] {
            assert!(responses.contains_key(status), "{id}: {status}");
        }
        assert_eq!(responses.contains_key("422"), has_body || takes_key, "{id}");
        assert_eq!(responses.contains_key("415"), has_body, "{id}");
        let names_one = path.contains("{id}") || path.contains("{phone_number}");
        assert_eq!(responses.contains_key("404"), names_one, "{id}");
    }
    let login = &all
        .iter()
        .find(|(_, _, op)| op["operationId"] == "login")
        .unwrap()
        .2;
    let throttled =
        &login["responses"]["429"]["content"]["application/json"]["examples"]["too_many_attempts"];
    assert_eq!(
        resolve(&doc, throttled)["value"]["code"],
        "too_many_attempts"
    );
    // What the catalog names exists.
    let ids: BTreeSet<&str> = all
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap())
        .collect();
    for row in error_codes::catalog() {
        match &row.answered {
            Answered::Only(named) => {
                for id in named {
                    assert!(ids.contains(id), "{}: no operation {id}", row.code());
                }
            }
            Answered::Under(prefix) => assert!(
                all.iter().any(|(path, ..)| path.starts_with(prefix)),
                "{}: nothing under {prefix}",
                row.code()
            ),
            _ => {}
        }
    }
}

fn reads_as<T: DeserializeOwned>(name: &str) {
    let example = request_example(name).unwrap_or_else(|| panic!("no example for {name}"));
    if let Err(error) = serde_json::from_value::<T>(example) {
        panic!("the example of {name} does not read: {error}");
    }
}

#[test]
fn every_request_body_has_an_example_its_type_reads() {
    reads_as::<TokenRequest>("TokenRequest");
    reads_as::<OperatorInput>("OperatorInput");
    reads_as::<OperatorPatchInput>("OperatorPatchInput");
    reads_as::<TagInput>("TagInput");
    reads_as::<TagPatchInput>("TagPatchInput");
    reads_as::<ClientInput>("ClientInput");
    reads_as::<ClientPatchInput>("ClientPatchInput");
    reads_as::<ClientFilterInput>("ClientFilterInput");
    reads_as::<ClientFilterPatchInput>("ClientFilterPatchInput");
    reads_as::<MailingInput>("MailingInput");
    reads_as::<MailingPatchInput>("MailingPatchInput");
    reads_as::<ResendInput>("ResendInput");
    reads_as::<OptOutInput>("OptOutInput");
    reads_as::<InboundInput>("InboundInput");
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        if let Some(content) = operation["requestBody"]["content"].as_object() {
            for media in content.values() {
                let name = referred(&media["schema"]).unwrap();
                let schema = schema_of(&doc, name);
                let example = schema["example"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{method} {path}: {name} has no example"));
                // Input types read leniently; the schema says what an example may hold.
                let properties = schema["properties"].as_object().unwrap();
                for field in example.keys() {
                    assert!(properties.contains_key(field), "{name}: no field {field}");
                }
                for field in schema["required"].as_array().into_iter().flatten() {
                    let field = field.as_str().unwrap();
                    assert!(example.contains_key(field), "{name}: example lacks {field}");
                }
            }
        }
    }
}

#[test]
fn response_examples_have_exactly_their_schemas_fields() {
    let doc = document();
    for name in [
        "Mailing",
        "Client",
        "MailingPage",
        "MailingDetailStats",
        "Message",
    ] {
        let schema = schema_of(&doc, name);
        let fields: BTreeSet<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let example: BTreeSet<&String> = schema["example"].as_object().unwrap().keys().collect();
        assert_eq!(fields, example, "{name}");
    }
    assert_eq!(
        schema_of(&doc, "Client")["example"]["phone_number"],
        "79001234567"
    );
    assert_eq!(
        schema_of(&doc, "Mailing")["example"]["status"],
        MailingStatus::ALL[0].as_str()
    );
}

#[test]
fn every_patch_is_a_merge_patch() {
    let doc = document();
    let mut patches = 0;
    for (path, method, operation) in operations(&doc) {
        if method != "patch" {
            continue;
        }
        patches += 1;
        assert!(
            operation["description"]
                .as_str()
                .is_some_and(|d| d.contains("RFC 7396")),
            "{path}"
        );
        assert!(operation["requestBody"]["content"]["application/json"].is_object());
    }
    assert!(patches >= 5);
    assert!(
        doc["info"]["description"]
            .as_str()
            .unwrap()
            .contains("RFC 7396")
    );
}

/// The example codes of one response of `operation`.
fn codes(doc: &Value, operation: &Value, status: &str) -> BTreeSet<String> {
    operation["responses"][status]["content"]["application/json"]["examples"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, example)| {
            resolve(doc, example)["value"]["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn every_post_but_login_takes_an_idempotency_key_and_says_what_it_answers() {
    let doc = document();
    let mut posts = 0;
    for (path, method, operation) in operations(&doc) {
        let what = format!("{method} {path}");
        let parameter = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "Idempotency-Key");
        let replayed = |status: &str| {
            operation["responses"][status]["headers"]
                .get("Idempotent-Replayed")
                .is_some()
        };
        // The login and a provider's signed replies carry no token, which keys are kept under.
        if method != "post" || path == "/api/v1/auth/token" || path == "/api/v1/inbound" {
            assert!(parameter.is_none(), "{what}");
            for (status, _) in operation["responses"].as_object().unwrap() {
                assert!(!replayed(status), "{what} {status}");
            }
            for (status, code) in [
                ("400", "invalid_idempotency_key"),
                ("409", "idempotency_key_in_flight"),
                ("422", "idempotency_key_reused"),
            ] {
                assert!(!codes(&doc, &operation, status).contains(code), "{what}");
            }
            continue;
        }
        posts += 1;
        let parameter = parameter.unwrap_or_else(|| panic!("{what}: no Idempotency-Key"));
        assert_eq!(parameter["in"], "header", "{what}");
        assert_eq!(parameter["required"], false, "{what}");
        assert_eq!(parameter["schema"]["maxLength"], 255, "{what}");
        let success = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .find(|status| status.starts_with('2'))
            .unwrap()
            .clone();
        assert!(replayed(&success), "{what} {success}");
        assert!(replayed("422"), "{what}");
        assert!(!replayed("503"), "{what}");
        for (status, code) in [
            ("400", "invalid_idempotency_key"),
            ("409", "idempotency_key_in_flight"),
            ("422", "idempotency_key_reused"),
        ] {
            assert!(
                codes(&doc, &operation, status).contains(code),
                "{what}: {status} {code}"
            );
        }
    }
    assert_eq!(
        posts, 18,
        "the creates (createUser and createApiKey among them), cancelMailing, pauseMailing, \
         resumeMailing, resendMailing, previewMailing, importClients, importOptOuts, logout, \
         changePassword and sendDailyReport"
    );
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.contains("Idempotency-Key"));
}
