//! Handles send jobs: loads the messages, checks each right before its attempt, calls the probe
//! under the concurrency limit, rate limit and circuit breaker, and passes outcomes to the
//! writer.

use crate::breaker::{Breaker, Permit};
use crate::claims::HeldClaims;
use crate::decide::{
    Before, MIN_TIME_LEFT, RetryPolicy, after_attempt, before_attempt, capped, ended,
};
use crate::failing::{FailureWatch, Tripped};
use crate::limiter::RateLimiter;
use crate::mailings::MailingStates;
use crate::probe::ProbeClient;
use crate::writer::{JobTicket, OutcomeSender, Pending, Settled};
use chrono::{DateTime, Utc};
use mailing_bus::Delivery;
use mailing_domain::delivery::Attempt;
use mailing_domain::events::{self, SendJob};
use mailing_domain::store::{CapHold, Outcome, OutcomeKind, SendTask, SenderStore};
use mailing_domain::{AutoPause, FrequencyCap, MailingId, MessageId, MessageText};
use mailing_runtime::blocking;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct Worker {
    pub(crate) store: Arc<dyn SenderStore>,
    pub(crate) held: Arc<HeldClaims>,
    pub(crate) mailings: MailingStates,
    pub(crate) probe: ProbeClient,
    pub(crate) breaker: Breaker,
    /// `None` without a rate limit: the hot path then checks nothing else.
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    pub(crate) in_flight: Arc<Semaphore>,
    pub(crate) outcomes: OutcomeSender,
    pub(crate) retry: RetryPolicy,
    pub(crate) probe_timeout: Duration,
    /// How often held claims are renewed; a claim younger than this needs no renewal before
    /// its first attempt.
    pub(crate) claim_renew_every: Duration,
    /// Each mailing's latest attempts, for its auto-pause.
    pub(crate) failures: Arc<FailureWatch>,
    /// The deployment's auto-pause rule, for mailings that do not set their own.
    pub(crate) auto_pause: AutoPause,
    /// The deployment's frequency cap, for mailings without their own.
    pub(crate) frequency_cap: Option<FrequencyCap>,
}

/// What became of a send job once [`Worker::handle`] returned.
pub(crate) enum Handled {
    /// Its attempts are under way; the ticket tells when the job is done with.
    Started(Arc<JobTicket>),
    /// Settled already: acknowledged, returned to the queue or dead-lettered.
    Settled,
}

/// One claimed message on its way through an attempt.
struct Claimed {
    task: SendTask,
    claimed_at: DateTime<Utc>,
    ticket: Arc<JobTicket>,
    /// The text sent to the probe, once an attempt was made.
    sent_text: Option<MessageText>,
}

