//! The OpenAPI 3 document, written for code generators as much as for people. paperclip
//! collects operations and schemas from the handlers; this module then
//!
//! - names every schema after its Rust type (less a `Body` suffix) and refers to it by `$ref`
//!   wherever it appears, so a generator makes one class per resource;
//! - gives closed sets of strings (statuses) an enum schema built from the domain's own lists;
//! - lists each operation's error responses, every code with an example body, from
//!   [`crate::error_codes`], and the headers the API sends;
//! - adds examples, bearer auth, what `null` means, how PATCH merges, and the API's description.

use crate::error_codes::{self, Documented, Level, Operation};
use crate::idempotency::{KEY_HEADER, MAX_KEY_LEN, REPLAYED_HEADER};
use crate::operations::mailings::MailingWarning;
use crate::operations::paging::{MAX_PAGE, MAX_PAGE_SIZE};
use crate::routes;
use mailing_domain::{MailingStatus, MailingText, MessageStatus, PauseReason, Role, SignInMethod};
use paperclip::actix::{Mountable, OpenApiExt, web};
use paperclip::v2::models::{DefaultApiRaw, DefaultSchemaRaw};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

const SCHEMAS: &str = "#/components/schemas/";

/// What the document says about the API as a whole.
const DESCRIPTION: &str = "\
SMS mailing campaigns: a directory of clients, mailings with filters, send windows and local \
time, and delivery statistics.

**Authentication.** Get a token from `POST /api/v1/auth/token` (`login`), then send \
`Authorization: Bearer <access_token>` with every other call. A 401 carries \
`WWW-Authenticate: Bearer`. The one exception is `POST /api/v1/inbound`, which a provider calls \
with replies: it is signed instead, with `X-Signature: sha256=<hex HMAC-SHA256 of the body>`.

**Errors.** Every error is a JSON object `{code, message, details}`: `code` is stable and \
machine-readable, `message` is for people, and `details` lists `{field, code, message}` for \
each field that broke a rule (empty otherwise). Each operation lists the codes it can answer, \
with an example of each. New codes may be added, so treat an unknown `code` like any other \
error of its status.

**Writing.** `POST` creates and `PUT` replaces a whole record: a field left out takes its \
default. Every `PATCH` is a JSON Merge Patch (RFC 7396): a field left out keeps its stored \
value, `null` clears an optional field, and `null` for a field that cannot be empty is a 422. \
Bodies are sent as `application/json` (`PATCH` also takes `application/merge-patch+json`) and \
fields a body does not know are refused.

**Reading.** Responses carry every field of their schema, `null` where there is no value. \
Lists are paged with `page` (from 1) and `page_size` (1 to 500, default 50) and say how many \
items there are in `total`.

**Retrying writes.** Every `POST` but the login takes an optional `Idempotency-Key` header: \
1 to 255 visible ASCII characters, a new random value (a UUID, say) per write. Sent again with \
the same key within 24 hours, by the same account, with the same method, path, query and body, \
the request gets the first answer again, with `Idempotent-Replayed: true`, and changes nothing. \
The same key with another request is a 422 `idempotency_key_reused`; while the first request is \
still being answered, a 409 `idempotency_key_in_flight`. 5xx and 429 answers are not kept, so a \
retry after one runs again.

**Tracing.** Every response carries `X-Request-Id`: the request's own if it sent a plain one \
(up to 64 letters, digits, `-`, `_`, `.`), otherwise a new one. The api's log lines for the \
request carry the same id.";

/// How each PATCH merges, said on every PATCH operation. The body may also be sent as
/// `application/merge-patch+json`; the document lists `application/json` alone, since
/// generators given two media types of one schema make the body optional and send it twice.
const MERGE_PATCH: &str = "\
The body is a JSON Merge Patch (RFC 7396): a field left out keeps its stored value, `null` \
clears an optional field, and `null` for a field that cannot be empty is a 422. It may be \
sent as `application/json` or `application/merge-patch+json`.";

