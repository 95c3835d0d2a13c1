//! Prometheus metrics: one recorder per process, gauges that are read from the database or the
//! broker sampled right before each scrape, and the `/metrics` endpoint that renders them.
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade; the
//! names and their meaning are listed in `docs/metrics.md`. Every series whose labels are known
//! in advance is registered at 0 when its service starts: an alert on `increase(...) > 0` can
//! only fire on the first event if the series existed before it.
//!
//! Beside them every process reports the standard `process_*` metrics, `mailing_build_info`,
//! and, for each sampler, when it last read its source, so a gauge that stopped being updated
//! shows.

mod dependencies;
mod process;

pub use dependencies::watch_dependencies;

use actix_web::HttpResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// Bucket bounds of every `*_seconds` histogram: 1 ms to 5 min covers a probe request as well
/// as the expansion of a million-client mailing.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// How long samplers may take together before the scrape renders what it has: a database that
/// hangs must not make Prometheus time out on the counters that are already there.
const SAMPLE_BUDGET: Duration = Duration::from_secs(2);

/// How often histogram samples are folded into their buckets when nobody scrapes, so memory
/// stays flat in a process that is never scraped.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The counter of message status changes, which the scheduler and the sender both add to.
const TRANSITIONS: &str = "mailing_message_transitions_total";

/// When each sampler last read its source, by `sampler`.
const SAMPLE_LAST_SUCCESS: &str = "mailing_sample_last_success_timestamp_seconds";
/// Readings of a sampler's source that failed, by `sampler`.
const SAMPLE_FAILURES: &str = "mailing_sample_failures_total";
const BUILD_INFO: &str = "mailing_build_info";

/// The commit the binary was built from, as `build.rs` found it.
pub const BUILD_COMMIT: &str = env!("MAILING_BUILD_COMMIT");
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Counts `count` messages moving from `from` to `to`: each a status, or `new` for a message
/// being created, or `waiting` for scheduled-or-retrying (set-based updates do not tell the
/// two apart).
pub fn message_transitions(from: &'static str, to: &'static str, count: u64) {
    if count > 0 {
        metrics::counter!(TRANSITIONS, "from" => from, "to" => to).increment(count);
    }
}

/// Registers the transitions a service counts at 0, so each series exists before its first
/// message moves.
pub fn declare_transitions(pairs: &[(&'static str, &'static str)]) {
    install();
    for &(from, to) in pairs {
        metrics::counter!(TRANSITIONS, "from" => from, "to" => to).increment(0);
    }
}

/// Records how long something took into the `*_seconds` histogram `name`.
pub fn record_duration(name: &'static str, took: Duration) {
    metrics::histogram!(name).record(took.as_secs_f64());
}

/// Installs the process's recorder on first use and returns the handle that renders it.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if something else installed a recorder first; the handle still renders
        // (empty), which is the honest answer then.
        let _ = metrics::set_global_recorder(recorder);
        metrics::describe_counter!(
            TRANSITIONS,
            "Messages that changed status, by from and to (from: a status, new, or waiting = scheduled or retrying)"
        );
        metrics::describe_gauge!(
            SAMPLE_LAST_SUCCESS,
            metrics::Unit::Seconds,
            "When the sampler last read its source, in seconds since the epoch; 0 if it never did. A gauge whose sampler stops succeeding keeps its old value"
        );
        metrics::describe_counter!(
            SAMPLE_FAILURES,
            "Times a sampler could not read its source (its gauges kept their previous values)"
        );
        metrics::describe_gauge!(
            BUILD_INFO,
            "Always 1; the labels name the version and the commit the binary was built from"
        );
        metrics::gauge!(BUILD_INFO, "version" => BUILD_VERSION, "commit" => BUILD_COMMIT).set(1.0);
        metrics::describe_gauge!(
            dependencies::DATABASE_UP,
            "1 if the database answered a ping at the last scrape, else 0"
        );
        metrics::describe_gauge!(
            dependencies::BROKER_UP,
            "1 if the service was connected to the broker at the last scrape, else 0"
        );
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// Sets gauges from a source that is cheaper to ask when someone looks than to track all the
/// time (counts in the database, queue depths in the broker).
pub trait Sampler: Send + Sync + 'static {
    /// The `sampler` labels this sampler reports with [`sample_succeeded`] and
    /// [`sample_failed`], one per source it reads; registered at 0 with the sampler.
    fn names(&self) -> &'static [&'static str];

    fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Records that `sampler` read its source and set its gauges now.