impl Worker {
    /// Handles one send job; returns once every attempt of it has started.
    pub(crate) async fn handle(self: &Arc<Self>, delivery: Delivery) -> Handled {
        let job = match events::decode::<SendJob>(&delivery.payload) {
            Ok(job) => job,
            Err(error) => {
                tracing::error!(%error, "unreadable send job sent to the dead-letter queue");
                let _ = delivery.nack(false).await;
                return Handled::Settled;
            }
        };
        metrics::counter!(
            "mailing_send_jobs_received_total",
            "redelivered" => if delivery.redelivered { "true" } else { "false" }
        )
        .increment(1);
        if delivery.redelivered {
            tracing::info!(
                messages = job.message_ids.len(),
                claimed_at = %job.claimed_at,
                "send job delivered again; messages settled meanwhile are skipped"
            );
        }
        let ids = job.message_ids;
        let tasks = match blocking::call(&self.store, move |store| store.load_for_send(&ids)).await
        {
            Ok(tasks) => tasks,
            Err(error) => {
                Self::put_back(delivery, error.to_string()).await;
                return Handled::Settled;
            }
        };
        if tasks.is_empty() {
            // Every message of the job is gone: nothing to do.
            if let Err(error) = delivery.ack().await {
                tracing::warn!(%error, "send job ack failed");
            }
            return Handled::Settled;
        }
        let ticket = JobTicket::new(tasks.len(), delivery);
        let mut to_attempt = Vec::with_capacity(tasks.len());
        for task in tasks {
            let claimed = Claimed {
                task,
                claimed_at: job.claimed_at,
                ticket: ticket.clone(),
                sent_text: None,
            };
            match before_attempt(&claimed.task, claimed.claimed_at, Utc::now()) {
                Before::Skip => Self::skip(&claimed).await,
                Before::Settle(kind) => {
                    tracing::debug!(
                        mailing_id = claimed.task.mailing_id.0,
                        message_id = claimed.task.message_id.0,
                        client_id = claimed.task.client_id.map(|id| id.0),
                        status = %kind.status(),
                        "message settled without an attempt"
                    );
                    self.settle(claimed, kind, None).await;
                }
                Before::Attempt { .. } => to_attempt.push(claimed),
            }
        }
        // A claim is ours while the message is still queued under it: `before_attempt` checked
        // that on the rows just loaded. Claims younger than the renewal period cannot be taken
        // back before the renewal loop, which holds them from here on, renews them; older ones
        // (the job waited in the queue) are renewed now, and only those still ours attempted,
        // since one may have been taken back between the load and this renewal.
        let now = Utc::now();
        let fresh_for =
            chrono::Duration::from_std(self.claim_renew_every).unwrap_or(chrono::Duration::MAX);
        let stale: Vec<_> = to_attempt
            .iter()
            .filter(|c| now - c.claimed_at >= fresh_for)
            .map(|c| (c.task.message_id, c.claimed_at))
            .collect();
        let renewed: HashSet<MessageId> = if stale.is_empty() {
            HashSet::new()
        } else {
            match blocking::call(&self.store, move |store| {
                store.renew_claims(&stale, Utc::now())
            })
            .await
            {
                Ok(renewed) => renewed.into_iter().collect(),
                Err(error) => {
                    tracing::warn!(%error, "cannot renew a job's claims; its older messages are left for later");
                    HashSet::new()
                }
            }
        };
        for claimed in to_attempt {
            let ours =
                now - claimed.claimed_at < fresh_for || renewed.contains(&claimed.task.message_id);
            if !ours {
                // Taken back already, or the database is away: the scheduler hands it out again.
                Self::skip(&claimed).await;
                continue;
            }
            // Held from now, while it waits for a permit, so its claim stays renewed.
            self.held.hold(claimed.task.message_id, claimed.claimed_at);
            let permit = self
                .in_flight
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            if !ticket.held() {
                // The broker took the job back while it waited (the connection was lost) and
                // hands it out again: the rest of it is for whoever gets it.
                self.give_up(claimed).await;
                continue;
            }
            let worker = self.clone();
            tokio::spawn(async move { worker.attempt(claimed, permit).await });
        }
        Handled::Started(ticket)
    }

    /// Leaves a message of a job this sender no longer holds, without an attempt or an outcome:
    /// it is still queued under the job's claim, which the job's next holder works under.
    async fn give_up(&self, claimed: Claimed) {
        self.held.release(claimed.task.message_id);
        Self::skip(&claimed).await;
    }

    /// Counts a message settled without an outcome of this job's.
    async fn skip(claimed: &Claimed) {
        let task = &claimed.task;
        claimed
            .ticket
            .settled(task.mailing_id, task.message_id, Settled::Skipped)
            .await;
    }

    async fn put_back(delivery: Delivery, error: String) {
        tracing::warn!(%error, "cannot load a send job's messages; it goes back to the queue");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = delivery.nack(true).await;
    }

    async fn settle(
        &self,
        claimed: Claimed,
        kind: OutcomeKind,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let message_id = claimed.task.message_id;
        self.held.release(message_id);
        let pending = Pending {
            mailing_id: claimed.task.mailing_id,
            outcome: Outcome {
                message_id,
                claimed_at: Some(claimed.claimed_at),
                kind,
                text: claimed.sent_text,
            },
            ticket: claimed.ticket,
            permit,
        };
        if self.outcomes.send(pending).await.is_err() {
            tracing::error!(
                message_id = message_id.0,
                "outcome writer stopped; the job will come again"
            );
        }
    }

