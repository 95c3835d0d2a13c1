//! The application under test, started on a random port against its own database and bus,
//! on either setup, and the assertions every module shares.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use mailing_api::startup::Application;
use mailing_bus::testing::TestBus;
use mailing_bus::{Bus, Topic};
use mailing_domain::events::{self, MailingEvent};
use mailing_domain::store::{
    ApiStore, ClientQuery, FilterSource, MailingDraft, MessageQuery, NewMessage, PageRequest, Store,
};
use mailing_domain::{
    ClientFilter, ClientId, MailingId, MailingSchedule, MailingText, MessageStatus,
};
use mailing_runtime::{Handles, Program, Settings, Stopper, stop};
use mailing_storage::testing::{AnyTestDatabase, TestDatabase, TestSqliteDatabase};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "12345";
/// The dev profile's signing secret; tests sign their own tokens with it.
pub const DEV_JWT_SECRET: &str = mailing_runtime::settings::DEV_JWT_SECRET;
pub const ISSUER: &str = "mailing-api";

/// The two ways the product runs (see the README): each test of the suite runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The separate services: PostgreSQL and RabbitMQ.
    Distributed,
    /// `mailing`: a SQLite file and the in-process bus.
    Embedded,
}

tokio::task_local! {
    /// The setup the running test asked for; [`both_setups!`] sets it.
    pub static SETUP: Setup;
}

/// Runs each named `async fn` test on both setups, as `name::distributed` and
/// `name::embedded` (`cargo test -p mailing-api embedded` runs the SQLite half alone).
macro_rules! both_setups {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use crate::helpers::{SETUP, Setup};

                #[tokio::test]
                async fn distributed() {
                    SETUP.scope(Setup::Distributed, super::$test()).await;
                }

                #[tokio::test]
                async fn embedded() {
                    SETUP.scope(Setup::Embedded, super::$test()).await;
                }
            }
        )*
    };
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// Never follows redirects, so tests see them.
    pub client: reqwest::Client,
    pub token: String,
    /// The body of the login that produced `token`.
    pub login: Value,
    /// Every mailing event the api published, in order.
    events: Arc<Mutex<Vec<MailingEvent>>>,
    db: Option<AnyTestDatabase>,
    _bus: TestBus,
    /// Stops the application when the test ends.
    _stopper: Stopper,
}

