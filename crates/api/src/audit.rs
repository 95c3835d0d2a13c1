//! The audit log's writer: a middleware that records every change a signed-in caller made
//! successfully, through the API or the admin UI alike, before the answer leaves: when, who
//! and how they signed in, the action, the resource and its id, the fields sent (secrets
//! masked), the request id and the client's address.
//!
//! It reads what it records from the request itself (the route's pattern names the resource,
//! its id and the action), so no write can be added without being recorded. Replays of an
//! idempotent request are not recorded again: this middleware sits inside the idempotency
//! layer, which answers a replay without calling it.

use crate::auth::Caller;
use crate::client_address::ClientAddress;
use crate::idempotency::read_body;
use crate::observe::RequestId;
use crate::state::AppState;
use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::Data;
use chrono::Utc;
use mailing_domain::store::{ActorKind, NewAuditEntry};
use serde_json::{Map, Value};

/// What replaces a secret's value.
pub const MASKED: &str = "[masked]";
/// Longer texts are cut here: the log says what changed, it is not a copy of the data.
const MAX_TEXT: usize = 2000;

/// The id of the record a request created, for a handler whose answer names it neither in a
/// redirect nor as `id` (an admin page showing a new key's secret).
#[derive(Debug, Clone)]
pub struct Created(pub String);

/// Requests that change nothing although they are POSTs: previews and counters.
fn changes_nothing(path: &str) -> bool {
    path.ends_with("/preview") || path.ends_with("/counter")
}

/// Sign-ins answer a GET when the OpenID provider sends the browser back.
const SIGN_IN_GETS: &[&str] = &["/admin/oidc/callback"];

/// Registers the metric of entries that could not be written, at 0 from the start so that an
/// alert sees its first increase.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "mailing_audit_write_failures_total",
        "Changes the audit log could not record (the change itself was made)"
    );
    metrics::counter!("mailing_audit_write_failures_total").increment(0);
}

/// The middleware.
pub async fn record<B: MessageBody + 'static>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = request.path().to_owned();
    let recorded = (path.starts_with("/api/v1/") || path.starts_with("/admin/"))
        && !changes_nothing(&path)
        && (is_change(request.method()) || SIGN_IN_GETS.contains(&path.as_str()));
    if !recorded {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    // A sign-in's query is the provider's one-time code and state: credentials, not changes.
    let fields = if SIGN_IN_GETS.contains(&path.as_str()) {
        None
    } else {
        read_fields(&mut request).await
    }
    .unwrap_or_else(|| Value::Object(Map::new()));
    let response = next.call(request).await?;
    let status = response.status();
    if !(status.is_success() || status.is_redirection()) {
        return Ok(response.map_into_boxed_body());
    }
    let Some(caller) = response.request().extensions().get::<Caller>().cloned() else {
        return Ok(response.map_into_boxed_body());
    };
    let named = response
        .request()
        .extensions()
        .get::<Created>()
        .map(|c| c.0.clone());
    let (response, created_id) = match named {
        Some(id) => (response.map_into_boxed_body(), Some(id)),
        None => created_id(response).await,
    };
    let entry = entry_of(&response, &caller, fields, created_id);
    if let Some(state) = response.request().app_data::<Data<AppState>>().cloned() {
        let kept = state.run(move |s| s.append_audit(&entry)).await;
        if let Err(error) = kept {
            metrics::counter!("mailing_audit_write_failures_total").increment(1);
            tracing::error!(%error, "a change could not be recorded in the audit log");
        }
    }
    Ok(response)
}

fn is_change(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The fields the request sent: a JSON body's members or a form's fields, secrets masked.
/// Uploads (CSV files) and unreadable bodies are recorded without their content.
async fn read_fields(request: &mut ServiceRequest) -> Option<Value> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut fields = Map::new();
    for (name, value) in form_urlencoded::parse(request.query_string().as_bytes()) {
        fields.insert(name.into_owned(), Value::String(value.into_owned()));
    }
    let json = content_type.starts_with("application/json");
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    if json || form {
        let body = read_body(request).await.ok().flatten()?;
        request.set_payload(Payload::from(body.clone()));
        if json {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(members)) => fields.extend(members),
                Ok(other) => {
                    fields.insert("body".to_owned(), other);
                }
                Err(_) => {}
            }
        } else {
            for (name, value) in form_urlencoded::parse(&body) {
                // The form's own plumbing says nothing about the change, nor does a field
                // left empty, which a form sends for every field it shows.
                if matches!(name.as_ref(), "csrf_token" | "time_zone") || value.is_empty() {
                    continue;
                }
                fields.insert(name.into_owned(), Value::String(value.into_owned()));
            }
        }
    } else if content_type.starts_with("multipart/") {
        fields.insert(
            "file".to_owned(),
            Value::String("(uploaded file)".to_owned()),
        );
    }
    Some(masked(Value::Object(fields)))
}

