//! The probe simulator's admin API (`/_sim/`): what it received, and the faults it injects.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::task::JoinSet;

#[derive(Clone)]
pub struct SimClient {
    http: reqwest::Client,
    base: String,
}

/// `GET /_sim/stats`.
#[derive(Debug, Clone, Deserialize)]
pub struct SimStats {
    /// 200 OK answers, repeats included.
    pub received_ok_total: u64,
    pub unique_ids: u64,
    /// Ids answered OK more than once.
    pub duplicates: u64,
    /// Requests to the send endpoint, counted as they arrive: answered or in flight.
    pub requests_total: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
    pub by_outcome: BTreeMap<String, u64>,
    /// Replies the simulator posted that their target answered 2xx.
    pub replies_sent: u64,
    /// Replies refused or not answered.
    pub replies_failed: u64,
}

impl SimStats {
    pub fn outcome(&self, name: &str) -> u64 {
        self.by_outcome.get(name).copied().unwrap_or(0)
    }
}

/// `GET /_sim/received/{id}`: one message id's deliveries.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivered {
    pub id: i64,
    pub count: u32,
    pub phone: u64,
    pub text: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct ReceivedPage {
    items: Vec<ReceivedItem>,
    next_after: Option<i64>,
}

#[derive(Deserialize)]
struct ReceivedItem {
    id: i64,
    count: u32,
}

impl SimClient {
    pub fn new(http: reqwest::Client, base: String) -> Self {
        Self { http, base }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> reqwest::Response {
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("probe-sim {what}: {e}"))
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self
            .send(self.http.get(format!("{}{path}", self.base)), path)
            .await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "probe-sim GET {path}: {status}: {text}"
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("probe-sim GET {path}: unexpected body ({e}): {text}"))
    }

    pub async fn stats(&self) -> SimStats {
        self.json("/_sim/stats").await
    }

    /// How many requests (any answer) arrived in each millisecond, by the simulator's clock:
    /// (milliseconds since the epoch, requests), ascending.
    pub async fn arrivals(&self) -> Vec<(i64, u32)> {
        #[derive(Deserialize)]
        struct Arrivals {
            per_millisecond: Vec<(i64, u32)>,
        }
        self.json::<Arrivals>("/_sim/arrivals")
            .await
            .per_millisecond
    }

    /// Every id answered OK with its count, ascending.
    pub async fn received(&self) -> BTreeMap<i64, u32> {
        let mut all = BTreeMap::new();
        let mut after: Option<i64> = None;
        loop {
            let path = match after {
                Some(after) => format!("/_sim/received?limit=100000&after={after}"),
                None => "/_sim/received?limit=100000".to_owned(),
            };
            let page: ReceivedPage = self.json(&path).await;
            all.extend(page.items.into_iter().map(|item| (item.id, item.count)));
            match page.next_after {
                Some(next) => after = Some(next),
                None => return all,
            }
        }
    }

    /// One id's deliveries, or `None` if it was never answered OK.
    pub async fn delivered(&self, id: i64) -> Option<Delivered> {
        let path = format!("/_sim/received/{id}");
        let response = self
            .send(self.http.get(format!("{}{path}", self.base)), &path)
            .await;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "probe-sim GET {path}: {status}: {text}"
        );
        Some(
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("probe-sim GET {path}: unexpected body ({e}): {text}")),
        )
    }

    /// The deliveries of many ids, a few requests at a time; ids never delivered are absent.
    pub async fn delivered_many(&self, ids: impl IntoIterator<Item = i64>) -> Vec<Delivered> {
        const PARALLEL: usize = 16;
        let mut pending = ids.into_iter();
        let mut running = JoinSet::new();
        let mut found = Vec::new();
        loop {
            while running.len() < PARALLEL {
                let Some(id) = pending.next() else { break };
                let sim = self.clone();
                running.spawn(async move { sim.delivered(id).await });
            }
            match running.join_next().await {
                Some(result) => found.extend(result.expect("sim lookup task")),
                None => break,
            }
        }
        found.sort_by_key(|d| d.id);
        found
    }

    /// `PUT /_sim/config` with any subset of the settings.
    pub async fn configure(&self, settings: &Value) -> Value {
        self.post_or_put(reqwest::Method::PUT, "/_sim/config", settings)
            .await
    }

    /// Be down for `seconds` from now.
    pub async fn outage(&self, seconds: f64) -> Value {
        self.post_or_put(
            reqwest::Method::POST,
            "/_sim/outage",
            &json!({ "seconds": seconds }),
        )
        .await
    }

    /// `DELETE /_sim/received`: forgets the deliveries and arrivals and zeroes the counters.
    pub async fn forget(&self) {
        let path = "/_sim/received";
        let response = self
            .send(self.http.delete(format!("{}{path}", self.base)), path)
            .await;
        let status = response.status();
        assert!(
            status.is_success(),
            "probe-sim DELETE {path}: {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    async fn post_or_put(&self, method: reqwest::Method, path: &str, body: &Value) -> Value {
        let request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .json(body);
        let response = self.send(request, path).await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "probe-sim {method} {path} {body}: {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}
