//! An integrator reading through the api all run long, as dashboards do, so that the api is
//! under use whenever a fault strikes; each answer is tallied by kind.

use crate::verdict::ApiTally;
use mailing_e2e::ApiClient;
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the integrator asks.
const PACE: Duration = Duration::from_millis(100);
/// Wrong answers printed as they come, for the log of a failing run.
const REPORTED: u64 = 5;

pub struct Integrator {
    mailings: Arc<Mutex<Vec<i64>>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<ApiTally>,
}

impl Integrator {
    pub fn start(api: ApiClient) -> Integrator {
        let mailings = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(read_until_stopped(api, mailings.clone(), stopped));
        Integrator {
            mailings,
            stop,
            task,
        }
    }

    /// Adds a mailing to the ones whose statistics and messages are read.
    pub fn watch(&self, mailing_id: i64) {
        self.mailings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(mailing_id);
    }

    pub async fn finish(self) -> ApiTally {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

async fn read_until_stopped(
    api: ApiClient,
    mailings: Arc<Mutex<Vec<i64>>>,
    mut stopped: watch::Receiver<bool>,
) -> ApiTally {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        // Services close idle connections after 5 s; never reuse one that may be closing.
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("an http client");
    let mut tally = ApiTally::default();
    let mut turn = 0_usize;
    while !*stopped.borrow() {
        let watched = mailings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if !watched.is_empty() {
            let id = watched[turn % watched.len()];
            let path = match turn % 3 {
                0 => format!("/api/v1/mailings/{id}/stats?page_size=5"),
                1 => format!("/api/v1/messages?mailing_id={id}&status=retrying&page_size=5"),
                _ => "/api/v1/mailings/stats".to_owned(),
            };
            turn += 1;
            let answer = http
                .get(format!("{}{path}", api.base_url()))
                .bearer_auth(api.token())
                .send()
                .await;
            match answer {
                Ok(response) if response.status().is_success() => tally.ok += 1,
                Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    tally.unavailable += 1
                }
                Ok(response) => {
                    tally.wrong += 1;
                    if tally.wrong <= REPORTED {
                        let status = response.status();
                        let body = response.text().await.unwrap_or_default();
                        eprintln!("faults: GET {path} answered {status}: {body}");
                    }
                }
                Err(_) => tally.unreachable += 1,
            }
        }
        tokio::select! {
            _ = stopped.changed() => {}
            () = tokio::time::sleep(PACE) => {}
        }
    }
    tally
}