/// The value with every secret's value replaced and long texts cut.
pub fn masked(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(name, value)| {
                    let value = if is_secret(&name) {
                        Value::String(MASKED.to_owned())
                    } else {
                        masked(value)
                    };
                    (name, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(masked).collect()),
        Value::String(text) if text.chars().count() > MAX_TEXT => {
            Value::String(text.chars().take(MAX_TEXT).chain(['…']).collect())
        }
        other => other,
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|word| name.contains(word))
}

/// The id of what a create made: the admin UI's redirect names its page, the API's answer
/// carries it as `id`.
async fn created_id(
    response: ServiceResponse<impl MessageBody + 'static>,
) -> (ServiceResponse<BoxBody>, Option<String>) {
    let location_id = response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(id_in_location);
    if location_id.is_some() || response.status() != actix_web::http::StatusCode::CREATED {
        return (response.map_into_boxed_body(), location_id);
    }
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let id = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|answer| match answer.get("id") {
            Some(Value::Number(id)) => Some(id.to_string()),
            Some(Value::String(id)) => Some(id.clone()),
            _ => None,
        });
    let response = head.set_body(BoxBody::new(bytes));
    (ServiceResponse::new(request, response), id)
}

/// `/admin/mailings/42?notice=saved` → `42`.
fn id_in_location(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next()?;
    let mut segments = path.strip_prefix("/admin/")?.split('/');
    let _resource = segments.next()?;
    let id = segments.next()?;
    id.chars()
        .all(|c| c.is_ascii_digit())
        .then(|| id.to_owned())
        .filter(|id| !id.is_empty())
}

/// What the route's pattern says: the resource, the action and the id of what it touched.
fn entry_of(
    response: &ServiceResponse,
    caller: &Caller,
    changes: Value,
    created_id: Option<String>,
) -> NewAuditEntry {
    let request = response.request();
    let pattern = request
        .match_pattern()
        .unwrap_or_else(|| request.path().to_owned());
    let (resource, action, id_name) = describe(request.method(), &pattern);
    let resource_id = id_name
        .and_then(|name| request.match_info().get(&name).map(str::to_owned))
        .or(created_id);
    let (actor_kind, actor_id) = match &caller.actor {
        crate::auth::Actor::User { id, .. } => (ActorKind::User, id.0),
        crate::auth::Actor::ApiKey { id, .. } => (ActorKind::ApiKey, id.0),
    };
    NewAuditEntry {
        at: Utc::now(),
        actor_kind,
        actor: caller.name().to_owned(),
        actor_id,
        signed_in_with: caller.signed_in_with,
        interface: caller.interface.as_str().to_owned(),
        action,
        resource,
        resource_id,
        changes,
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        client_address: ClientAddress::of(request).to_string(),
    }
}

