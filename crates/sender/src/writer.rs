//! Writes outcomes in batches and acknowledges each send job once all of its outcomes are
//! committed: a crash before the commit leaves the job unacknowledged, so the broker hands it
//! out again and nothing is lost.

use mailing_bus::Delivery;
use mailing_domain::store::{Outcome, OutcomeKind, SenderStore, StatusCounts};
use mailing_domain::{MailingId, MessageId};
use mailing_runtime::blocking;
use mailing_runtime::metrics::message_transitions;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// One send job's delivery, acknowledged when its last message is settled.
pub struct JobTicket {
    remaining: AtomicUsize,
    delivery: Mutex<Option<Delivery>>,
    /// Turns true once every message is settled and the job acknowledged (or left to the
    /// broker, which took it back).
    done: tokio::sync::watch::Sender<bool>,
    /// What became of the job's messages so far, by mailing, for the lines logged when the
    /// job is done.
    tally: Mutex<BTreeMap<MailingId, Tally>>,
}

/// What became of one of a job's messages.
pub enum Settled<'a> {
    /// Its outcome is committed.
    Written(&'a OutcomeKind),
    /// Nothing of this job's was written: it was settled elsewhere (a cancellation, another
    /// sender), or the job stopped being this sender's before its attempt.
    Skipped,
}

/// The messages of one mailing in a job, by what became of them.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    failed: u64,
    retried: u64,
    expired: u64,
    deferred: u64,
    cancelled: u64,
    suppressed: u64,
    skipped: u64,
    /// The first [`Tally::LISTED`] messages that failed, will be retried or expired.
    failures: Vec<MessageId>,
}

impl Tally {
    /// How many message ids a job's summary lists; the count covers the rest.
    const LISTED: usize = 20;

    fn add(&mut self, message: MessageId, settled: Settled<'_>) {
        let (count, failure) = match settled {
            Settled::Skipped => (&mut self.skipped, false),
            Settled::Written(OutcomeKind::Sent { .. }) => (&mut self.sent, false),
            Settled::Written(OutcomeKind::Failed { .. }) => (&mut self.failed, true),
            Settled::Written(OutcomeKind::Retry { .. }) => (&mut self.retried, true),
            Settled::Written(OutcomeKind::Expired { .. }) => (&mut self.expired, true),
            Settled::Written(OutcomeKind::Deferred { .. }) => (&mut self.deferred, false),
            Settled::Written(OutcomeKind::Cancelled) => (&mut self.cancelled, false),
            Settled::Written(OutcomeKind::Suppressed) => (&mut self.suppressed, false),
        };
        *count += 1;
        if failure && self.failures.len() < Self::LISTED {
            self.failures.push(message);
        }
    }

    fn total(&self) -> u64 {
        self.sent
            + self.failed
            + self.retried
            + self.expired
            + self.deferred
            + self.cancelled
            + self.suppressed
            + self.skipped
    }

    /// "12, 15, 19", and how many more there were; `None` without failures.
    fn failure_ids(&self) -> Option<String> {
        let mut listed = String::new();
        for id in &self.failures {
            if !listed.is_empty() {
                listed.push_str(", ");
            }
            let _ = write!(listed, "{}", id.0);
        }
        let more =
            (self.failed + self.retried + self.expired).saturating_sub(self.failures.len() as u64);
        if more > 0 {
            let _ = write!(listed, " and {more} more");
        }
        (!self.failures.is_empty()).then_some(listed)
    }
}

impl JobTicket {
    /// A ticket for a job with `messages` (at least one) still to settle.
    pub fn new(messages: usize, delivery: Delivery) -> Arc<Self> {
        Arc::new(Self {
            remaining: AtomicUsize::new(messages),
            delivery: Mutex::new(Some(delivery)),
            done: tokio::sync::watch::channel(false).0,
            tally: Mutex::new(BTreeMap::new()),
        })
    }

    /// Resolves once the job is done with: every message settled, the job acknowledged.
    pub fn finished(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut done = self.done.subscribe();
        async move {
            let _ = done.wait_for(|done| *done).await;
        }
    }

    /// Whether the job is still this sender's: once the connection it came through is lost,
    /// the broker hands it out again, and its messages not yet attempted are left to whoever
    /// gets it, so that no message goes to the probe from two senders at once.
    pub fn held(&self) -> bool {
        self.delivery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(Delivery::is_held)
    }

    /// Marks one of the job's messages, `message` of `mailing`, settled as `settled` says, and
    /// when none is left acknowledges the job and logs what became of it; awaiting that here
    /// means the ack has reached the broker before a shutdown closes the connection.
    pub async fn settled(&self, mailing: MailingId, message: MessageId, settled: Settled<'_>) {
        self.tally
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(mailing)
            .or_default()
            .add(message, settled);
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let delivery = self
            .delivery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(delivery) = delivery {
            acknowledge(delivery).await;
        }
        self.summarise();
        self.done.send_replace(true);
    }

    /// One line per mailing of the job: what became of its messages, and which ones to look at.
    fn summarise(&self) {
        let tally = std::mem::take(&mut *self.tally.lock().unwrap_or_else(|p| p.into_inner()));
        for (mailing, tally) in tally {
            tracing::info!(
                mailing_id = mailing.0,
                messages = tally.total(),
                sent = tally.sent,
                failed = tally.failed,
                retried = tally.retried,
                expired = tally.expired,
                deferred = tally.deferred,
                cancelled = tally.cancelled,
                suppressed = tally.suppressed,
                skipped = tally.skipped,
                failures = tally.failure_ids(),
                "send job done"
            );
        }
    }
}