    /// Runs one attempt; `permit` is held until its outcome is committed.
    async fn attempt(&self, mut claimed: Claimed, permit: OwnedSemaphorePermit) {
        // A look only: the breaker's trial is taken right before the request, since an attempt
        // may still end without one (its mailing paused or cancelled, its cap full), and a
        // trial that never reports back would hold every attempt back for good.
        if let Permit::Wait(until) = self.breaker.holding(Instant::now()) {
            return self.settle(claimed, held_back(until), Some(permit)).await;
        }
        let mailing_id = claimed.task.mailing_id;
        if let Some(limiter) = &self.limiter {
            // The provider counts requests as they arrive: a database read between the token
            // and the request would hold back every request with a token behind it and let
            // them go at once. Reading the mailing before waiting too keeps the cache fresh,
            // so the read after the token (which must come after the wait) seldom misses.
            let _ = self.mailings.get(mailing_id).await;
            limiter.acquire().await;
        }
        // The job was loaded a while ago: take the mailing as it is now (cancelled, new end,
        // new window) and check once more.
        let read = self.mailings.get(mailing_id).await;
        // The attempt starts with this reading: its outcome counts towards the mailing's
        // auto-pause only if the reading came after the mailing's last pause.
        let started = Instant::now();
        match read {
            Ok(Some(state)) => {
                if state.paused {
                    // Whatever was under way before the pause says nothing of what follows it.
                    self.failures.restart(mailing_id, started);
                }
                claimed.task.schedule = state.schedule;
                claimed.task.mailing_active = state.active;
                claimed.task.mailing_paused = state.paused;
                claimed.task.frequency_cap = state.frequency_cap;
                claimed.task.auto_pause = state.auto_pause;
            }
            Ok(None) => claimed.task.mailing_active = false,
            Err(error) => {
                // Per message, so not above debug: the job's summary counts it as deferred, and
                // the database being away shows in the service's own warnings.
                tracing::debug!(mailing_id = mailing_id.0, message_id = claimed.task.message_id.0, %error, "cannot re-read the mailing; message left for later");
                let next_attempt_at = Utc::now() + chrono::Duration::seconds(5);
                let kind = OutcomeKind::Deferred { next_attempt_at };
                return self.settle(claimed, kind, Some(permit)).await;
            }
        }
        let now = Utc::now();
        let deadline = match before_attempt(&claimed.task, claimed.claimed_at, now) {
            Before::Attempt { deadline } => deadline,
            Before::Settle(kind) => return self.settle(claimed, kind, Some(permit)).await,
            Before::Skip => return self.give_up(claimed).await,
        };
        let left = deadline - now;
        if left < MIN_TIME_LEFT {
            let kind = ended(&claimed.task);
            return self.settle(claimed, kind, Some(permit)).await;
        }
        if let Some(cap) = claimed.task.frequency_cap.or(self.frequency_cap) {
            let (message_id, claimed_at) = (claimed.task.message_id, claimed.claimed_at);
            let held = blocking::call(&self.store, move |store| {
                store.hold_for_cap(message_id, claimed_at, cap, Utc::now())
            })
            .await;
            match held {
                Ok(CapHold::Held) => {}
                Ok(CapHold::Wait { until }) => {
                    metrics::counter!("mailing_frequency_cap_deferrals_total").increment(1);
                    let kind = capped(until, deadline, cap);
                    return self.settle(claimed, kind, Some(permit)).await;
                }
                Ok(CapHold::Gone) => return self.give_up(claimed).await,
                Err(error) => {
                    tracing::debug!(mailing_id = mailing_id.0, message_id = message_id.0, %error, "cannot check the frequency cap; message left for later");
                    let next_attempt_at = Utc::now() + chrono::Duration::seconds(5);
                    let kind = OutcomeKind::Deferred { next_attempt_at };
                    return self.settle(claimed, kind, Some(permit)).await;
                }
            }
        }
        // Never let a request outlive the mailing's end (the cap's check took a moment).
        let left = deadline - Utc::now();
        if left < MIN_TIME_LEFT {
            let kind = ended(&claimed.task);
            return self.settle(claimed, kind, Some(permit)).await;
        }
        let timeout = left.to_std().unwrap_or_default().min(self.probe_timeout);
        let task = &claimed.task;
        let (message_id, client_id) = (task.message_id, task.client_id.map(|id| id.0));
        // Rendered for the client now, unless an earlier attempt sent it already.
        let (Some(phone), Some(text)) = (task.phone.as_ref(), task.text_to_send()) else {
            return self
                .settle(claimed, OutcomeKind::Cancelled, Some(permit))
                .await;
        };
        // Last look before the request: the breaker, the rate limit or the mailing's re-read
        // may have kept it waiting while the broker took the job back.
        if !claimed.ticket.held() {
            return self.give_up(claimed).await;
        }
        // Nothing returns between this and the answer, which the breaker is told.
        if let Permit::Wait(until) = self.breaker.permit(Instant::now()) {
            return self.settle(claimed, held_back(until), Some(permit)).await;
        }
        tracing::debug!(
            mailing_id = mailing_id.0,
            message_id = message_id.0,
            client_id,
            "probe request"
        );
        let started = Instant::now();
        let attempt = self
            .probe
            .send(message_id, phone.as_u64(), &text.text, timeout)
            .await;
        let took = started.elapsed();
        crate::metrics::probe_request(&attempt, took);
        let elapsed_ms = took.as_millis() as u64;
        match &attempt {
            Attempt::Delivered | Attempt::Permanent(_) => self.breaker.succeeded(),
            Attempt::Retryable { .. } => {
                self.breaker.failed(Instant::now());
            }
            Attempt::TokenRejected => self.breaker.token_rejected(Instant::now()),
        }
        if !matches!(attempt, Attempt::TokenRejected) {
            // A rejected token holds every message already; it says nothing of this mailing.
            let failed = matches!(attempt, Attempt::Retryable { .. } | Attempt::Permanent(_));
            let rule = task.auto_pause.resolve(self.auto_pause);
            if let Some(tripped) = self.failures.record(mailing_id, started, failed, rule) {
                self.pause_failing(mailing_id, tripped);
            }
        }
        let kind = after_attempt(task, attempt, Utc::now(), &self.retry, rand::random());
        claimed.sent_text = Some(text);
        // Per message, so at debug: the job's summary says at info what became of them all.
        match &kind {
            OutcomeKind::Retry {
                error,
                next_attempt_at,
            } => {
                tracing::debug!(mailing_id = mailing_id.0, message_id = message_id.0, client_id, elapsed_ms, %error, %next_attempt_at, "probe attempt failed; retry planned")
            }
            OutcomeKind::Failed { error } => {
                tracing::debug!(mailing_id = mailing_id.0, message_id = message_id.0, client_id, elapsed_ms, %error, "probe refused the message for good")
            }
            OutcomeKind::Expired { reason } => {
                tracing::debug!(mailing_id = mailing_id.0, message_id = message_id.0, client_id, elapsed_ms, %reason, "probe attempt failed; message expired")
            }
            other => {
                tracing::debug!(mailing_id = mailing_id.0, message_id = message_id.0, client_id, elapsed_ms, status = %other.status(), "probe attempt settled")
            }
        }
        self.settle(claimed, kind, Some(permit)).await;
    }