/// The resource, the action and the name of the id's path parameter, from a route pattern
/// such as `/api/v1/mailings/{id}/pause` or `/admin/clients/{id}/edit`.
fn describe(method: &Method, pattern: &str) -> (String, String, Option<String>) {
    let rest = pattern
        .strip_prefix("/api/v1/")
        .or_else(|| pattern.strip_prefix("/admin/"))
        .unwrap_or(pattern);
    let mut segments = rest.split('/').filter(|segment| !segment.is_empty());
    let resource = segments.next().unwrap_or_default().to_owned();
    let mut id_name = None;
    let mut verb = None;
    for segment in segments {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => id_name = Some(name.split(':').next().unwrap_or(name).to_owned()),
            None => verb = Some(segment.to_owned()),
        }
    }
    let action = match (resource.as_str(), verb.as_deref()) {
        ("auth", Some("token")) | ("login", None) | ("oidc", Some("callback")) => {
            return ("session".to_owned(), "sign_in".to_owned(), None);
        }
        ("auth", Some("logout")) | ("logout", None) => {
            return ("session".to_owned(), "sign_out".to_owned(), None);
        }
        ("auth" | "account", Some("password")) => {
            return ("account".to_owned(), "change_password".to_owned(), None);
        }
        (_, Some("new")) => "create".to_owned(),
        (_, Some("edit")) => "update".to_owned(),
        (_, Some(verb)) => verb.replace('-', "_"),
        (_, None) => match *method {
            Method::POST if id_name.is_none() => "create".to_owned(),
            Method::PUT => "replace".to_owned(),
            Method::PATCH | Method::POST => "update".to_owned(),
            Method::DELETE => "delete".to_owned(),
            _ => method.as_str().to_ascii_lowercase(),
        },
    };
    (resource, action, id_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pattern_names_the_resource_action_and_id() {
        let cases = [
            (
                Method::POST,
                "/api/v1/mailings",
                ("mailings", "create", None),
            ),
            (
                Method::PATCH,
                "/api/v1/mailings/{id}",
                ("mailings", "update", Some("id")),
            ),
            (
                Method::PUT,
                "/api/v1/clients/{id}",
                ("clients", "replace", Some("id")),
            ),
            (
                Method::DELETE,
                "/api/v1/tags/{id}",
                ("tags", "delete", Some("id")),
            ),
            (
                Method::POST,
                "/api/v1/mailings/{id}/pause",
                ("mailings", "pause", Some("id")),
            ),
            (
                Method::POST,
                "/api/v1/clients/import",
                ("clients", "import", None),
            ),
            (
                Method::POST,
                "/admin/mailings/new",
                ("mailings", "create", None),
            ),
            (
                Method::POST,
                "/admin/clients/{id}/edit",
                ("clients", "update", Some("id")),
            ),
            (
                Method::POST,
                "/admin/clients/{id}/delete",
                ("clients", "delete", Some("id")),
            ),
            (
                Method::POST,
                "/api/v1/auth/token",
                ("session", "sign_in", None),
            ),
            (Method::POST, "/admin/logout", ("session", "sign_out", None)),
            (
                Method::GET,
                "/admin/oidc/callback",
                ("session", "sign_in", None),
            ),
            (
                Method::POST,
                "/api/v1/auth/password",
                ("account", "change_password", None),
            ),
            (
                Method::DELETE,
                "/api/v1/api-keys/{id}",
                ("api-keys", "delete", Some("id")),
            ),
        ];
        for (method, pattern, (resource, action, id)) in cases {
            let described = describe(&method, pattern);
            assert_eq!(
                (
                    described.0.as_str(),
                    described.1.as_str(),
                    described.2.as_deref()
                ),
                (resource, action, id),
                "{method} {pattern}"
            );
        }
    }

    #[test]
    fn secrets_are_masked_at_any_depth_and_long_texts_cut() {
        let fields = masked(json!({
            "username": "ann",
            "password": "hunter2hunter2",
            "nested": {"client_secret": "s", "new_password": "p", "list": [{"token": "t"}]},
            "text": "x".repeat(3000),
        }));
        assert_eq!(fields["username"], "ann");
        assert_eq!(fields["password"], MASKED);
        assert_eq!(fields["nested"]["client_secret"], MASKED);
        assert_eq!(fields["nested"]["new_password"], MASKED);
        assert_eq!(fields["nested"]["list"][0]["token"], MASKED);
        assert_eq!(
            fields["text"].as_str().unwrap().chars().count(),
            MAX_TEXT + 1
        );
        assert!(!fields.to_string().contains("hunter2"));
    }

    #[test]
    fn a_redirect_names_the_created_record() {
        assert_eq!(
            id_in_location("/admin/mailings/42?notice=saved"),
            Some("42".to_owned())
        );
        assert_eq!(id_in_location("/admin/mailings?notice=deleted"), None);
        assert_eq!(id_in_location("/admin/mailings/new"), None);
        assert_eq!(id_in_location("https://other/x"), None);
    }
}