pub fn sample_succeeded(sampler: &'static str) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    metrics::gauge!(SAMPLE_LAST_SUCCESS, "sampler" => sampler).set(now.as_secs_f64());
}

/// Records that `sampler` could not read its source: its gauges keep their previous values and
/// its last-success timestamp stops advancing.
pub fn sample_failed(sampler: &'static str) {
    metrics::counter!(SAMPLE_FAILURES, "sampler" => sampler).increment(1);
}

type Registered = Vec<(u64, Arc<dyn Sampler>)>;

fn samplers() -> &'static Mutex<Registered> {
    static SAMPLERS: OnceLock<Mutex<Registered>> = OnceLock::new();
    SAMPLERS.get_or_init(Mutex::default)
}

/// Keeps a sampler registered; dropping it unregisters the sampler, so a stopped service
/// (several run in one process in the all-in-one binary and in tests) stops being asked.
#[must_use = "the sampler is unregistered when this is dropped"]
pub struct SamplerRegistration(u64);

impl Drop for SamplerRegistration {
    fn drop(&mut self) {
        samplers()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.0);
    }
}

/// Asks `sampler` before every scrape of this process's `/metrics`, whichever service serves it.
pub fn register_sampler(sampler: Arc<dyn Sampler>) -> SamplerRegistration {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Series registered before the recorder is installed would go nowhere.
    install();
    for &name in sampler.names() {
        // `increment(0.0)`, not `set(0.0)`: another instance of the same service in this
        // process may have sampled already, and its timestamp stays.
        metrics::gauge!(SAMPLE_LAST_SUCCESS, "sampler" => name).increment(0.0);
        metrics::counter!(SAMPLE_FAILURES, "sampler" => name).increment(0);
    }
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    samplers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, sampler));
    SamplerRegistration(id)
}

/// Runs the samplers, then renders every metric of the process in Prometheus text format.
pub async fn render() -> String {
    let handle = install();
    // Side by side, so a source that hangs does not keep the others from being read.
    let mut sampling = tokio::task::JoinSet::new();
    for (_, sampler) in samplers().lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let sampler = sampler.clone();
        sampling.spawn(async move { sampler.sample().await });
    }
    let all_done = async { while sampling.join_next().await.is_some() {} };
    if tokio::time::timeout(SAMPLE_BUDGET, all_done).await.is_err() {
        tracing::warn!("metric sampling ran out of time; some gauges keep older values");
    }
    // Dropping the set aborts the samplers still waiting; their timestamps do not advance.
    drop(sampling);
    let mut text = handle.render();
    text.push_str(&process::render());
    text
}