    /// Pauses a mailing whose attempts mostly fail, in the background: the attempts under way
    /// finish, and the next ones see the pause within the mailing cache's age. Its look-back
    /// then starts afresh with the attempts that can see the pause, so that the failures of
    /// those under way do not count once it is resumed.
    fn pause_failing(&self, mailing_id: MailingId, tripped: Tripped) {
        let store = self.store.clone();
        let failures = self.failures.clone();
        tokio::spawn(async move {
            let detail = tripped.detail();
            let paused = blocking::call(&store, move |store| {
                store.auto_pause_mailing(mailing_id, &detail, Utc::now())
            })
            .await;
            failures.restart(mailing_id, Instant::now() + crate::mailings::MAX_AGE);
            match paused {
                Ok(true) => {
                    metrics::counter!("mailing_auto_pauses_total").increment(1);
                    tracing::warn!(
                        mailing_id = mailing_id.0,
                        failed = tripped.failed,
                        attempts = tripped.attempts,
                        "mailing paused itself: most of its latest attempts failed at the provider; resume it once the provider recovers"
                    );
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(mailing_id = mailing_id.0, %error, "cannot pause a failing mailing");
                }
            }
        });
    }
}

/// A message the circuit breaker holds back until `until` waits that long, plus up to a second
/// so that the waiting messages do not all return at once.
fn held_back(until: Instant) -> OutcomeKind {
    let wait = until.saturating_duration_since(Instant::now())
        + Duration::from_millis(rand::random_range(0..1000));
    let next_attempt_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
    OutcomeKind::Deferred { next_attempt_at }
}