async fn acknowledge(delivery: Delivery) {
    if !delivery.is_held() {
        tracing::debug!("send job taken back by the broker before it was done; not acknowledged");
        return;
    }
    if let Err(error) = delivery.ack().await {
        // The broker will redeliver; the messages are no longer queued, so the second pass
        // skips them.
        tracing::warn!(%error, "send job ack failed");
    }
}

/// An outcome on its way to the database, with the mailing and the job it belongs to and, for
/// an attempt, the concurrency permit it holds until the commit: the probe may have accepted the
/// message, so until the outcome is stored it counts as in flight (this bounds what a crash can
/// make the probe receive twice).
pub struct Pending {
    pub mailing_id: MailingId,
    pub outcome: Outcome,
    pub ticket: Arc<JobTicket>,
    pub permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

pub type OutcomeSender = mpsc::Sender<Pending>;

/// Batching limits.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_outcomes: usize,
    pub max_wait: Duration,
}

/// The running writer.
pub struct WriterHandle {
    close: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WriterHandle {
    /// Writes what was sent so far and stops; call once nothing sends outcomes any more.
    pub async fn finish(self) {
        let _ = self.close.send(true);
        let _ = self.task.await;
    }
}

/// Starts the writer.
pub fn spawn(store: Arc<dyn SenderStore>, batching: Batching) -> (OutcomeSender, WriterHandle) {
    let (sender, receiver) = mpsc::channel(batching.max_outcomes * 4);
    let (close, closed) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run(store, batching, receiver, closed));
    (sender, WriterHandle { close, task })
}

async fn run(
    store: Arc<dyn SenderStore>,
    batching: Batching,
    mut receiver: mpsc::Receiver<Pending>,
    mut closed: tokio::sync::watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(batching.max_outcomes);
    loop {
        let first = tokio::select! {
            item = receiver.recv() => item,
            _ = closed.changed() => {
                // Closing: whatever is already queued is the last of it.
                while let Ok(item) = receiver.try_recv() {
                    batch.push(item);
                    if batch.len() == batching.max_outcomes {
                        write(&store, &mut batch).await;
                    }
                }
                if !batch.is_empty() {
                    write(&store, &mut batch).await;
                }
                return;
            }
        };
        let Some(first) = first else {
            return;
        };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + batching.max_wait;
        while batch.len() < batching.max_outcomes {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(item)) => batch.push(item),
                Ok(None) | Err(_) => break,
            }
        }
        write(&store, &mut batch).await;
    }
}

/// Counts the outcomes that were written as status changes from `queued`.
fn count_transitions(outcomes: &[Outcome], written: &[MessageId]) {
    let written: HashSet<MessageId> = written.iter().copied().collect();
    let mut by_status = StatusCounts::default();
    for outcome in outcomes.iter().filter(|o| written.contains(&o.message_id)) {
        let status = outcome.kind.status();
        by_status.set(status, by_status.get(status) + 1);
    }
    for (status, count) in by_status.iter() {
        message_transitions("queued", status.as_str(), count);
    }
}

/// Writes one batch, retrying until the database takes it: acknowledging without a commit
/// would lose outcomes, and dropping them would send those messages again.
async fn write(store: &Arc<dyn SenderStore>, batch: &mut Vec<Pending>) {
    let outcomes: Arc<Vec<Outcome>> = Arc::new(batch.iter().map(|p| p.outcome.clone()).collect());
    let mut delay = Duration::from_millis(100);
    let written: HashSet<MessageId> = loop {
        let batch_outcomes = outcomes.clone();
        let result =
            blocking::call(store, move |store| store.record_outcomes(&batch_outcomes)).await;
        match result {
            Ok(written) => {
                count_transitions(&outcomes, &written);
                let skipped = outcomes.len() - written.len();
                if skipped > 0 {
                    tracing::debug!(skipped, "outcomes for messages settled elsewhere skipped");
                }
                break written.into_iter().collect();
            }
            Err(error) => {
                tracing::warn!(%error, count = outcomes.len(), "writing outcomes failed; retrying");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    };
    for pending in batch.drain(..) {
        drop(pending.permit);
        let message = pending.outcome.message_id;
        let settled = if written.contains(&message) {
            Settled::Written(&pending.outcome.kind)
        } else {
            Settled::Skipped
        };
        pending
            .ticket
            .settled(pending.mailing_id, message, settled)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn a_summary_lists_the_first_failures_and_counts_the_rest() {
        let mut tally = Tally::default();
        let failed = OutcomeKind::Failed {
            error: "probe answered 400".to_owned(),
        };
        let sent = OutcomeKind::Sent { at: Utc::now() };
        assert_eq!(tally.failure_ids(), None);
        for id in 1..=25 {
            tally.add(MessageId(id), Settled::Written(&failed));
            tally.add(MessageId(100 + id), Settled::Written(&sent));
        }
        tally.add(MessageId(200), Settled::Skipped);
        let listed: Vec<String> = (1..=20).map(|id| id.to_string()).collect();
        assert_eq!(
            tally.failure_ids().unwrap(),
            format!("{} and 5 more", listed.join(", "))
        );
        assert_eq!((tally.total(), tally.sent, tally.failed), (51, 25, 25));
        assert_eq!(tally.skipped, 1);
    }
}