/// Closed sets of strings, each a named enum schema built from the domain's own list.
fn enums() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        (
            "MailingStatus",
            "Where a mailing stands, at the time of the response: `scheduled` before its \
             start, `running` until its end, then `finished`; `paused` from a pause (by hand, \
             or by itself when the provider fails) until it is resumed or ends; `cancelled` \
             once cancelled.",
            MailingStatus::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        (
            "MessageStatus",
            "Where one message stands: `scheduled` waits for its time or its client's window, \
             `queued` is handed to a sender, `sent` was accepted by the provider, `retrying` \
             waits for another attempt, `failed` was refused for good, `expired` met the \
             mailing's end first, `cancelled` lost its mailing or client, `suppressed` was \
             never sent because its number opted out.",
            MessageStatus::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        (
            "MailingWarningCode",
            "What a warning is about: `no_matching_clients` (no client matches the filter now) \
             or `send_window_never_opens` (for some clients the send window cannot open before \
             the end).",
            MailingWarning::CODES.to_vec(),
        ),
        (
            "PauseReason",
            "Why a mailing is paused: `manual` (through the API or the admin UI) or \
             `provider_failing` (most of its latest attempts failed, so it paused itself).",
            PauseReason::ALL.iter().map(|r| r.as_str()).collect(),
        ),
        (
            "Role",
            "What an account or API key may do: `viewer` reads, `manager` also changes clients, \
             tags, filters, mailings, imports and opt-outs, `admin` does everything, accounts, \
             API keys, operators and the audit log included.",
            Role::ALL.iter().rev().map(|r| r.as_str()).collect(),
        ),
        (
            "ReportEmailState",
            "Where a day's report e-mail stands: `pending` (not tried yet), `sending` (a \
             scheduler holds it now), `retrying` (the last attempt failed; `next_attempt_at` \
             says when the next one is) or `sent`.",
            mailing_reports::EmailState::STATES.to_vec(),
        ),
        (
            "SignInMethod",
            "How the caller signed in: `password`, `oidc` (the admin UI's single sign-on) or \
             `api_key`.",
            SignInMethod::ALL.iter().map(|m| m.as_str()).collect(),
        ),
        (
            "TokenType",
            "How to send the token: `Authorization: Bearer <access_token>`.",
            vec!["Bearer"],
        ),
    ]
}

/// Which schema properties hold one of [`enums`]: (schema, property, enum).
const ENUM_PROPERTIES: &[(&str, &str, &str)] = &[
    ("Mailing", "status", "MailingStatus"),
    ("Mailing", "paused_reason", "PauseReason"),
    ("Pause", "reason", "PauseReason"),
    ("MailingWarning", "code", "MailingWarningCode"),
    ("Message", "status", "MessageStatus"),
    ("TokenResponse", "token_type", "TokenType"),
    ("User", "role", "Role"),
    ("UserInput", "role", "Role"),
    ("UserPatchInput", "role", "Role"),
    ("ApiKey", "role", "Role"),
    ("CreatedApiKey", "role", "Role"),
    ("ApiKeyInput", "role", "Role"),
    ("AuditActor", "signed_in_with", "SignInMethod"),
    ("MailingReport", "status", "MailingStatus"),
    ("ReportPause", "reason", "PauseReason"),
    ("EmailState", "state", "ReportEmailState"),
];

/// Which query parameters take one of [`enums`]: (operationId, parameter, enum). A parameter an
/// operation does not have is skipped.
const ENUM_PARAMETERS: &[(&str, &str, &str)] = &[
    ("listMailings", "status", "MailingStatus"),
    ("listMessages", "status", "MessageStatus"),
    ("getMailingStats", "status", "MessageStatus"),
];

/// Schema names that are not the Rust type's name less `Body`.
const SCHEMA_NAMES: &[(&str, &str)] = &[("ErrorBody", "ApiError")];

/// The document's name for the schema of Rust type `rust`.
fn schema_name(rust: &str) -> String {
    SCHEMA_NAMES
        .iter()
        .find(|(from, _)| *from == rust)
        .map(|(_, to)| (*to).to_owned())
        .unwrap_or_else(|| rust.strip_suffix("Body").unwrap_or(rust).to_owned())
}

/// Builds the document from the same route table the server mounts.
pub fn document() -> Value {
    let Document { spec, clashes } = Document::build();
    for name in clashes {
        tracing::warn!(schema = %name, "two types share a schema name; one stays inline");
    }
    spec
}

/// The document and what building it found wrong, for the tests.
struct Document {
    spec: Value,
    /// Names given to two different schemas; the later ones stay inline, with a `title`.
    clashes: Vec<String>,
}

impl Document {
    fn build() -> Self {
        // The error examples quote dates ("for example tomorrow at 9"): written as of one fixed
        // instant, the committed document stays current whatever day it is checked.
        let at = "2026-12-01T08:30:00Z".parse().expect("a valid instant");
        crate::operations::examples::written_at(at, Self::build_now)
    }

    fn build_now() -> Self {
        let mut spec = Value::Null;
        let _app = actix_web::App::new()
            .wrap_api_with_spec(collect())
            .with_raw_json_spec_v3(|app, raw| {
                spec = raw;
                app
            });
        let mut clashes = vec![];
        let spec = finish(spec, &mut clashes);
        Self { spec, clashes }
    }
}

