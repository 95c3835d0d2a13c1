//! A write retried with its `Idempotency-Key` runs once, whichever api replica each try reaches
//! and however many arrive at once: every try gets the one answer, and one record exists.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

const NAME: &str = "idempotency";
/// Writes, each with a key of its own.
const ROUNDS: usize = 6;
/// Tries of each write sent at once, spread over the api replicas.
const TRIES: usize = 8;

/// What one try was answered, in the end.
#[derive(Debug)]
struct Answered {
    status: StatusCode,
    body: String,
    replayed: bool,
    /// How often it was told the first try was still running, and waited.
    in_flight: u32,
}

/// Sends the write as a client that retries would: while the api says the first try with the
/// key is still running, it waits a moment and sends it again.
async fn send_until_answered(
    http: reqwest::Client,
    url: String,
    token: String,
    key: String,
    body: String,
) -> Answered {
    let mut in_flight = 0;
    loop {
        let response = http
            .post(&url)
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status();
        let replayed = response
            .headers()
            .get("Idempotent-Replayed")
            .is_some_and(|value| value == "true");
        let text = response.text().await.expect("a readable body");
        let waiting = status == StatusCode::CONFLICT
            && serde_json::from_str::<Value>(&text)
                .is_ok_and(|error| error["code"] == "idempotency_key_in_flight");
        if !waiting {
            return Answered {
                status,
                body: text,
                replayed,
                in_flight,
            };
        }
        in_flight += 1;
        assert!(
            in_flight < 500,
            "POST {url}: still in flight after {in_flight} tries"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_write_sent_to_every_replica_at_once_runs_once(setup: Setup) {
    let mut options = ClusterOptions::new(NAME, setup);
    if setup == Setup::Distributed {
        options = options.replicas(Service::Api, 2);
    }
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        let replicas: Vec<String> = (0..cluster.replicas(Service::Api))
            .map(|replica| {
                let port = cluster.replica_port(Service::Api, replica);
                format!("http://127.0.0.1:{port}/api/v1/mailings")
            })
            .collect();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let token = cluster.api().token().to_owned();
        let start = Utc::now() + Span::hours(1);
        let mut waited = 0;
        for round in 0..ROUNDS {
            let key = format!("mailing-{round}-{:016x}", rand::random::<u64>());
            let body = mailing_to_all(&format!("Round {round}"), start, start + Span::hours(1))
                .to_string();
            let mut tries = tokio::task::JoinSet::new();
            for attempt in 0..TRIES {
                tries.spawn(send_until_answered(
                    http.clone(),
                    replicas[attempt % replicas.len()].clone(),
                    token.clone(),
                    key.clone(),
                    body.clone(),
                ));
            }
            let answers = tries.join_all().await;
            waited += answers.iter().map(|a| a.in_flight).sum::<u32>();
            let first = &answers[0];
            assert_eq!(
                first.status,
                StatusCode::CREATED,
                "round {round}: {first:?}"
            );
            for answer in &answers {
                assert_eq!(
                    (answer.status, &answer.body),
                    (first.status, &first.body),
                    "round {round}: every try gets the one answer"
                );
            }
            let ran = answers.iter().filter(|a| !a.replayed).count();
            assert_eq!(ran, 1, "round {round}: exactly one try runs: {answers:?}");
        }
        eprintln!("{NAME}: tries told to wait for a running one: {waited}");

        let page = cluster.api().get("/api/v1/mailings?page_size=100").await;
        assert_eq!(page["total"], ROUNDS, "one mailing per write: {page}");
        let mut texts: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|mailing| mailing["text"].as_str().expect("a text"))
            .collect();
        texts.sort_unstable();
        let expected: Vec<String> = (0..ROUNDS).map(|round| format!("Round {round}")).collect();
        assert_eq!(texts, expected);
    })
    .await;
}

scenario!(a_write_sent_to_every_replica_at_once_runs_once);
