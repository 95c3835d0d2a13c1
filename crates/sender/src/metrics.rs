//! The sender's metrics: probe requests by outcome and latency, the outcomes it commits, and
//! its state (paused by the breaker or a rejected token, attempts in flight) read when scraped.

use crate::breaker::OpenReason;
use crate::worker::Worker;
use mailing_domain::delivery::Attempt;
use mailing_runtime::metrics::{self as runtime_metrics, Sampler, sample_succeeded};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The message transitions the sender counts: from `queued` to the status of each outcome it
/// writes (see `writer.rs`).
pub const TRANSITIONS: &[(&str, &str)] = &[
    ("queued", "sent"),
    ("queued", "retrying"),
    ("queued", "failed"),
    ("queued", "scheduled"),
    ("queued", "expired"),
    ("queued", "cancelled"),
    ("queued", "suppressed"),
];

/// The outcomes of a probe request, as `mailing_probe_requests_total` labels them.
pub const PROBE_OUTCOMES: &[&str] = &["delivered", "retryable", "permanent", "token_rejected"];

/// Why the breaker trips, as `mailing_sender_breaker_trips_total` labels it.
pub const BREAKER_REASONS: &[&str] = &["provider_failing", "token_rejected"];

/// The `sampler` label of the sender's own state gauges.
const SAMPLER: &str = "sender";

/// Describes the sender's metrics and registers every counter and histogram series of known
/// labels at 0, so each exists from start and an alert sees its first event.
pub fn register() {
    // Descriptions and series given before the recorder exists would go nowhere.
    runtime_metrics::install();
    metrics::describe_counter!(
        "mailing_probe_requests_total",
        "Requests to the probe by outcome: delivered, retryable (timeout, connection, 429, 5xx, malformed reply), permanent (other 4xx), token_rejected (401/403)"
    );
    metrics::describe_histogram!(
        "mailing_probe_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time one request to the probe took, by outcome"
    );
    metrics::describe_counter!(
        "mailing_send_jobs_received_total",
        "Send jobs taken from the broker; redelivered=true for a job delivered again after a sender stopped or failed to acknowledge it"
    );
    metrics::describe_counter!(
        "mailing_sender_breaker_trips_total",
        "Times the circuit breaker stopped attempts, by reason: provider_failing or token_rejected"
    );
    metrics::describe_counter!(
        "mailing_auto_pauses_total",
        "Mailings this sender paused because most of their latest attempts failed (paused_reason provider_failing)"
    );
    metrics::describe_counter!(
        "mailing_frequency_cap_deferrals_total",
        "Messages held back right before their attempt because their client's frequency cap was full"
    );
    metrics::describe_gauge!(
        "mailing_sender_breaker_open",
        "1 while this sender's circuit breaker holds attempts back (probe failing or token rejected), else 0"
    );
    metrics::describe_gauge!(
        "mailing_sender_probe_token_rejected",
        "1 while the probe rejects MAILING_PROBE_TOKEN and sending is paused, else 0"
    );
    metrics::describe_gauge!(
        "mailing_sender_in_flight",
        "Attempts holding a concurrency permit (in a probe request, or waiting for their outcome to be committed)"
    );
    metrics::describe_gauge!(
        "mailing_sender_rate_share",
        "Probe requests per second this sender may make: its share of MAILING_SENDER_RATE_LIMIT among the live senders (0 while joining or unable to beat; absent without a limit)"
    );
    metrics::describe_gauge!(
        "mailing_sender_live_senders",
        "Live senders sharing the rate limit, as this sender's last heartbeat counted them (absent without a limit)"
    );
    metrics::describe_gauge!(
        "mailing_sender_claims_held",
        "Messages this sender holds claims on (loaded and not yet settled)"
    );
    for &outcome in PROBE_OUTCOMES {
        metrics::counter!("mailing_probe_requests_total", "outcome" => outcome).increment(0);
        // Asking for a histogram's handle registers it: it renders with empty buckets.
        let _ = metrics::histogram!("mailing_probe_request_duration_seconds", "outcome" => outcome);
    }
    for redelivered in ["true", "false"] {
        metrics::counter!("mailing_send_jobs_received_total", "redelivered" => redelivered)
            .increment(0);
    }
    for &reason in BREAKER_REASONS {
        metrics::counter!("mailing_sender_breaker_trips_total", "reason" => reason).increment(0);
    }
    for name in [
        "mailing_auto_pauses_total",
        "mailing_frequency_cap_deferrals_total",
    ] {
        metrics::counter!(name).increment(0);
    }
    runtime_metrics::declare_transitions(TRANSITIONS);
}

/// Counts one probe request and its duration.
pub fn probe_request(attempt: &Attempt, took: Duration) {
    let outcome = match attempt {
        Attempt::Delivered => "delivered",
        Attempt::Retryable { .. } => "retryable",
        Attempt::Permanent(_) => "permanent",
        Attempt::TokenRejected => "token_rejected",
    };
    metrics::counter!("mailing_probe_requests_total", "outcome" => outcome).increment(1);
    metrics::histogram!("mailing_probe_request_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Counts a trip of the circuit breaker.
pub fn breaker_tripped(reason: OpenReason) {
    let reason = match reason {
        OpenReason::ProviderFailing => "provider_failing",
        OpenReason::TokenRejected => "token_rejected",
    };
    metrics::counter!("mailing_sender_breaker_trips_total", "reason" => reason).increment(1);
}

/// Reads the sender's state when metrics are scraped.
pub(crate) struct SenderGauges {
    pub(crate) worker: Arc<Worker>,
    pub(crate) concurrency: usize,
}

impl Sampler for SenderGauges {
    fn names(&self) -> &'static [&'static str] {
        &[SAMPLER]
    }

    fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let reason = self.worker.breaker.open_reason();
        metrics::gauge!("mailing_sender_breaker_open").set(f64::from(u8::from(reason.is_some())));
        metrics::gauge!("mailing_sender_probe_token_rejected").set(f64::from(u8::from(
            reason == Some(OpenReason::TokenRejected),
        )));
        let free = self.worker.in_flight.available_permits();
        metrics::gauge!("mailing_sender_in_flight")
            .set(self.concurrency.saturating_sub(free) as f64);
        metrics::gauge!("mailing_sender_claims_held").set(self.worker.held.len() as f64);
        if let Some(limiter) = &self.worker.limiter {
            let (share, live) = limiter.share_at(std::time::Instant::now());
            metrics::gauge!("mailing_sender_rate_share").set(share);
            metrics::gauge!("mailing_sender_live_senders").set(live as f64);
        }
        // Read from memory, it cannot fail; the timestamp still shows a scrape that ran out of
        // time before this sampler was asked.
        sample_succeeded(SAMPLER);
        Box::pin(std::future::ready(()))
    }
}