/// The routes' operations and schemas, as paperclip records them, with each nested schema's
/// Rust type name kept as its `title` (paperclip's conversion to OpenAPI 3 drops the name and
/// inlines nested schemas; the title survives, and [`hoist`] turns it back into a `$ref`).
fn collect() -> DefaultApiRaw {
    let mut scope = routes::api_v1(web::scope("/api/v1"));
    let mut api = DefaultApiRaw {
        definitions: scope.definitions(),
        ..DefaultApiRaw::default()
    };
    scope.update_operations(&mut api.paths);
    // A path parameter's pattern (`{phone_number:[^/a-zA-Z]+}`) only routes requests; the
    // document names the parameter alone.
    api.paths = std::mem::take(&mut api.paths)
        .into_iter()
        .map(|(path, item)| (without_patterns(&path), item))
        .collect();
    for schema in api.definitions.values_mut() {
        title_nested(schema);
    }
    api
}

/// `path` with each `{name:pattern}` written `{name}`.
fn without_patterns(path: &str) -> String {
    let mut plain = String::with_capacity(path.len());
    let mut in_pattern = false;
    let mut in_parameter = false;
    for c in path.chars() {
        match c {
            '{' => in_parameter = true,
            '}' => {
                in_parameter = false;
                in_pattern = false;
            }
            ':' if in_parameter => in_pattern = true,
            _ => {}
        }
        if !in_pattern || c == '}' {
            plain.push(c);
        }
    }
    plain
}

fn title_nested(schema: &mut DefaultSchemaRaw) {
    let nested = schema
        .properties
        .values_mut()
        .chain(schema.items.as_mut())
        .chain(schema.extra_props.as_mut().and_then(|p| p.right_mut()));
    for child in nested {
        if !child.properties.is_empty()
            && let Some(name) = &child.name
        {
            child.title = Some(name.clone());
        }
        title_nested(child);
    }
}

fn finish(mut spec: Value, clashes: &mut Vec<String>) -> Value {
    spec["info"] = json!({
        "title": "Mailing API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": DESCRIPTION,
    });
    spec["servers"] = json!([{ "url": "/" }]);
    spec["components"]["securitySchemes"] = json!({
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from POST /api/v1/auth/token",
        },
        "inboundSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Signature",
            "description": "sha256=<hex>: the HMAC-SHA256 of the raw request body keyed with \
                            MAILING_INBOUND_SECRET",
        }
    });

    let mut schemas = rename_schemas(&mut spec);
    hoist(&mut spec, &mut schemas, clashes);
    for (name, description, values) in enums() {
        schemas.insert(
            name.to_owned(),
            json!({ "type": "string", "enum": values, "description": description }),
        );
    }
    schemas.insert(
        "ClientsCsv".to_owned(),
        json!({
            "type": "string",
            "description": "A CSV file of clients: phone_number, operator_code, tags, \
                            time_zone, then attr.<key> columns.",
        }),
    );
    let (requests, responses) = uses(&spec, &schemas);
    for (name, schema) in schemas.iter_mut() {
        // Responses always carry every field, `null` where there is no value; requests accept
        // `null` wherever a field may be left out.
        let response = !requests.contains(name);
        describe_nulls(schema, response);
        if !response {
            describe_input_values(schema);
        }
        for (_, property, enumeration) in ENUM_PROPERTIES.iter().filter(|(s, ..)| s == name) {
            if let Some(property) = schema
                .get_mut("properties")
                .and_then(|properties| properties.get_mut(*property))
            {
                refer_to(property, enumeration);
            }
        }
    }
    let snapshot = schemas.clone();
    for (name, schema) in schemas.iter_mut() {
        if let Some(example) = request_example(name) {
            schema["example"] = example;
        } else if responses.contains(name) && schema["properties"].is_object() {
            schema["example"] = example_of(schema, name, &snapshot, 0);
        }
    }
    spec["components"]["schemas"] = Value::Object(schemas.into_iter().collect());

    let catalog = error_codes::catalog();
    let (example_names, examples) = examples(&catalog);
    spec["components"]["examples"] = Value::Object(examples);
    spec["components"]["headers"] = headers();
    if let Some(paths) = spec["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    tidy_operation(path, method, operation, &catalog, &example_names);
                }
            }
        }
    }
    spec
}

