//! Waiting for the system to reach a state, always with a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often conditions are checked again.
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Ok`, and returns that value. `Err` carries what was seen,
/// so a timeout can say how far the system got.
///
/// # Panics
/// When `timeout` passes first, naming `what` and the last state seen.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if started.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs the scenario `name` (its [`crate::ClusterOptions::name`], which names its log directory)
/// under a time bound, so a hung system fails the test instead of hanging the suite. The cluster
/// is dropped (and its processes killed) before the panic.
///
/// # Panics
/// When the scenario takes longer than `limit`.
pub async fn bounded<T>(name: &str, limit: Duration, scenario: impl Future<Output = T>) -> T {
    let _timer = Timer {
        name,
        started: Instant::now(),
    };
    match tokio::time::timeout(limit, scenario).await {
        Ok(value) => value,
        Err(_) => panic!(
            "scenario {name} did not finish within its {limit:?} bound; service logs are in {}",
            crate::cluster::log_dir(name).display()
        ),
    }
}

/// Reports how long a scenario ran, failed or not.
struct Timer<'a> {
    name: &'a str,
    started: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        println!(
            "scenario {} {} after {:.1} s",
            self.name,
            if std::thread::panicking() {
                "failed"
            } else {
                "passed"
            },
            self.started.elapsed().as_secs_f64()
        );
    }
}