/// The `/metrics` handler.
pub async fn endpoint() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render().await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    /// Every render runs every registered sampler of the process: tests that count calls take
    /// turns.
    pub(super) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    struct Counting(Arc<AtomicUsize>);

    impl Sampler for Counting {
        fn names(&self) -> &'static [&'static str] {
            &["runtime_test"]
        }

        fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            let calls = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                metrics::gauge!("runtime_test_sampled").set(calls as f64);
                sample_succeeded("runtime_test");
            })
        }
    }

    #[tokio::test]
    async fn renders_recorded_metrics_and_samples_only_while_registered() {
        let _turn = SERIAL.lock().await;
        install();
        metrics::counter!("runtime_test_events_total", "kind" => "a").increment(3);
        metrics::histogram!("runtime_test_wait_seconds").record(0.003);
        let calls = Arc::new(AtomicUsize::new(0));
        let registration = register_sampler(Arc::new(Counting(calls.clone())));

        let text = render().await;
        assert!(
            text.contains("runtime_test_events_total{kind=\"a\"} 3"),
            "{text}"
        );
        assert!(text.contains("runtime_test_sampled 1"), "{text}");
        assert!(
            text.contains("runtime_test_wait_seconds_bucket{le=\"0.005\"} 1"),
            "latency histograms use the shared buckets: {text}"
        );
        assert!(text.contains("runtime_test_wait_seconds_bucket{le=\"0.0025\"} 0"));

        drop(registration);
        render().await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "an unregistered sampler is not asked"
        );
    }

    /// Fails while `failing` is set, else sets its gauge; hangs when `hanging` is set.
    struct Flaky {
        failing: AtomicBool,
        hanging: AtomicBool,
    }

    impl Sampler for Flaky {
        fn names(&self) -> &'static [&'static str] {
            &["runtime_test_flaky"]
        }

        fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async move {
                if self.hanging.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                if self.failing.load(Ordering::SeqCst) {
                    sample_failed("runtime_test_flaky");
                } else {
                    metrics::gauge!("runtime_test_flaky_value").set(7.0);
                    sample_succeeded("runtime_test_flaky");
                }
            })
        }
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map(|value| value.parse().unwrap())
    }

    #[tokio::test]
    async fn a_sampler_that_fails_or_hangs_stops_its_timestamp_and_not_the_others() {
        let _turn = SERIAL.lock().await;
        install();
        let timestamp =
            r#"mailing_sample_last_success_timestamp_seconds{sampler="runtime_test_flaky"}"#;
        let failures = r#"mailing_sample_failures_total{sampler="runtime_test_flaky"}"#;
        let flaky = Arc::new(Flaky {
            failing: AtomicBool::new(true),
            hanging: AtomicBool::new(false),
        });
        let _registration = register_sampler(flaky.clone());

        let text = render().await;
        assert_eq!(
            value(&text, timestamp),
            Some(0.0),
            "never succeeded: {text}"
        );
        assert_eq!(value(&text, failures), Some(1.0), "{text}");
        assert_eq!(value(&text, "runtime_test_flaky_value"), None);

        flaky.failing.store(false, Ordering::SeqCst);
        let before = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let text = render().await;
        let succeeded = value(&text, timestamp).unwrap();
        assert!(succeeded >= before && succeeded < before + 60.0, "{text}");
        assert_eq!(value(&text, "runtime_test_flaky_value"), Some(7.0));

        // Hanging: the scrape still answers within the budget, the old value stays, the
        // timestamp does not move, and a sampler beside it is still asked.
        flaky.hanging.store(true, Ordering::SeqCst);
        let calls = Arc::new(AtomicUsize::new(0));
        let _other = register_sampler(Arc::new(Counting(calls.clone())));
        let started = std::time::Instant::now();
        let text = render().await;
        assert!(started.elapsed() < SAMPLE_BUDGET + Duration::from_secs(1));
        assert_eq!(value(&text, timestamp), Some(succeeded), "{text}");
        assert_eq!(value(&text, "runtime_test_flaky_value"), Some(7.0));
        assert_eq!(value(&text, failures), Some(1.0));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn every_page_has_build_info_process_metrics_and_declared_transitions() {
        let _turn = SERIAL.lock().await;
        install();
        declare_transitions(&[("runtime_test_from", "runtime_test_to")]);
        let text = render().await;
        assert_eq!(
            value(
                &text,
                r#"mailing_message_transitions_total{from="runtime_test_from",to="runtime_test_to"}"#
            ),
            Some(0.0),
            "{text}"
        );
        let info =
            format!(r#"mailing_build_info{{version="{BUILD_VERSION}",commit="{BUILD_COMMIT}"}}"#);
        assert_eq!(value(&text, &info), Some(1.0), "{text}");
        assert!(!BUILD_COMMIT.is_empty());
        if cfg!(target_os = "linux") {
            assert!(
                value(&text, "process_resident_memory_bytes").is_some(),
                "{text}"
            );
        }
    }
}