/// Renames the schemas paperclip named after their Rust types, everywhere they are referred
/// to, and takes them out of the document to work on.
fn rename_schemas(spec: &mut Value) -> BTreeMap<String, Value> {
    let schemas = spec["components"]["schemas"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut rename = |reference: &mut String| {
        if let Some(rust) = reference.strip_prefix(SCHEMAS) {
            *reference = format!("{SCHEMAS}{}", schema_name(rust));
        }
    };
    visit_refs(spec, &mut rename);
    let mut renamed = BTreeMap::new();
    for (rust, mut schema) in schemas {
        visit_refs(&mut schema, &mut rename);
        renamed.insert(schema_name(&rust), schema);
    }
    renamed
}

fn visit_refs(value: &mut Value, visit: &mut impl FnMut(&mut String)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(reference) if key == "$ref" => visit(reference),
                    _ => visit_refs(child, visit),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| visit_refs(item, visit)),
        _ => {}
    }
}

/// Moves every nested schema that has a Rust type's name (its `title`) into the components
/// and refers to it there, in the schemas and in the operations.
fn hoist(spec: &mut Value, schemas: &mut BTreeMap<String, Value>, clashes: &mut Vec<String>) {
    let mut found = BTreeMap::new();
    for schema in schemas.values_mut() {
        hoist_within(schema, &mut found);
    }
    if let Some(paths) = spec["paths"].as_object_mut() {
        for item in paths.values_mut() {
            hoist_within(item, &mut found);
        }
    }
    for (name, (mut schema, type_description)) in found {
        match schemas.get(&name) {
            Some(existing) => {
                if without_description(existing) != without_description(&schema) {
                    clashes.push(name);
                }
            }
            None => {
                if let Some(description) = type_description {
                    schema["description"] = Value::String(description);
                }
                schemas.insert(name, schema);
            }
        }
    }
}

/// A schema found nested, and the description of its type if an occurrence showed it.
type Found = BTreeMap<String, (Value, Option<String>)>;

fn hoist_within(value: &mut Value, found: &mut Found) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "example" | "examples" => {}
                    "properties" => {
                        for property in child
                            .as_object_mut()
                            .into_iter()
                            .flat_map(|p| p.values_mut())
                        {
                            hoist_one(property, false, found);
                        }
                    }
                    "items" => hoist_one(child, true, found),
                    _ => hoist_one(child, false, found),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| hoist_one(item, false, found)),
        _ => {}
    }
}

/// Hoists `child` if it is a named schema, else what it holds. Items of a list carry their
/// type's own description; a property carries its field's.
fn hoist_one(child: &mut Value, is_items: bool, found: &mut Found) {
    let titled = child.get("title").and_then(Value::as_str).map(schema_name);
    let Some(name) = titled.filter(|_| child.get("properties").is_some()) else {
        hoist_within(child, found);
        return;
    };
    let mut schema = child.take();
    if let Some(map) = schema.as_object_mut() {
        map.remove("title");
    }
    hoist_within(&mut schema, found);
    let description = schema.as_object_mut().and_then(|s| s.remove("description"));
    let type_description = is_items
        .then(|| {
            description
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .flatten();
    *child = json!({ "$ref": format!("{SCHEMAS}{name}") });
    if !is_items && let Some(description) = description {
        *child = json!({ "allOf": [child.take()], "description": description });
    }
    match found.get_mut(&name) {
        Some((first, known)) => {
            if without_description(first) != without_description(&schema) {
                // Two types of one name: keep this one inline rather than lie.
                schema["title"] = json!(name);
                *child = schema;
            } else if known.is_none() {
                *known = type_description;
            }
        }
        None => {
            found.insert(name, (schema, type_description));
        }
    }
}

fn without_description(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(map) = schema.as_object_mut() {
        map.remove("description");
        map.remove("title");
    }
    schema
}

/// Makes `property` refer to the schema `name`, keeping its description.
fn refer_to(property: &mut Value, name: &str) {
    let reference = json!({ "$ref": format!("{SCHEMAS}{name}") });
    let mut wrapper = Map::new();
    wrapper.insert("allOf".into(), json!([reference]));
    for key in ["description", "nullable"] {
        if let Some(value) = property.get(key) {
            wrapper.insert(key.into(), value.clone());
        }
    }
    *property = if wrapper.len() == 1 {
        reference
    } else {
        Value::Object(wrapper)
    };
}

/// The schemas request bodies use, and those responses use, with all they refer to.
fn uses(spec: &Value, schemas: &BTreeMap<String, Value>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut requests = BTreeSet::new();
    let mut responses = BTreeSet::new();
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            reach(&operation["requestBody"], schemas, &mut requests);
            reach(&operation["responses"], schemas, &mut responses);
        }
    }
    (requests, responses)
}