/// An application with the dev profile's defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An application with `vars` added to (or overriding) the test environment, logged in with
/// the admin account they configure.
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let setup = SETUP.try_with(|setup| *setup).unwrap_or(Setup::Distributed);
    // Creating and migrating a database is blocking diesel work.
    let db = tokio::task::spawn_blocking(move || match setup {
        Setup::Distributed => AnyTestDatabase::Postgres(TestDatabase::create()),
        Setup::Embedded => AnyTestDatabase::Sqlite(TestSqliteDatabase::create()),
    })
    .await
    .expect("test database task");
    let (bus, program) = match setup {
        Setup::Distributed => (TestBus::new(), Program::Api),
        Setup::Embedded => (TestBus::in_memory(), Program::AllInOne),
    };
    let mut env = vec![
        ("MAILING_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("MAILING_DATABASE_URL".to_owned(), db.url().to_owned()),
        // Tests run in parallel, each with its own pool; leave PostgreSQL connection slots free.
        (
            "MAILING_DATABASE_MAX_CONNECTIONS".to_owned(),
            "4".to_owned(),
        ),
        ("MAILING_AMQP_URL".to_owned(), bus.url().to_owned()),
        (
            "MAILING_AMQP_NAMESPACE".to_owned(),
            bus.namespace().to_owned(),
        ),
    ];
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let configured = |key: &str, default: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map_or(default.to_owned(), |(_, v)| v.to_string())
    };
    let username = configured("MAILING_ADMIN_USERNAME", ADMIN_USERNAME);
    let password = configured("MAILING_ADMIN_PASSWORD", ADMIN_PASSWORD);
    let settings = Settings::load_from(program, env).expect("test settings are valid");
    let events = collect_events(bus.connect("events").await).await;
    let (stopper, stop) = stop::channel();
    let handles: Handles<dyn ApiStore> = Handles {
        store: db.store(),
        bus: bus.connect("api").await,
        stop,
    };
    let mut application = Application::build(&settings, handles)
        .await
        .expect("the application builds");
    application
        .wait_until_prepared()
        .await
        .expect("the database is prepared");
    let port = application.port();
    tokio::spawn(application.run_until_stopped());

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let address = format!("http://127.0.0.1:{port}");
    if configured("MAILING_PASSWORD_LOGIN", "true") == "false" {
        // Nobody can log in with a password: the test acts through API keys it makes itself.
        return TestApp {
            address,
            port,
            client,
            token: String::new(),
            login: Value::Null,
            events,
            db: Some(db),
            _bus: bus,
            _stopper: stopper,
        };
    }
    let response = client
        .post(format!("{address}/api/v1/auth/token"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("login request");
    let login = body(response, StatusCode::OK).await;
    let token = login["access_token"]
        .as_str()
        .expect("access_token is a string")
        .to_owned();
    TestApp {
        address,
        port,
        client,
        token,
        login,
        events,
        db: Some(db),
        _bus: bus,
        _stopper: stopper,
    }
}

/// The events of one mailing, in the order they are expected.
pub fn mailing_events(mailing: i64, kinds: &[&str]) -> Vec<MailingEvent> {
    let mailing_id = MailingId(mailing);
    kinds
        .iter()
        .map(|kind| match *kind {
            "created" => MailingEvent::MailingCreated { mailing_id },
            "updated" => MailingEvent::MailingUpdated { mailing_id },
            "cancelled" => MailingEvent::MailingCancelled { mailing_id },
            "deleted" => MailingEvent::MailingDeleted { mailing_id },
            "paused" => MailingEvent::MailingPaused { mailing_id },
            "resumed" => MailingEvent::MailingResumed { mailing_id },
            other => panic!("no mailing event is called {other}"),
        })
        .collect()
}

/// Records every mailing event published on `bus`, acknowledging each.
async fn collect_events(bus: Arc<dyn Bus>) -> Arc<Mutex<Vec<MailingEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut subscription = bus
        .subscribe(Topic::MailingEvents, 64)
        .await
        .expect("subscribed to mailing events");
    let recorded = events.clone();
    tokio::spawn(async move {
        while let Some(Ok(delivery)) = subscription.next().await {
            let event = events::decode::<MailingEvent>(&delivery.payload)
                .expect("the api publishes well-formed events");
            recorded.lock().expect("not poisoned").push(event);
            delivery.ack().await.expect("acknowledged");
        }
    });
    events
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.db
            .as_ref()
            .expect("the database was dropped by this test")
            .store()
    }

    /// Waits until the api has published `expected` mailing events since it started (nothing
    /// else publishes on the test's bus), and returns them in order; a test that expects no
    /// event says so with `assert_no_more_events`.
    pub async fn published_events(&self, expected: usize) -> Vec<MailingEvent> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let events = self.events.lock().expect("not poisoned").clone();
            if events.len() >= expected {
                assert_eq!(
                    events.len(),
                    expected,
                    "more events than expected: {events:?}"
                );
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {expected} mailing events, got {events:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Checks that no event beyond the first `published` came, after giving the relay time to
    /// publish anything it holds.
    pub async fn assert_no_more_events(&self, published: usize) {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let events = self.events.lock().expect("not poisoned").clone();
        assert_eq!(events.len(), published, "unexpected events: {events:?}");
    }

    /// Drops the database under the running application, to see how it copes (PostgreSQL
    /// only: a SQLite file stays readable to connections that have it open).
    pub fn drop_database(&mut self) {
        drop(self.db.take());
    }

    pub fn request_without_token(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_without_token(method, path)
            .bearer_auth(&self.token)
    }

    /// Creates an account with `role` (as the admin) and logs it in: its access token.
    pub async fn account_token(&self, username: &str, role: &str) -> String {
        let password = "a long passphrase";
        let created = self
            .post_json(
                "/api/v1/users",
                &json!({ "username": username, "role": role, "password": password }),
            )
            .await;
        body(created, StatusCode::CREATED).await;
        let login = self
            .post_json_without_token(
                "/api/v1/auth/token",
                &json!({ "username": username, "password": password }),
            )
            .await;
        body(login, StatusCode::OK).await["access_token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    /// Creates an API key with `role` (as the admin): its id and the key.
    pub async fn api_key(&self, name: &str, role: &str) -> (i64, String) {
        let created = self
            .post_json("/api/v1/api-keys", &json!({ "name": name, "role": role }))
            .await;
        let created = body(created, StatusCode::CREATED).await;
        (
            created["id"].as_i64().expect("an id"),
            created["key"].as_str().expect("a key").to_owned(),
        )
    }

    pub async fn get(&self, path: &str) -> Response {
        send(self.request(Method::GET, path)).await
    }

    pub async fn get_without_token(&self, path: &str) -> Response {
        send(self.request_without_token(Method::GET, path)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn post_json_without_token(&self, path: &str, body: &Value) -> Response {
        send(self.request_without_token(Method::POST, path).json(body)).await
    }

    /// A POST without a body, for actions such as cancelling a mailing.
    pub async fn post(&self, path: &str) -> Response {
        send(self.request(Method::POST, path)).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        send(self.request(Method::DELETE, path)).await
    }

    /// Sends `body` as it is, with `content_type` if given.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let mut request = self.request(method, path).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        send(request).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json_without_token(
            "/api/v1/auth/token",
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    pub async fn create_operator(&self, code: &str) -> Value {
        let response = self
            .post_json(
                "/api/v1/operators",
                &json!({ "code": code, "name": format!("Operator {code}") }),
            )
            .await;
        body(response, StatusCode::CREATED).await
    }

    pub async fn create_tag(&self, value: &str) -> Value {
        let response = self
            .post_json("/api/v1/tags", &json!({ "value": value }))
            .await;
        body(response, StatusCode::CREATED).await
    }

    pub async fn create_client(&self, phone: &str, operator: &str, tags: &[&str]) -> Value {
        let response = self
            .post_json(
                "/api/v1/clients",
                &json!({ "phone_number": phone, "operator_code": operator, "tags": tags }),
            )
            .await;
        body(response, StatusCode::CREATED).await
    }

    pub async fn create_client_filter(&self, body_json: &Value) -> Value {
        self.ensure_named(body_json).await;
        let response = self.post_json("/api/v1/client-filters", body_json).await;
        body(response, StatusCode::CREATED).await
    }

    pub async fn create_mailing(&self, body_json: &Value) -> Value {
        self.ensure_named(&body_json["filter"]).await;
        let response = self.post_json("/api/v1/mailings", body_json).await;
        body(response, StatusCode::CREATED).await
    }

    /// Creates the operators and tags `filter` names that do not exist yet, since a filter
    /// may only name existing ones.
    pub async fn ensure_named(&self, filter: &Value) {
        let names = |list: &str| -> Vec<String> {
            filter[list]
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        for code in names("operator_codes") {
            let response = self
                .post_json(
                    "/api/v1/operators",
                    &json!({ "code": code, "name": format!("Operator {code}") }),
                )
                .await;
            assert!(
                [StatusCode::CREATED, StatusCode::CONFLICT].contains(&response.status()),
                "creating operator {code}: {}",
                response.status()
            );
        }
        for value in names("tags") {
            let response = self
                .post_json("/api/v1/tags", &json!({ "value": value }))
                .await;
            assert!(
                [StatusCode::CREATED, StatusCode::CONFLICT].contains(&response.status()),
                "creating tag {value}: {}",
                response.status()
            );
        }
    }

    /// A mailing that starts tomorrow.
    pub async fn scheduled_mailing(&self) -> Value {
        self.create_mailing(&scheduled_mailing_body()).await
    }

    /// A mailing that started an hour ago and ends tomorrow.
    pub async fn running_mailing(&self) -> Value {
        self.create_mailing(&running_mailing_body()).await
    }

    /// How many records of each kind storage holds, read behind the API's back.
    pub async fn counts(&self) -> Counts {
        let store = self.store();
        tokio::task::spawn_blocking(move || {
            let one = PageRequest {
                offset: 0,
                limit: 1,
            };
            Counts {
                operators: store.list_operators(one).expect("operators").total,
                tags: store.list_tags(one).expect("tags").total,
                clients: store
                    .list_clients(&ClientQuery::default(), one)
                    .expect("clients")
                    .total,
                client_filters: store.list_client_filters(one).expect("filters").total,
                mailings: store.list_mailings(one).expect("mailings").total,
                messages: store
                    .list_messages(&MessageQuery::default(), one)
                    .expect("messages")
                    .total,
            }
        })
        .await
        .expect("count task")
    }

    /// Stores messages directly, standing in for the scheduler and the sender.
    pub async fn insert_messages(&self, new: Vec<NewMessage>) -> u64 {
        let store = self.store();
        tokio::task::spawn_blocking(move || store.insert_messages(&new))
            .await
            .expect("insert task")
            .expect("messages inserted")
    }

    /// One message of `mailing` to each client, in the matching status; sent ones get a
    /// `sent_at` and expired ones a reason, as the database requires.
    pub async fn insert_messages_in(&self, mailing: i64, plan: &[(i64, MessageStatus)]) -> u64 {
        let new = plan
            .iter()
            .map(|&(client, status)| message(mailing, client, status))
            .collect();
        self.insert_messages(new).await
    }
}

pub async fn send(request: RequestBuilder) -> Response {
    request
        .send()
        .await
        .expect("the server answers instead of dropping the connection")
}

/// Record counts by kind, to show that a refused request stored nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub operators: u64,
    pub tags: u64,
    pub clients: u64,
    pub client_filters: u64,
    pub mailings: u64,
    pub messages: u64,
}

pub fn message(mailing: i64, client: i64, status: MessageStatus) -> NewMessage {
    NewMessage {
        mailing_id: MailingId(mailing),
        client_id: ClientId(client),
        status,
        attempts: u32::from(status != MessageStatus::Scheduled),
        next_attempt_at: None,
        sent_at: (status == MessageStatus::Sent).then(Utc::now),
        last_error: (status == MessageStatus::Expired)
            .then(|| "the mailing ended before its turn came".to_owned()),
    }
}

/// `now + offset` as RFC 3339 in whole seconds, so it round-trips through the database exactly.
pub fn at(offset: Duration) -> String {
    rfc3339(Utc::now() + offset)
}

pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn scheduled_mailing_body() -> Value {
    json!({
        "text": "Spring sale: -20% on everything",
        "start_at": at(Duration::days(1)),
        "end_at": at(Duration::days(2)),
        "filter": {},
    })
}

pub fn running_mailing_body() -> Value {
    json!({
        "text": "Happening now",
        "start_at": at(-Duration::hours(1)),
        "end_at": at(Duration::days(1)),
        "filter": { "operator_codes": ["bln"], "tags": ["vip"] },
    })
}

/// `base` with `changes` merged into its top level (`null` removes a field).
pub fn with(base: &Value, changes: Value) -> Value {
    let mut merged = base.clone();
    let object = merged.as_object_mut().expect("an object body");
    for (key, value) in changes.as_object().expect("an object of changes") {
        if value.is_null() {
            object.remove(key);
        } else {
            object.insert(key.clone(), value.clone());
        }
    }
    merged
}

/// The JSON body of a response with `expected` status.
pub async fn body(response: Response, expected: StatusCode) -> Value {
    let status = response.status();
    let text = response.text().await.expect("a readable body");
    assert_eq!(status, expected, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Asserts an error response: `status`, a JSON content type, the documented shape and `code`.
/// Returns the body.
pub async fn error(response: Response, status: StatusCode, code: &str) -> Value {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = body(response, status).await;
    assert!(
        content_type.starts_with("application/json"),
        "error content type is {content_type:?}: {body}"
    );
    assert_error_shape(&body);
    assert_eq!(body["code"], code, "error code; body: {body}");
    body
}

/// Asserts a 422 `validation_failed` whose details name exactly `expected` (field, rule)
/// pairs, in any order.
pub async fn validation(response: Response, expected: &[(&str, &str)]) -> Value {
    let body = error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_details(&body, expected);
    body
}

/// Asserts a 400 `invalid_query` naming exactly `expected` (parameter, rule) pairs.
pub async fn invalid_query(response: Response, expected: &[(&str, &str)]) -> Value {
    let body = error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_details(&body, expected);
    body
}

/// Asserts that `body`'s details are exactly the `expected` (field, code) pairs.
pub fn assert_details(body: &Value, expected: &[(&str, &str)]) {
    let mut actual: Vec<(String, String)> = body["details"]
        .as_array()
        .expect("details is an array")
        .iter()
        .map(|detail| {
            (
                detail["field"].as_str().unwrap_or_default().to_owned(),
                detail["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(field, code)| (field.to_string(), code.to_string()))
        .collect();
    actual.sort();
    expected.sort();
    assert_eq!(actual, expected, "details of {body}");
}

/// `{"code", "message", "details": [{"field", "code", "message"}]}` and nothing else.
pub fn assert_error_shape(body: &Value) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "details", "message"], "error keys of {body}");
    assert!(
        body["code"].as_str().is_some_and(|code| !code.is_empty()),
        "code of {body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {body}"
    );
    for detail in body["details"].as_array().expect("details is an array") {
        let detail = detail.as_object().expect("a detail is an object");
        let mut keys: Vec<&str> = detail.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "field", "message"], "detail keys of {body}");
        assert!(
            detail.values().all(Value::is_string),
            "detail values of {body}"
        );
    }
}

/// The ids of a list page's items, in order.
pub fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items is an array")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

pub fn id(record: &Value) -> i64 {
    record["id"].as_i64().expect("a numeric id")
}

/// An HS256 token with the claims the API issues, signed with `secret`.
pub fn sign_token(secret: &str, sub: &str, iat: i64, exp: i64) -> String {
    sign_claims(
        secret,
        &json!({ "sub": sub, "iss": ISSUER, "iat": iat, "exp": exp, "jti": "0123456789abcdef" }),
    )
}

pub fn sign_claims(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token signs")
}

pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Sends all `requests` at once, each on its own connection, and returns the statuses and
/// bodies in request order.
pub async fn concurrently(
    app: &TestApp,
    requests: Vec<(Method, String, Value)>,
) -> Vec<(StatusCode, Value)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (method, path, json_body)) in requests.into_iter().enumerate() {
        let request = app.request(method, &path).json(&json_body);
        tasks.spawn(async move {
            let response = send(request).await;
            let status = response.status();
            let text = response.text().await.expect("a readable body");
            let parsed = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (index, status, parsed)
        });
    }
    let mut results = tasks.join_all().await;
    results.sort_by_key(|(index, _, _)| *index);
    results
        .into_iter()
        .map(|(_, status, parsed)| (status, parsed))
        .collect()
}

/// Stores a mailing that ended yesterday; the API refuses to create one.
pub async fn finished_mailing(app: &TestApp) -> i64 {
    let store = app.store();
    let now = Utc::now();
    let draft = MailingDraft {
        text: MailingText::parse("Last week's news").unwrap(),
        schedule: MailingSchedule::new(
            now - Duration::days(2),
            now - Duration::days(1),
            false,
            None,
        )
        .unwrap(),
        filter: FilterSource::Inline(ClientFilter::default()),
        frequency_cap: None,
        auto_pause: Default::default(),
    };
    tokio::task::spawn_blocking(move || store.create_mailing(&draft))
        .await
        .unwrap()
        .unwrap()
        .id
        .0
}
