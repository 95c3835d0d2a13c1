//! Subscriptions to an in-process queue, and the settling of their deliveries.
//!
//! A subscription takes a message off its queue only when its stream is polled and its
//! prefetch allows one more, and yields it in the same poll. Nothing is ever prefetched and
//! held back, so a cancelled or dropped subscription has nothing to return, and competing
//! subscribers take what they can handle.

use super::connection::{Connection, Settlement, Taken};
use super::credit::Credit;
use crate::{Acknowledge, BoxFuture, BusError, Delivery, Subscription, Topic};
use std::sync::Arc;

pub(super) fn subscribe(
    connection: &Arc<Connection>,
    topic: Topic,
    prefetch: u16,
) -> Result<Subscription, BusError> {
    connection.ensure_open()?;
    let consumer = Consumer {
        connection: Arc::clone(connection),
        topic,
        credit: Arc::new(Credit::new(prefetch)),
    };
    Ok(Subscription::new(futures_util::stream::unfold(
        Some(consumer),
        next_delivery,
    )))
}

struct Consumer {
    connection: Arc<Connection>,
    topic: Topic,
    credit: Arc<Credit>,
}

async fn next_delivery(
    consumer: Option<Consumer>,
) -> Option<(Result<Delivery, BusError>, Option<Consumer>)> {
    let consumer = consumer?;
    match consumer.next().await {
        Ok(delivery) => Some((Ok(delivery), Some(consumer))),
        Err(error) => Some((Err(error), None)),
    }
}

impl Consumer {
    /// Waits for a message and the credit to take it, or for the bus to close.
    async fn next(&self) -> Result<Delivery, BusError> {
        let queue = self.connection.broker().queue(self.topic);
        loop {
            // Registered before looking, so that a publish or a settlement between the look
            // and the wait still wakes us.
            let ready = queue.ready();
            let returned = self.credit.returned();
            tokio::pin!(ready, returned);
            ready.as_mut().enable();
            returned.as_mut().enable();
            let wakeup = match self.connection.take(self.topic, &self.credit)? {
                Taken::Delivery {
                    tag,
                    payload,
                    redelivered,
                } => {
                    let settle = Settle {
                        connection: Arc::clone(&self.connection),
                        tag,
                        settled: false,
                    };
                    return Ok(Delivery::new(payload, redelivered, settle));
                }
                Taken::Empty => ready,
                Taken::NoCredit => returned,
            };
            tokio::select! {
                () = wakeup => {}
                () = self.connection.gate().closed() => {}
            }
        }
    }
}

/// Settles one delivery with the connection that handed it out. Settling is immediate: the
/// returned futures are ready at once.
struct Settle {
    connection: Arc<Connection>,
    tag: u64,
    settled: bool,
}

impl Settle {
    fn settle(&mut self, settlement: Settlement) -> BoxFuture<'static, Result<(), BusError>> {
        self.settled = true;
        Box::pin(std::future::ready(
            self.connection.settle(self.tag, settlement),
        ))
    }
}

impl Acknowledge for Settle {
    fn ack(mut self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        self.settle(Settlement::Ack)
    }

    fn nack(mut self: Box<Self>, requeue: bool) -> BoxFuture<'static, Result<(), BusError>> {
        self.settle(if requeue {
            Settlement::Requeue
        } else {
            Settlement::DeadLetter
        })
    }

    fn held(&self) -> bool {
        !self.settled && self.connection.holds(self.tag)
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if !self.settled {
            // An error means the connection closed and returned the message already.
            let _ = self.connection.settle(self.tag, Settlement::Requeue);
        }
    }
}