fn reach(value: &Value, schemas: &BTreeMap<String, Value>, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref"
                    && let Some(name) = child.as_str().and_then(|r| r.strip_prefix(SCHEMAS))
                {
                    if into.insert(name.to_owned())
                        && let Some(schema) = schemas.get(name)
                    {
                        reach(schema, schemas, into);
                    }
                } else {
                    reach(child, schemas, into);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| reach(item, schemas, into)),
        _ => {}
    }
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
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    let mut all = vec![];
    for (name, property) in properties.iter_mut() {
        all.push(Value::String(name.clone()));
        if !required.contains(name) {
            if property.get("$ref").is_some() {
                *property = json!({ "allOf": [property.take()] });
            }
            if let Some(property) = property.as_object_mut() {
                property.insert("nullable".into(), Value::Bool(true));
            }
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

/// Rules on request fields that a schema states exactly, so that clients and fuzzers can tell
/// a valid value (the others, such as trimmed labels or IANA zone names, stay in prose).
fn describe_input_values(schema: &mut Value) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
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

/// The example of each request body, keyed by schema name: realistic values a client would
/// send. A unit test reads each into its Rust type.
fn request_example(schema: &str) -> Option<Value> {
    Some(match schema {
        "TokenRequest" => json!({ "username": "admin", "password": "correct horse battery" }),
        "OperatorInput" => json!({ "code": "mts", "name": "MTS", "price_per_segment": "0.45" }),
        "OperatorPatchInput" => json!({ "name": "MTS Russia" }),
        "TagInput" => json!({ "value": "vip" }),
        "UserInput" => json!({
            "username": "ann.smith",
            "role": "manager",
            "password": "a long passphrase",
        }),
        "UserPatchInput" => json!({ "role": "viewer" }),
        "PasswordChangeInput" => json!({
            "current_password": "a long passphrase",
            "new_password": "an even longer passphrase",
        }),
        "ApiKeyInput" => json!({
            "name": "crm-sync",
            "role": "manager",
            "expires_at": "2027-12-31T23:59:59Z",
        }),
        "TagPatchInput" => json!({ "value": "loyal" }),
        "SendReportInput" => json!({ "date": "2026-12-06" }),
        "ClientInput" => json!({
            "phone_number": "79001234567",
            "operator_code": "mts",
            "tags": ["vip", "moscow"],
            "time_zone": "Europe/Moscow",
        }),
        "ClientPatchInput" => json!({ "tags": ["vip"], "time_zone": "Asia/Vladivostok" }),
        "ClientFilterInput" => json!({
            "name": "VIP clients of MTS",
            "operator_codes": ["mts"],
            "tags": ["vip"],
        }),
        "ClientFilterPatchInput" => json!({ "name": null, "tags": ["vip", "loyal"] }),
        "MailingInput" => json!({
            "text": "Winter sale: 20% off everything until Sunday",
            "start_at": "2026-12-07T09:00:00Z",
            "end_at": "2026-12-07T18:00:00Z",
            "filter": { "operator_codes": ["mts"], "tags": ["vip"] },
            "send_window": { "start": "10:00", "end": "20:00" },
            "local_time": true,
        }),
        "MailingPatchInput" => json!({
            "text": "Winter sale: 30% off everything until Sunday",
            "send_window": null,
        }),
        "ResendInput" => json!({
            "statuses": ["failed", "expired"],
            "start_at": "2026-12-08T09:00:00Z",
            "end_at": "2026-12-08T18:00:00Z",
        }),
        "OptOutInput" => json!({
            "phone_number": "+7 (900) 123-45-67",
            "reason": "asked not to be texted by phone",
        }),
        "InboundInput" => json!({ "from": "79001234567", "text": "СТОП" }),
        _ => return None,
    })
}

/// A value for a response field, where its name says more than its type.
fn field_example(schema: &str, field: &str) -> Option<Value> {
    Some(match (schema, field) {
        ("Operator", "code") => json!("mts"),
        ("Operator", "name") => json!("MTS"),
        (_, "price_per_segment") => json!("0.45"),
        // A preview of a Russian text for 1,000 clients of one operator.
        ("MailingPreview", "recipients") => json!(1000),
        ("MailingPreview", "suppressed") => json!(10),
        ("MailingPreview", "messages") => json!(990),
        ("MailingPreview", "by_parts") => json!({"1": 960, "2": 30}),
        ("MailingPreview", "segments_total") => json!(1020),
        ("MailingPreview", "has_variables") => json!(true),
        ("MailingPreview", "warnings") => json!([]),
        ("ByEncoding", "gsm7") => json!(0),
        ("ByEncoding", "ucs2") => json!(990),
        ("Cost", "total") => json!("459.00"),
        ("Cost", "unpriced_operators") => json!([]),
        ("OperatorCost", "messages") => json!(990),
        ("OperatorCost", "segments") => json!(1020),
        ("OperatorCost", "cost") => json!("459.00"),
        ("TextCount", "characters") => json!(53),
        ("PreviewSample", "characters") => json!(51),
        (_, "segments") => json!(1),
        (_, "ucs2_characters") => json!(["З", "д", "р"]),
        ("PreviewSample", "missing_variables") => json!([]),
        ("PreviewSample", "text") => json!("Здравствуйте, Анна! Скидка 20% до воскресенья"),
        (_, "encoding") => json!("ucs2"),
        (_, "segments_sent") => json!(1020),
        ("Tag", "value") => json!("vip"),
        ("ClientFilter", "name") => json!("VIP clients of MTS"),
        ("MailingWarning", "message") => json!(
            "no client matches the filter now, so the mailing would reach nobody; clients that \
             match when it starts still get it"
        ),
        // A mailing as created: never paused, its own rules set.
        ("Mailing", "paused_reason" | "paused_at" | "resend_of") => json!(null),
        ("Mailing", "paused_seconds") => json!(0.0),
        ("Mailing", "auto_pauses" | "cap_deferrals") => json!(0),
        ("FrequencyCap", "max") => json!(2),
        ("FrequencyCap", "per_hours") => json!(24),
        ("AutoPause", "enabled") => json!(true),
        ("AutoPause", "attempts") => json!(20),
        ("AutoPause", "failure_share") => json!(0.5),
        // Statistics after a pause the mailing made itself.
        ("Pause", "reason") => json!("provider_failing"),
        ("Pause", "detail") => json!("48 of the last 50 attempts failed at the provider"),
        ("Pause", "paused_at") => json!("2026-12-07T09:40:00Z"),
        ("Pause", "resumed_at") => json!("2026-12-07T10:05:00Z"),
        ("Pause", "seconds") | (_, "paused_seconds") => json!(1500.0),
        (_, "auto_pauses") => json!(1),
        (_, "cap_deferrals") => json!(12),
        (_, "phone_number") => json!("79001234567"),
        ("ClientPage", "next_cursor") => json!("c1.3e8"),
        (_, "attributes") => json!({"city": "Kazan", "vip": true}),
        (_, "operator_code") => json!("mts"),
        (_, "operator_codes") => json!(["mts"]),
        (_, "tags") => json!(["vip"]),
        (_, "time_zone") => json!("Europe/Moscow"),
        (_, "text") => json!("Winter sale: 20% off everything until Sunday"),
        (_, "start_at") => json!("2026-12-07T09:00:00Z"),
        (_, "end_at") => json!("2026-12-07T18:00:00Z"),
        (_, "start") => json!("10:00"),
        (_, "end") => json!("20:00"),
        (_, "created_at") => json!("2026-12-01T08:30:00Z"),
        (_, "updated_at") => json!("2026-12-01T08:30:00Z"),
        (_, "sent_at") => json!("2026-12-07T10:00:02Z"),
        (_, "local_time") => json!(true),
        (_, "cancelled_at" | "client_filter_id" | "last_error" | "next_attempt_at") => json!(null),
        (_, "access_token") => json!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"),
        (_, "expires_in") => json!(3600),
        (_, "attempts") => json!(1),
        (_, "page") => json!(1),
        (_, "page_size") => json!(50),
        _ => return None,
    })
}

/// An example of `schema` built from its properties, so it always has exactly the fields the
/// schema has.
fn example_of(schema: &Value, name: &str, schemas: &BTreeMap<String, Value>, depth: u8) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(target) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix(SCHEMAS))
    {
        return match schemas.get(target) {
            Some(found) => example_of(found, target, schemas, depth + 1),
            None => Value::Null,
        };
    }
    if let Some(first) = schema["allOf"].get(0) {
        return example_of(first, name, schemas, depth + 1);
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut example = Map::new();
            for (field, property) in schema["properties"].as_object().into_iter().flatten() {
                let value = field_example(name, field)
                    .unwrap_or_else(|| example_of(property, name, schemas, depth + 1));
                example.insert(field.clone(), value);
            }
            Value::Object(example)
        }
        Some("array") => json!([example_of(&schema["items"], name, schemas, depth + 1)]),
        Some("integer") => json!(1),
        Some("number") => json!(1.0),
        Some("boolean") => json!(false),
        Some("string") if schema["format"] == "date-time" => json!("2026-12-01T08:30:00Z"),
        Some("string") => json!("string"),
        _ => Value::Null,
    }
}

