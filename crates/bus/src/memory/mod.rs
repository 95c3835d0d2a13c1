//! The in-process adapter of the embedded mode, for `memory://<name>` URLs.
//!
//! Every [`crate::connect`] in the process with the same name and namespace reaches the same
//! [`Broker`](broker::Broker): a work queue per topic and a dead-letter list, kept in memory
//! only, for the life of the process. Each `connect` gets a [`Connection`] of its own to it,
//! which records the deliveries it handed out, so that closing or dropping that bus returns
//! them to their queues as a RabbitMQ connection's would.
//!
//! Locks are plain mutexes held for a few instructions and never across an await; waiting
//! (for messages, for prefetch credit, for the close) goes through tokio's `Notify` and
//! `watch`, so nothing polls.

mod address;
#[cfg(feature = "testing")]
pub(crate) mod admin;
mod broker;
mod connection;
mod consume;
mod credit;
mod registry;

use crate::{BoxFuture, Bus, BusError, BusOptions, Subscription, Topic};
use connection::Connection;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(crate) struct MemoryBus {
    connection: Arc<Connection>,
}

impl MemoryBus {
    pub(crate) fn connect(url: &str, options: &BusOptions) -> Result<MemoryBus, BusError> {
        let name = address::name(url)?;
        let broker = registry::hold(&options.namespace, name);
        tracing::info!(
            name,
            namespace = options.namespace,
            client = options.client_name,
            "connected to the in-process message bus"
        );
        Ok(MemoryBus {
            connection: Arc::new(Connection::open(broker)),
        })
    }
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

#[cfg(test)]
mod tests;
