//! One `connect` to an in-process bus: it tracks the deliveries it handed out, so that they
//! return to their queue when it closes, as a RabbitMQ connection's do.

use super::broker::{Broker, Message};
use super::credit::Credit;
use super::lock;
use crate::gate::Gate;
use crate::{BusError, Topic};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(super) struct Connection {
    broker: Arc<Broker>,
    gate: Gate,
    /// Locked before a queue when both are: taking a message and recording it as unsettled
    /// is one step, so `close` finds every message handed out.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_tag: u64,
    unsettled: HashMap<u64, Unsettled>,
}

/// A message handed out and not yet settled. Whoever removes it from the connection's map
/// (a settlement or `close`) owns it.
struct Unsettled {
    topic: Topic,
    message: Message,
    credit: Arc<Credit>,
}

/// What [`Connection::take`] found.
pub(super) enum Taken {
    Delivery {
        tag: u64,
        payload: Vec<u8>,
        redelivered: bool,
    },
    /// The subscription holds as many unsettled deliveries as its prefetch allows.
    NoCredit,
    Empty,
}

pub(super) enum Settlement {
    Ack,
    Requeue,
    DeadLetter,
}

impl Connection {
    pub(super) fn open(broker: Arc<Broker>) -> Connection {
        Connection {
            broker,
            gate: Gate::default(),
            state: Mutex::default(),
        }
    }

    pub(super) fn broker(&self) -> &Broker {
        &self.broker
    }

    pub(super) fn gate(&self) -> &Gate {
        &self.gate
    }

    pub(super) fn ensure_open(&self) -> Result<(), BusError> {
        if self.gate.is_closed() {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    /// Hands out the oldest ready message of `topic`, if `credit` allows one more.
    pub(super) fn take(&self, topic: Topic, credit: &Arc<Credit>) -> Result<Taken, BusError> {
        let mut state = lock(&self.state);
        self.ensure_open()?;
        if !credit.available() {
            return Ok(Taken::NoCredit);
        }
        let Some(message) = self.broker.queue(topic).pop() else {
            return Ok(Taken::Empty);
        };
        credit.spend();
        let tag = state.next_tag;
        state.next_tag += 1;
        // The consumer owns the delivery's payload; the copy here is what a requeue sends.
        let taken = Taken::Delivery {
            tag,
            payload: message.payload.clone(),
            redelivered: message.redelivered,
        };
        let unsettled = Unsettled {
            topic,
            message,
            credit: Arc::clone(credit),
        };
        state.unsettled.insert(tag, unsettled);
        Ok(taken)
    }

    /// Whether delivery `tag` is still out with this connection, unsettled.
    pub(super) fn holds(&self, tag: u64) -> bool {
        lock(&self.state).unsettled.contains_key(&tag)
    }

    /// Settles delivery `tag`; [`BusError::Closed`] if `close` returned it to its queue
    /// already.
    pub(super) fn settle(&self, tag: u64, settlement: Settlement) -> Result<(), BusError> {
        let Some(Unsettled {
            topic,
            message,
            credit,
        }) = lock(&self.state).unsettled.remove(&tag)
        else {
            return Err(BusError::Closed);
        };
        match settlement {
            Settlement::Ack => {}
            Settlement::Requeue => self.broker.queue(topic).requeue([message]),
            Settlement::DeadLetter => self.broker.dead_letter(topic, message.payload),
        }
        // Only now, so that a requeued message is back in its place before the subscription
        // wakes up to take the next one.
        credit.give_back();
        Ok(())
    }

    /// Refuses further work, ends the subscriptions, and returns every unsettled delivery to
    /// its queue. Returns whether this call was the one that closed it.
    pub(super) fn close(&self) -> bool {
        let returned: Vec<Unsettled> = {
            let mut state = lock(&self.state);
            if !self.gate.close() {
                return false;
            }
            state
                .unsettled
                .drain()
                .map(|(_, unsettled)| unsettled)
                .collect()
        };
        let mut by_topic: HashMap<Topic, Vec<Message>> = HashMap::new();
        for Unsettled { topic, message, .. } in returned {
            by_topic.entry(topic).or_default().push(message);
        }
        // No credit goes back: the subscriptions end with the connection.
        for (topic, messages) in by_topic {
            tracing::debug!(%topic, messages = messages.len(), "requeued unsettled deliveries");
            self.broker.queue(topic).requeue(messages);
        }
        true
    }
}