const HEADERS: &str = "#/components/headers/";
const EXAMPLES: &str = "#/components/examples/";

/// The headers responses carry, referred to from each response.
fn headers() -> Value {
    json!({
        "RequestId": {
            "description": "The request's id: the one the request sent, if plain and at most 64 \
                characters, otherwise a new one. The api's log lines about the request carry it.",
            "required": true,
            "schema": { "type": "string", "maxLength": 64, "example": "5f1c0e8a2b7d4c19a3e6f0b2d8c47a91" },
        },
        "WwwAuthenticate": {
            "description": "The scheme to authenticate with: `Bearer`.",
            "required": true,
            "schema": { "type": "string", "example": "Bearer" },
        },
        "RetryAfter": {
            "description": "Seconds to wait before trying again.",
            "required": true,
            "schema": { "type": "integer", "minimum": 0, "example": 42 },
        },
        "IdempotentReplayed": {
            "description": "`true` when the answer is the stored one of an earlier request with \
                the same `Idempotency-Key`: the request was not run again. Absent otherwise.",
            "required": false,
            "schema": { "type": "string", "enum": ["true"], "example": "true" },
        },
        "RetryAfterStarting": {
            "description": "Seconds to wait before trying again; sent while the service is \
                starting and its database is not ready yet.",
            "required": false,
            "schema": { "type": "integer", "minimum": 0, "example": 1 },
        },
    })
}

