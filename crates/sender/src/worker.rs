//! Handles send jobs: loads the messages, checks each right before its attempt, calls the probe
//! under the concurrency limit, rate limit and circuit breaker, and passes outcomes to the
//! writer.

use crate::breaker::{Breaker, Permit};
use crate::decide::{Before, MIN_TIME_LEFT, RetryPolicy, after_attempt, before_attempt};
use crate::limiter::RateLimiter;
use crate::probe::ProbeClient;
use crate::writer::{JobTicket, OutcomeSender};
use chrono::Utc;
use mailing_bus::Delivery;
use mailing_domain::delivery::Attempt;
use mailing_domain::events::{self, SendJob};
use mailing_domain::store::{Outcome, OutcomeKind, SendTask, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub struct Worker {
    pub store: Arc<dyn Store>,
    pub probe: ProbeClient,
    pub breaker: Breaker,
    pub limiter: Option<RateLimiter>,
    pub in_flight: Arc<Semaphore>,
    pub outcomes: OutcomeSender,
    pub retry: RetryPolicy,
    pub probe_timeout: Duration,
}

impl Worker {
    /// Handles one send job; returns once every attempt of it has started.
    pub async fn handle(self: &Arc<Self>, delivery: Delivery) {
        let job = match events::decode::<SendJob>(&delivery.payload) {
            Ok(job) => job,
            Err(error) => {
                tracing::error!(%error, "unreadable send job sent to the dead-letter queue");
                let _ = delivery.nack(false).await;
                return;
            }
        };
        let store = self.store.clone();
        let ids = job.message_ids;
        let tasks = match tokio::task::spawn_blocking(move || store.load_for_send(&ids)).await {
            Ok(Ok(tasks)) => tasks,
            outcome => {
                let error = match outcome {
                    Ok(Err(error)) => error.to_string(),
                    Err(error) => error.to_string(),
                    Ok(Ok(_)) => unreachable!(),
                };
                tracing::warn!(%error, "cannot load a send job's messages; it goes back to the queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = delivery.nack(true).await;
                return;
            }
        };
        if tasks.is_empty() {
            // Every message of the job is gone (mailing purged): nothing to do.
            if let Err(error) = delivery.ack().await {
                tracing::warn!(%error, "send job ack failed");
            }
            return;
        }
        let ticket = JobTicket::new(tasks.len(), delivery);
        for task in tasks {
            match before_attempt(&task, Utc::now()) {
                Before::Skip => ticket.settled(1).await,
                Before::Settle(kind) => {
                    tracing::debug!(
                        mailing_id = %task.mailing_id,
                        message_id = %task.message_id,
                        client_id = ?task.client_id.map(|id| id.0),
                        status = %kind.status(),
                        "message settled without an attempt"
                    );
                    self.settle(&task, kind, &ticket).await;
                }
                Before::Attempt { deadline } => {
                    let permit = self
                        .in_flight
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    let worker = self.clone();
                    let ticket = ticket.clone();
                    tokio::spawn(async move {
                        worker.attempt(task, deadline, &ticket).await;
                        drop(permit);
                    });
                }
            }
        }
    }

    async fn settle(&self, task: &SendTask, kind: OutcomeKind, ticket: &Arc<JobTicket>) {
        let outcome = Outcome {
            message_id: task.message_id,
            kind,
        };
        if self.outcomes.send((outcome, ticket.clone())).await.is_err() {
            tracing::error!(message_id = %task.message_id, "outcome writer stopped; the job will come again");
        }
    }

    async fn attempt(
        &self,
        task: SendTask,
        deadline: chrono::DateTime<Utc>,
        ticket: &Arc<JobTicket>,
    ) {
        if let Permit::Wait(until) = self.breaker.permit(Instant::now()) {
            // Spread the waiting messages over a second so they do not return all at once.
            let wait = until.saturating_duration_since(Instant::now())
                + Duration::from_millis(rand::random_range(0..1000));
            let next_attempt_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            return self
                .settle(&task, OutcomeKind::Deferred { next_attempt_at }, ticket)
                .await;
        }
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let now = Utc::now();
        let left = deadline - now;
        if left < MIN_TIME_LEFT {
            return self
                .settle(&task, OutcomeKind::Expired { last_error: None }, ticket)
                .await;
        }
        let timeout = left.to_std().unwrap_or_default().min(self.probe_timeout);
        let Some(phone) = task.phone.as_ref() else {
            return self.settle(&task, OutcomeKind::Cancelled, ticket).await;
        };
        let (mailing_id, message_id, client_id) =
            (task.mailing_id, task.message_id, task.client_id);
        tracing::debug!(%mailing_id, %message_id, client_id = ?client_id.map(|id| id.0), "probe request");
        let started = Instant::now();
        let attempt = self
            .probe
            .send(message_id, phone.as_u64(), task.text.as_str(), timeout)
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &attempt {
            Attempt::Delivered | Attempt::Permanent(_) => self.breaker.succeeded(),
            Attempt::Retryable(_) => {
                self.breaker.failed(Instant::now());
            }
            Attempt::TokenRejected => self.breaker.token_rejected(Instant::now()),
        }
        let kind = after_attempt(&task, attempt, Utc::now(), &self.retry, rand::random());
        let status = kind.status();
        match &kind {
            OutcomeKind::Sent { .. } => {
                tracing::info!(%mailing_id, %message_id, client_id = ?client_id.map(|id| id.0), elapsed_ms, "probe accepted the message")
            }
            OutcomeKind::Retry {
                error,
                next_attempt_at,
            } => {
                tracing::warn!(%mailing_id, %message_id, client_id = ?client_id.map(|id| id.0), elapsed_ms, %error, %next_attempt_at, "probe attempt failed; retry planned")
            }
            OutcomeKind::Failed { error } => {
                tracing::warn!(%mailing_id, %message_id, client_id = ?client_id.map(|id| id.0), elapsed_ms, %error, "probe refused the message for good")
            }
            other => {
                tracing::info!(%mailing_id, %message_id, client_id = ?client_id.map(|id| id.0), elapsed_ms, %status, ?other, "probe attempt settled")
            }
        }
        self.settle(&task, kind, ticket).await;
    }
}
