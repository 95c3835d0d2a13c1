//! The probe's `Retry-After` on 429 and 503: the message waits at least that long, and a wait
//! reaching the mailing's end expires it with the reason.

use crate::{Fixture, SECRET, fixture, token};
use chrono::{DateTime, Duration, Utc};
use mailing_domain::MessageStatus;
use mailing_domain::store::{Message, storage_instant};
use probe_sim::state::ConfigPatch;

/// One message sent to a probe configured with `sim_patch`: the message as stored after the
/// attempt, and instants just before and just after the attempt.
async fn one_attempt(sim_patch: &str) -> (Fixture, Message, DateTime<Utc>, DateTime<Utc>) {
    let f = fixture().await;
    f.sim
        .update(&ConfigPatch::from_json(sim_patch.as_bytes()).unwrap())
        .unwrap();
    let (mailing, job) = f.claimed_messages(1, None).await;
    // As stored (microseconds), so that it is never after the reply's arrival as stored.
    let before = storage_instant(Utc::now());
    f.run_job(job, token(SECRET)).await;
    let after = Utc::now();
    let mut messages = f.messages(mailing).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(f.sim.stats().requests_total, 1);
    (f, messages.remove(0), before, after)
}

/// Sends one message to a probe configured with `sim_patch`, checks that it then waits
/// `seconds` (and at most a second more) from the reply, far beyond its backoff, and that
/// nothing hands it out again sooner; returns its error as stored.
async fn held_for(sim_patch: &str, seconds: i64) -> String {
    let (f, message, before, after) = one_attempt(sim_patch).await;
    let wait = Duration::seconds(seconds);
    assert_eq!(message.status, MessageStatus::Retrying, "{message:?}");
    assert_eq!(message.attempts, 1);
    let next = message.next_attempt_at.unwrap();
    // The backoff alone (at most the 10 s base) would plan it much sooner.
    assert!(
        before + wait <= next && next <= after + wait + Duration::seconds(1),
        "next attempt at {next}, the reply came between {before} and {after}"
    );
    // No claim hands it to a sender before then: the probe gets no second request sooner.
    let store = f.store.clone();
    let (early, due) = tokio::task::spawn_blocking(move || {
        let early = store
            .claim_due(next - Duration::milliseconds(1), 10)
            .unwrap();
        (early, store.claim_due(next, 10).unwrap())
    })
    .await
    .unwrap();
    assert!(
        early.is_empty(),
        "claimed before the wait was over: {early:?}"
    );
    assert_eq!(due, vec![message.id]);
    f.test_bus.finish().await;
    message.last_error.unwrap()
}

#[tokio::test]
async fn a_429_with_retry_after_seconds_holds_the_message_that_long() {
    let error = held_for(
        r#"{"error_429_share": 1.0, "retry_after_seconds": 120}"#,
        120,
    )
    .await;
    assert_eq!(
        error,
        "probe answered 429 and asked to wait 120 s (Retry-After)"
    );
}

#[tokio::test]
async fn a_503_with_a_retry_after_date_holds_the_message_until_then() {
    let error = held_for(
        r#"{"error_503_share": 1.0, "retry_after_seconds": 300, "retry_after_format": "date"}"#,
        300,
    )
    .await;
    // The date is the simulator's answer time plus 300 s rounded up to a whole second, so the
    // wait counted from the reply's arrival is 300 s and a fraction.
    assert!(
        error.starts_with("probe answered 503 and asked to wait ")
            && error.ends_with(" s (Retry-After)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_retry_after_past_the_mailings_end_expires_the_message() {
    // The mailing ends a day after it was created; a day's wait from the reply is past that.
    let (f, message, _, _) =
        one_attempt(r#"{"error_429_share": 1.0, "retry_after_seconds": 86400}"#).await;
    assert_eq!(message.status, MessageStatus::Expired, "{message:?}");
    assert_eq!(
        message.last_error.as_deref(),
        Some(
            "no retry fits before the mailing's end; last attempt: \
             probe answered 429 and asked to wait 86400 s (Retry-After)"
        )
    );
    f.test_bus.finish().await;
}
