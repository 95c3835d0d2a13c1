//! Measures how many sends per second a running simulator answers.
//!
//! `cargo run --release -p probe-sim --example load -- [URL] [REQUESTS] [CONCURRENCY]`
//! (defaults: http://127.0.0.1:8090, 100000, 64). Signs its token with `PROBE_SIM_JWT_SECRET`
//! or the development secret, so start the simulator with the same one. The load generator
//! shares the machine with the simulator, so the figure is a lower bound of the simulator's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8090".to_owned());
    let requests: i64 = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let concurrency: usize = args.next().map_or(Ok(64), |n| n.parse())?;
    let secret = std::env::var("PROBE_SIM_JWT_SECRET")
        .unwrap_or_else(|_| probe_sim::DEV_JWT_SECRET.to_owned());
    let token = probe_sim::token::mint(
        secret.as_bytes(),
        "load",
        chrono::Utc::now().timestamp(),
        3600,
    )?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let next = Arc::new(AtomicI64::new(1));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, next, url, token) = (client.clone(), next.clone(), url.clone(), token.clone());
        workers.spawn(async move {
            let mut failures = 0u64;
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id > requests {
                    return failures;
                }
                let response = client
                    .post(format!("{url}/v1/send/{id}"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "id": id, "phone": 79_000_000_000_u64 + id as u64, "text": "load test" }))
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => {
                        // Read the body so the connection goes back to the pool.
                        let _ = response.bytes().await;
                    }
                    _ => failures += 1,
                }
            }
        });
    }
    let mut failures = 0;
    while let Some(result) = workers.join_next().await {
        failures += result?;
    }
    let elapsed = started.elapsed();
    println!(
        "{requests} requests, concurrency {concurrency}: {:.2} s, {:.0} requests/s, {failures} not 2xx",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
