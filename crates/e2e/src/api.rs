//! The integrator's view: the HTTP API, logged in.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// `GET /api/v1/mailings/{id}/stats`, without the message page.
#[derive(Debug, Clone, Deserialize)]
pub struct MailingStats {
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
}

impl MailingStats {
    pub fn count(&self, status: &str) -> u64 {
        self.by_status.get(status).copied().unwrap_or(0)
    }

    /// Messages that may still reach the probe.
    pub fn unsettled(&self) -> u64 {
        self.count("scheduled") + self.count("queued") + self.count("retrying")
    }
}

impl std::fmt::Display for MailingStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "total={}", self.total)?;
        for (status, count) in self.by_status.iter().filter(|(_, c)| **c > 0) {
            write!(f, " {status}={count}")?;
        }
        Ok(())
    }
}

impl ApiClient {
    /// Logs in with `POST /api/v1/auth/token`.
    pub async fn login(
        http: reqwest::Client,
        base: String,
        username: &str,
        password: &str,
    ) -> Self {
        let mut client = Self {
            http,
            base,
            token: String::new(),
        };
        let login = client
            .call(
                Method::POST,
                "/api/v1/auth/token",
                Some(&json!({ "username": username, "password": password })),
            )
            .await;
        client.token = login["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login answered without access_token: {login}"))
            .to_owned();
        client
    }

    /// Where the api answers, e.g. `http://127.0.0.1:8000`; paths start with `/api/v1`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The bearer token of the login, for clients of one's own (a load generator, say).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends a request and returns the status and the JSON body (null if there is none).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let token = (!self.token.is_empty()).then_some(self.token.as_str());
        self.send(method, path, body, token).await
    }

    /// Sends a request with no credentials.
    pub async fn request_without_token(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.send(method, path, body, None).await
    }

    /// Sends a bodiless request with `token` as its bearer token.
    pub async fn request_with_token(
        &self,
        method: Method,
        path: &str,
        token: &str,
    ) -> (StatusCode, Value) {
        self.send(method, path, None, Some(token)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"));
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {text}"))
        };
        (status, body)
    }

    /// Sends a request that must succeed and returns its body.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.request(method.clone(), path, body).await;
        assert!(
            status.is_success(),
            "{method} {path} answered {status}: {answer}\nrequest body: {}",
            body.map(Value::to_string).unwrap_or_default()
        );
        answer
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Value {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// Creates a mailing and returns its id.
    pub async fn create_mailing(&self, body: &Value) -> i64 {
        let mailing = self.post("/api/v1/mailings", body).await;
        mailing["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("created mailing without an id: {mailing}"))
    }

    pub async fn cancel_mailing(&self, id: i64) -> Value {
        self.post(&format!("/api/v1/mailings/{id}/cancel"), &json!({}))
            .await
    }

    /// `GET /api/v1/mailings/{id}`.
    pub async fn mailing(&self, id: i64) -> Value {
        self.get(&format!("/api/v1/mailings/{id}")).await
    }

    /// `POST /api/v1/mailings/{id}/pause`; returns the mailing.
    pub async fn pause_mailing(&self, id: i64) -> Value {
        self.post(&format!("/api/v1/mailings/{id}/pause"), &json!({}))
            .await
    }

    /// `POST /api/v1/mailings/{id}/resume`; returns the mailing.
    pub async fn resume_mailing(&self, id: i64) -> Value {
        self.post(&format!("/api/v1/mailings/{id}/resume"), &json!({}))
            .await
    }

    /// Every message `GET /api/v1/messages?{query}` lists, page after page (`query` without
    /// `page` and `page_size`, e.g. `mailing_id=7&status=sent`).
    pub async fn messages(&self, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        for page in 1.. {
            let body = self
                .get(&format!(
                    "/api/v1/messages?{query}&page={page}&page_size=500"
                ))
                .await;
            let items = body["items"]
                .as_array()
                .unwrap_or_else(|| panic!("a message page without items: {body}"));
            all.extend(items.iter().cloned());
            let total = body["total"].as_u64().unwrap_or(0);
            if items.is_empty() || all.len() as u64 >= total {
                break;
            }
        }
        all
    }

    pub async fn mailing_stats(&self, id: i64) -> MailingStats {
        let body = self
            .get(&format!("/api/v1/mailings/{id}/stats?page_size=1"))
            .await;
        serde_json::from_value(body.clone())
            .unwrap_or_else(|e| panic!("mailing stats of unexpected shape ({e}): {body}"))
    }

    /// The development fixtures (`fixtures/dev.json`), created through the api: operators
    /// `bln` and `mts`, tags "Important" and "Another Tag", two UTC clients.
    pub async fn create_fixtures(&self) {
        for (code, name) in [("bln", "Beeline"), ("mts", "MTS")] {
            self.post("/api/v1/operators", &json!({ "code": code, "name": name }))
                .await;
        }
        for tag in ["Important", "Another Tag"] {
            self.post("/api/v1/tags", &json!({ "value": tag })).await;
        }
        self.create_client("79854456670", "bln", &[], "UTC").await;
        self.create_client("79884446699", "mts", &[], "UTC").await;
    }

    pub async fn create_client(
        &self,
        phone: &str,
        operator: &str,
        tags: &[&str],
        time_zone: &str,
    ) -> i64 {
        let client = self
            .post(
                "/api/v1/clients",
                &json!({
                    "phone_number": phone,
                    "operator_code": operator,
                    "tags": tags,
                    "time_zone": time_zone,
                }),
            )
            .await;
        client["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("created client without an id: {client}"))
    }
}