/// `name` of [`headers`], as a response refers to it.
fn header(name: &str) -> Value {
    json!({ "$ref": format!("{HEADERS}{name}") })
}

/// The example body of each catalog row, under a name of its own: its status and code
/// (`422.validation_failed`, `422.details.phone_format`), numbered when several rows share it.
fn examples(catalog: &[Documented]) -> (Vec<String>, Map<String, Value>) {
    let mut names = vec![];
    let mut examples = Map::new();
    for row in catalog {
        let base = match row.level {
            Level::Code => format!("{}.{}", row.status(), row.code()),
            Level::Detail => format!("{}.details.{}", row.status(), row.code()),
        };
        let mut name = base.clone();
        let mut n = 1;
        while examples.contains_key(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        examples.insert(
            name.clone(),
            json!({
                "summary": row.meaning,
                "value": serde_json::to_value(row.body()).unwrap_or_default(),
            }),
        );
        names.push(name);
    }
    (names, examples)
}

/// What a status means, before the list of its codes.
fn status_summary(status: u16) -> &'static str {
    match status {
        400 => "The request cannot be read.",
        401 => "Who is asking is not established.",
        404 => "No such resource.",
        409 => "Conflicts with stored data.",
        413 => "The request body is too large.",
        415 => "The request body is not JSON.",
        422 => "The request breaks rules.",
        429 => "Too many failed attempts.",
        500 => "Internal error.",
        503 => "Unavailable; retry later.",
        _ => "Error.",
    }
}

/// The error responses of `operation`, from the catalog: per status, each code with what it
/// means and an example body (`example_names` of [`examples`]), and the headers that status
/// carries.
fn error_responses(
    operation: &Operation<'_>,
    catalog: &[Documented],
    example_names: &[String],
) -> Map<String, Value> {
    let mut by_status: BTreeMap<u16, Vec<(&Documented, &String)>> = BTreeMap::new();
    for (row, name) in catalog.iter().zip(example_names) {
        if row.answered.covers(operation) {
            by_status.entry(row.status()).or_default().push((row, name));
        }
    }
    let mut responses = Map::new();
    for (status, rows) in by_status {
        let mut description = status_summary(status).to_owned();
        let mut examples = Map::new();
        for level in [Level::Code, Level::Detail] {
            let listed: Vec<_> = rows.iter().filter(|(r, _)| r.level == level).collect();
            if listed.is_empty() {
                continue;
            }
            description.push_str(match level {
                Level::Code => "\n\n`code`:\n",
                Level::Detail => "\n\n`details[].code`:\n",
            });
            for (row, name) in listed {
                let code = row.code();
                let key = match level {
                    Level::Code => code.clone(),
                    Level::Detail => format!("details.{code}"),
                };
                if examples.contains_key(&key) {
                    // An earlier, narrower row documents this code here.
                    continue;
                }
                let field = row
                    .field()
                    .map(|f| format!(" (e.g. `{f}`)"))
                    .unwrap_or_default();
                description.push_str(&format!("\n- `{code}`{field}: {}", row.meaning));
                examples.insert(key, json!({ "$ref": format!("{EXAMPLES}{name}") }));
            }
        }
        let mut headers = Map::new();
        headers.insert("X-Request-Id".into(), header("RequestId"));
        match status {
            401 => {
                headers.insert("WWW-Authenticate".into(), header("WwwAuthenticate"));
            }
            429 => {
                headers.insert("Retry-After".into(), header("RetryAfter"));
            }
            503 => {
                headers.insert("Retry-After".into(), header("RetryAfterStarting"));
            }
            _ => {}
        }
        responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "headers": headers,
                "content": {
                    "application/json": {
                        "schema": { "$ref": format!("{SCHEMAS}ApiError") },
                        "examples": examples,
                    }
                },
            }),
        );
    }
    responses
}

