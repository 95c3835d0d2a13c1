//! Prometheus metrics: one recorder per process, gauges that are read from the database or the
//! broker sampled right before each scrape, and the `/metrics` endpoint that renders them.
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade; the
//! names and their meaning are listed in `docs/metrics.md`.

use actix_web::HttpResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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

/// Counts `count` messages moving from `from` to `to`: each a status, or `new` for a message
/// being created, or `waiting` for scheduled-or-retrying (set-based updates do not tell the
/// two apart).
pub fn message_transitions(from: &'static str, to: &'static str, count: u64) {
    if count > 0 {
        metrics::counter!(TRANSITIONS, "from" => from, "to" => to).increment(count);
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
    fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
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
    let registered: Vec<Arc<dyn Sampler>> = samplers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(_, sampler)| sampler.clone())
        .collect();
    let sampling = async {
        for sampler in &registered {
            sampler.sample().await;
        }
    };
    if tokio::time::timeout(SAMPLE_BUDGET, sampling).await.is_err() {
        tracing::warn!("metric sampling ran out of time; some gauges keep older values");
    }
    handle.render()
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
    use std::sync::atomic::AtomicUsize;

    struct Counting(Arc<AtomicUsize>);

    impl Sampler for Counting {
        fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            let calls = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                metrics::gauge!("runtime_test_sampled").set(calls as f64);
            })
        }
    }

    #[tokio::test]
    async fn renders_recorded_metrics_and_samples_only_while_registered() {
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
}
