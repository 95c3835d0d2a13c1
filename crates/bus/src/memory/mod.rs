//! The in-process adapter of the embedded mode: an [`InProcessBus`] that the process running
//! several services creates once and hands to each of them.
//!
//! Each service gets a connection of its own ([`InProcessBus::connect`]), which records the
//! deliveries it handed out, so that closing or dropping that connection returns them to their
//! queues as a RabbitMQ connection's would. The queues (a work queue per topic and a
//! dead-letter list) live as long as the bus value, in memory only.
//!
//! Locks are plain mutexes held for a few instructions and never across an await; waiting
//! (for messages, for prefetch credit, for the close) goes through tokio's `Notify` and
//! `watch`, so nothing polls.

mod broker;
mod connection;
mod consume;
mod credit;

use crate::{BoxFuture, Bus, BusError, Subscription, Topic};
use broker::Broker;
use connection::Connection;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One in-process bus: what its connections share. Cloning it gives another handle to the same
/// queues.
#[derive(Clone, Default)]
pub struct InProcessBus {
    broker: Arc<Broker>,
}

impl std::fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessBus")
    }
}

impl InProcessBus {
    /// A new bus with empty queues.
    pub fn new() -> InProcessBus {
        InProcessBus::default()
    }

    /// A connection for one service, named `client` in logs. Every connection of this bus
    /// reaches the same queues.
    pub fn connect(&self, client: &str) -> Arc<dyn Bus> {
        tracing::debug!(client, "connected to the in-process message bus");
        Arc::new(MemoryBus {
            connection: Arc::new(Connection::open(Arc::clone(&self.broker))),
        })
    }

    /// The messages nacked without requeue, with the topic they were published to, oldest
    /// first; they stay.
    pub fn dead_letters(&self) -> Vec<(Topic, Vec<u8>)> {
        self.broker.dead_letters()
    }
}

/// One connection to an [`InProcessBus`].
struct MemoryBus {
    connection: Arc<Connection>,
}

impl Drop for MemoryBus {
    /// Like a RabbitMQ connection dropped: subscriptions end, and unsettled deliveries go
    /// back to their queues.
    fn drop(&mut self) {
        self.connection.close();
    }
}

impl Bus for MemoryBus {
    fn publish(&self, topic: Topic, payloads: Vec<Vec<u8>>) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            self.connection.ensure_open()?;
            if !payloads.is_empty() {
                // In the queue is as confirmed as an in-process message gets.
                self.connection.broker().queue(topic).publish(payloads);
            }
            Ok(())
        })
    }

    fn subscribe(
        &self,
        topic: Topic,
        prefetch: u16,
    ) -> BoxFuture<'_, Result<Subscription, BusError>> {
        Box::pin(async move { consume::subscribe(&self.connection, topic, prefetch) })
    }

    fn pending(&self, topic: Topic) -> BoxFuture<'_, Result<u64, BusError>> {
        Box::pin(async move {
            self.connection.ensure_open()?;
            Ok(self.connection.broker().queue(topic).len() as u64)
        })
    }

    fn is_connected(&self) -> bool {
        !self.connection.gate().is_closed()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.connection.close() {
                tracing::info!("closed the in-process message bus connection");
            }
        })
    }
}

/// Every critical section here is a few instructions that cannot leave the data half
/// changed, so a panic elsewhere while one was held is no reason to stop.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
