//! The queues of one in-process bus: a work queue per topic and a dead-letter list.

use super::lock;
use crate::Topic;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// Dead letters kept per bus; the oldest go first. RabbitMQ keeps them all, but in the
/// embedded process nobody may ever purge them, and the services only dead-letter payloads
/// they cannot parse, which the warning logged for each one already reports.
const DEAD_LETTER_CAPACITY: usize = 1_000;

/// What every connection of one [`InProcessBus`](super::InProcessBus) shares.
#[derive(Default)]
pub(super) struct Broker {
    events: Queue,
    jobs: Queue,
    /// Messages nacked without requeue, with the topic they were published to, oldest first.
    dead_letters: Mutex<VecDeque<(Topic, Vec<u8>)>>,
}

impl Broker {
    pub(super) fn queue(&self, topic: Topic) -> &Queue {
        match topic {
            Topic::MailingEvents => &self.events,
            Topic::SendJobs => &self.jobs,
        }
    }

    pub(super) fn dead_letter(&self, topic: Topic, payload: Vec<u8>) {
        tracing::warn!(
            %topic,
            bytes = payload.len(),
            "dead-lettered a message no consumer will handle"
        );
        let mut dead_letters = lock(&self.dead_letters);
        if dead_letters.len() == DEAD_LETTER_CAPACITY {
            dead_letters.pop_front();
        }
        dead_letters.push_back((topic, payload));
    }

    pub(super) fn dead_letters(&self) -> Vec<(Topic, Vec<u8>)> {
        lock(&self.dead_letters).iter().cloned().collect()
    }
}

/// One message in a queue, or handed out from it.
pub(super) struct Message {
    /// Publication order, which a requeued message keeps its place by.
    sequence: u64,
    pub(super) payload: Vec<u8>,
    /// It was handed out before.
    pub(super) redelivered: bool,
}

/// A work queue: the messages ready to be handed out, oldest first.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<QueueState>,
    /// Woken whenever messages become ready.
    ready: Notify,
}

#[derive(Default)]
struct QueueState {
    next_sequence: u64,
    /// Sorted by sequence.
    messages: VecDeque<Message>,
}

impl Queue {
    /// Appends every payload at once, so that a publish is taken whole or not at all.
    pub(super) fn publish(&self, payloads: Vec<Vec<u8>>) {
        let mut state = lock(&self.state);
        for payload in payloads {
            let sequence = state.next_sequence;
            state.next_sequence += 1;
            state.messages.push_back(Message {
                sequence,
                payload,
                redelivered: false,
            });
        }
        drop(state);
        self.ready.notify_waiters();
    }

    /// Puts messages that were handed out back in their places, marked redelivered: a message
    /// given back goes out again before the ones published after it, as RabbitMQ does.
    pub(super) fn requeue(&self, returned: impl IntoIterator<Item = Message>) {
        let mut state = lock(&self.state);
        for mut message in returned {
            message.redelivered = true;
            let place = state
                .messages
                .partition_point(|queued| queued.sequence < message.sequence);
            state.messages.insert(place, message);
        }
        drop(state);
        self.ready.notify_waiters();
    }

    /// The oldest ready message.
    pub(super) fn pop(&self) -> Option<Message> {
        lock(&self.state).messages.pop_front()
    }

    pub(super) fn len(&self) -> usize {
        lock(&self.state).messages.len()
    }

    /// Resolves once messages are published or requeued after this call: create it before
    /// looking at the queue, then wait on it only if the look found nothing.
    pub(super) fn ready(&self) -> Notified<'_> {
        self.ready.notified()
    }
}