fn tidy_operation(
    path: &str,
    method: &str,
    operation: &mut Map<String, Value>,
    catalog: &[Documented],
    example_names: &[String],
) {
    let public = path == "/api/v1/auth/token";
    // A provider's replies are signed instead of carrying a token.
    let signed = path == "/api/v1/inbound" && method == "post";
    operation.insert(
        "security".into(),
        if public {
            json!([])
        } else if signed {
            json!([{ "inboundSignature": [] }])
        } else {
            json!([{ "bearerAuth": [] }])
        },
    );
    let id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    describe_query(&id, operation);
    let parameters = operation.get("parameters").and_then(Value::as_array);
    let has = |place: &str| parameters.is_some_and(|ps| ps.iter().any(|p| p["in"] == place));
    let has_id =
        parameters.is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" && p["name"] == "id"));
    let facts = Operation {
        id: &id,
        method,
        path,
        token: !public && !signed,
        body: operation.contains_key("requestBody"),
        query: has("query"),
        path_id: has_id,
    };
    let errors = error_responses(&facts, catalog, example_names);
    let idempotent = error_codes::Answered::WithIdempotencyKey.covers(&facts);
    if idempotent {
        let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
        if let Some(parameters) = parameters.as_array_mut() {
            parameters.push(idempotency_key_parameter());
        }
    }

    if method == "patch" {
        let description = match operation.get("description").and_then(Value::as_str) {
            Some(own) => format!("{own}\n\n{MERGE_PATCH}"),
            None => MERGE_PATCH.to_owned(),
        };
        operation.insert("description".into(), Value::String(description));
    }

    if let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    {
        // paperclip's own error entries give way to the catalog's.
        responses.retain(|status, _| status.starts_with('2'));
        if id == "exportClients" {
            // The file is streamed, which paperclip cannot see: its answer is described here.
            responses.insert(
                "200".into(),
                json!({
                    "description": "The clients as a CSV file, in the columns an import reads.",
                    "content": {
                        "text/csv": { "schema": { "$ref": "#/components/schemas/ClientsCsv" } }
                    },
                }),
            );
        }
        for response in responses.values_mut() {
            response["headers"] = json!({ "X-Request-Id": header("RequestId") });
        }
        responses.extend(errors);
        if idempotent {
            for (status, response) in responses.iter_mut() {
                if replayable(status) {
                    response["headers"][REPLAYED_HEADER] = header("IdempotentReplayed");
                }
            }
        }
    }
}

/// The `Idempotency-Key` header parameter of the operations that take one.
fn idempotency_key_parameter() -> Value {
    json!({
        "name": KEY_HEADER,
        "in": "header",
        "required": false,
        "description": format!(
            "Makes the request safe to retry: sent again with the same key within 24 hours, by \
             the same account, with the same method, path, query and body, it gets the first \
             answer again (with `{REPLAYED_HEADER}: true`) and changes nothing. A new random \
             value per write, such as a UUID. The key with another request is a 422 \
             `idempotency_key_reused`; while the first request is still being answered, a 409 \
             `idempotency_key_in_flight`. 5xx and 429 answers are not kept: a retry after one \
             runs again."
        ),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_KEY_LEN,
            "pattern": "^[!-~]+$",
            "example": "4f6c3a1e-9b2d-4e7f-8a10-5c3b2d1e0f9a",
        },
    })
}

/// Whether an answer of this status can be a stored one sent again: not 5xx and 429, which are
/// never kept, nor the 401 and 413 of requests the key is not looked at for.
fn replayable(status: &str) -> bool {
    !(status.starts_with('5') || ["401", "413", "429"].contains(&status))
}

/// The bounds and values [`crate::routes`] checks on query parameters, which paperclip cannot
/// say: paging, statuses and a `phone_prefix`.
fn describe_query(id: &str, operation: &mut Map<String, Value>) {
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
            "phone_prefix" => schema["pattern"] = json!("^[0-9]{1,11}$"),
            "cursor" => schema["example"] = json!("c1.3e8"),
            _ => {}
        }
        if let Some((.., enumeration)) = ENUM_PARAMETERS
            .iter()
            .find(|(op, param, _)| *op == id && *param == name)
        {
            *schema = json!({ "$ref": format!("{SCHEMAS}{enumeration}") });
        }
    }
}

#[cfg(test)]
mod tests;
