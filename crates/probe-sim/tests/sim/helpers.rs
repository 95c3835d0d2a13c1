//! A simulator started on a random port, with typed helpers to call it.

use probe_sim::{SimSettings, Simulator};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

pub const SECRET: &str = "probe-sim-test-secret";
pub const PHONE: u64 = 79_854_456_670;
pub const TEXT: &str = "Hello from the tests";

pub struct TestSim {
    pub address: String,
    pub client: reqwest::Client,
    /// A valid token for `SECRET`.
    pub token: String,
}

/// A simulator with the test defaults: no faults, seed 0, tokens signed with `SECRET`.
pub async fn spawn_sim() -> TestSim {
    spawn_sim_with(|_| {}).await
}

/// A simulator with the test defaults changed by `change`.
pub async fn spawn_sim_with(change: impl FnOnce(&mut SimSettings)) -> TestSim {
    let mut settings = SimSettings::for_tests(SECRET);
    change(&mut settings);
    let simulator = Simulator::build(settings).expect("the simulator builds");
    let address = format!("http://127.0.0.1:{}", simulator.port());
    tokio::spawn(simulator.run_until_stopped());
    TestSim {
        address,
        // Bounds every call, so a test that meets a hang by mistake fails instead of waiting.
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client"),
        token: token(SECRET, 3600),
    }
}

pub fn token(secret: &str, ttl_seconds: i64) -> String {
    probe_sim::token::mint(
        secret.as_bytes(),
        "tests",
        chrono::Utc::now().timestamp(),
        ttl_seconds,
    )
    .expect("token")
}

pub fn msg(id: i64) -> Value {
    json!({ "id": id, "phone": PHONE, "text": TEXT })
}

impl TestSim {
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.address))
    }

    /// A well-formed send of message `id` with the valid token.
    pub fn send_request(&self, id: i64) -> RequestBuilder {
        self.post(&format!("/v1/send/{id}"))
            .bearer_auth(&self.token)
            .json(&msg(id))
    }

    pub async fn send(&self, id: i64) -> Response {
        self.send_request(id).send().await.expect("send request")
    }

    pub async fn get_json(&self, path: &str, status: StatusCode) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("admin request");
        body(response, status).await
    }

    pub async fn stats(&self) -> Value {
        self.get_json("/_sim/stats", StatusCode::OK).await
    }

    /// `GET /_sim/stats`' count of one outcome.
    pub async fn outcome_count(&self, outcome: &str) -> u64 {
        self.stats().await["by_outcome"][outcome]
            .as_u64()
            .expect("a count")
    }

    pub async fn put_config(&self, patch: Value) -> Response {
        self.client
            .put(format!("{}/_sim/config", self.address))
            .json(&patch)
            .send()
            .await
            .expect("config request")
    }

    /// Applies a valid settings change and returns the settings in force.
    pub async fn configure(&self, patch: Value) -> Value {
        body(self.put_config(patch).await, StatusCode::OK).await
    }

    pub async fn outage(&self, request: Value) -> Value {
        let response = self
            .post("/_sim/outage")
            .json(&request)
            .send()
            .await
            .expect("outage request");
        body(response, StatusCode::OK).await
    }
}

/// The JSON body of `response`, after checking its status.
pub async fn body(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("response body");
    assert_eq!(actual, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
}
