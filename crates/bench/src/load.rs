//! An HTTP load client: `connections` requests in flight for a fixed time, each connection
//! sending its next request when the previous answer has been read, with the latency of every
//! request recorded.

use crate::stats::{percentile, sorted};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How long and how hard to load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: u32,
    /// Requests started in this time after the start are not counted: connections open and
    /// caches fill.
    pub warmup: Duration,
    /// The counted time, after the warm-up.
    pub duration: Duration,
}

/// What one load measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub connections: u32,
    pub seconds: f64,
    /// Counted requests answered with a 2xx status.
    pub ok: u64,
    /// Counted requests that failed or were answered otherwise.
    pub errors: u64,
    /// What the first error was, to tell a slow endpoint from a broken one.
    pub first_error: Option<String>,
    /// Successful requests per second.
    pub requests_per_second: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// One finished request: when it started, how long it took, and its error if it failed.
struct Sample {
    started: Instant,
    millis: f64,
    error: Option<String>,
}

/// Runs the load: `request(n)` builds the `n`th request (n counts from 0 over all
/// connections). Every response body is read in full and thrown away.
pub async fn run<F>(client: &reqwest::Client, load: Load, request: F) -> LoadResult
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let counted_from = start + load.warmup;
    let end = counted_from + load.duration;
    let mut connections = JoinSet::new();
    for _ in 0..load.connections {
        let client = client.clone();
        let request = Arc::clone(&request);
        let counter = Arc::clone(&counter);
        connections.spawn(async move {
            let mut samples = Vec::new();
            loop {
                let started = Instant::now();
                if started >= end {
                    return samples;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let error = match request(&client, n).send().await {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(_) if status.is_success() => None,
                            Ok(body) => Some(format!(
                                "{status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(200)])
                            )),
                            Err(error) => Some(format!("reading the body: {error}")),
                        }
                    }
                    Err(error) => Some(error.to_string()),
                };
                if started >= counted_from {
                    samples.push(Sample {
                        started,
                        millis: started.elapsed().as_secs_f64() * 1000.0,
                        error,
                    });
                }
            }
        });
    }
    let mut samples = Vec::new();
    while let Some(finished) = connections.join_next().await {
        samples.extend(finished.expect("a load connection panicked"));
    }
    summarise(load, samples)
}

fn summarise(load: Load, samples: Vec<Sample>) -> LoadResult {
    let seconds = load.duration.as_secs_f64();
    let mut first_error: Option<(Instant, String)> = None;
    let mut latencies = Vec::with_capacity(samples.len());
    let mut errors = 0;
    for sample in samples {
        match sample.error {
            None => latencies.push(sample.millis),
            Some(error) => {
                errors += 1;
                if first_error
                    .as_ref()
                    .is_none_or(|(at, _)| sample.started < *at)
                {
                    first_error = Some((sample.started, error));
                }
            }
        }
    }
    let latencies = sorted(&latencies);
    LoadResult {
        connections: load.connections,
        seconds,
        ok: latencies.len() as u64,
        errors,
        first_error: first_error.map(|(_, error)| error),
        requests_per_second: latencies.len() as f64 / seconds,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().copied(),
    }
}
