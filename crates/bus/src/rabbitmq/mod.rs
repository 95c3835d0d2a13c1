//! The RabbitMQ adapter: one long-lived connection per process, a confirm channel for
//! publishing, a channel per subscription.
//!
//! Exchanges and queues of namespace `{ns}`:
//! - `{ns}.events`, a durable topic exchange, feeding the durable queue `{ns}.scheduler.events`
//!   ([`Topic::MailingEvents`]);
//! - `{ns}.send`, a durable direct exchange, feeding the durable queue `{ns}.sender.jobs`
//!   ([`Topic::SendJobs`]);
//! - `{ns}.dead-letter`, a durable fanout exchange, feeding the durable queue of the same name,
//!   into which both work queues dead-letter the messages nacked without requeue.

#[cfg(feature = "testing")]
pub(crate) mod admin;
mod connection;
mod consume;
mod errors;
mod publish;
mod topology;
mod url;

use crate::gate::Gate;
use crate::{BoxFuture, Bus, BusError, BusOptions, Subscription, Topic};
use errors::from_lapin;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::task::JoinHandle;
use topology::Names;
use url::BrokerUrl;

const REPLY_SUCCESS: u16 = 200;

/// Checks a broker URL as [`RabbitMqBus::connect`] would read it, without connecting.
pub(crate) fn check_url(url: &str) -> Result<(), BusError> {
    BrokerUrl::parse(url).map(drop)
}

pub(crate) struct RabbitMqBus {
    connection: Connection,
    names: Names,
    client_name: String,
    gate: Arc<Gate>,
    /// Replaced when the broker closed it (a channel-level error); lapin recovers it by itself
    /// after a connection loss.
    publisher: tokio::sync::Mutex<Option<Channel>>,
    subscriptions: AtomicU64,
    watcher: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl RabbitMqBus {
    pub(crate) async fn connect(url: &str, options: &BusOptions) -> Result<RabbitMqBus, BusError> {
        let broker = BrokerUrl::parse(url)?;
        Self::connect_to(&broker, options)
            .await
            .map_err(|error| broker.scrub_error(error))
    }

    async fn connect_to(broker: &BrokerUrl, options: &BusOptions) -> Result<RabbitMqBus, BusError> {
        let gate = Arc::new(Gate::default());
        let connection = connection::open(broker, options, &gate).await?;
        let names = Names::new(&options.namespace);
        let publisher = match open_publisher(&connection, &names).await {
            Ok(publisher) => publisher,
            Err(error) => {
                gate.close();
                let _ = connection.close(REPLY_SUCCESS, "OK".into()).await;
                return Err(error);
            }
        };
        let watcher = connection::watch(connection.status().clone(), Arc::clone(&gate));
        tracing::info!(
            host = broker.host(),
            port = broker.port(),
            namespace = options.namespace,
            "connected to the message broker"
        );
        Ok(RabbitMqBus {
            connection,
            names,
            client_name: options.client_name.clone(),
            gate,
            publisher: tokio::sync::Mutex::new(Some(publisher)),
            subscriptions: AtomicU64::new(0),
            watcher: std::sync::Mutex::new(watcher),
        })
    }

    fn ensure_open(&self) -> Result<(), BusError> {
        if self.gate.is_closed() {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    async fn publisher(&self) -> Result<Channel, BusError> {
        let mut publisher = self.publisher.lock().await;
        if let Some(channel) = publisher.as_ref() {
            if channel.status().connected() {
                return Ok(channel.clone());
            }
            if channel.status().reconnecting() || !self.connection.status().connected() {
                return Err(BusError::Unavailable(
                    "reconnecting to the message broker".to_owned(),
                ));
            }
        }
        let channel = open_publisher(&self.connection, &self.names).await?;
        *publisher = Some(channel.clone());
        Ok(channel)
    }

    async fn publish(&self, topic: Topic, payloads: Vec<Vec<u8>>) -> Result<(), BusError> {
        self.ensure_open()?;
        if payloads.is_empty() {
            return Ok(());
        }
        let channel = self.publisher().await?;
        let (exchange, routing_key) = self.names.route(topic);
        match publish::publish_all(&channel, exchange, routing_key, &payloads).await {
            // The broker closed the channel over something a fresh channel repairs (most
            // likely an exchange deleted under us, which it declares again): worth a retry.
            Err(BusError::Protocol(reason)) if !channel.status().connected() => {
                Err(BusError::Unavailable(format!(
                    "the broker closed the publishing channel ({reason}); the next publish \
                     declares the topology again"
                )))
            }
            outcome => outcome,
        }
    }

    async fn subscribe(&self, topic: Topic, prefetch: u16) -> Result<Subscription, BusError> {
        self.ensure_open()?;
        let channel = open_channel(&self.connection, &self.names).await?;
        let number = self.subscriptions.fetch_add(1, Ordering::Relaxed) + 1;
        let consuming = consume::Consuming {
            channel,
            queue: self.names.queue(topic).to_owned(),
            // Ours rather than the broker's, so the tag lapin replays after a recovery is
            // one we can recognise in the broker's tools.
            consumer_tag: format!("{}.{}.{number}", self.client_name, topic.name()),
            topic,
            connection: self.connection.status().clone(),
            gate: Arc::clone(&self.gate),
        };
        consume::start(consuming, prefetch).await
    }

    async fn pending(&self, topic: Topic) -> Result<u64, BusError> {
        self.ensure_open()?;
        let channel = self
            .connection
            .create_channel()
            .await
            .map_err(|error| from_lapin(&error))?;
        let depth = topology::depth(&channel, self.names.queue(topic))
            .await
            .map_err(|error| from_lapin(&error));
        let _ = channel.close(REPLY_SUCCESS, "OK".into()).await;
        depth.map(u64::from)
    }

    async fn close(&self) {
        if !self.gate.close() {
            return;
        }
        self.stop_watcher();
        self.publisher.lock().await.take();
        if self.connection.status().connected()
            && let Err(error) = self.connection.close(REPLY_SUCCESS, "OK".into()).await
        {
            tracing::debug!(%error, "closing the message bus connection");
        }
        tracing::info!("closed the message bus connection");
    }

    fn stop_watcher(&self) {
        let watcher = self
            .watcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(watcher) = watcher {
            watcher.abort();
        }
    }
}

impl Drop for RabbitMqBus {
    fn drop(&mut self) {
        // Dropping the connection handle closes it; the gate keeps lapin from redialling if
        // the drop comes in the middle of an outage.
        self.gate.close();
        self.stop_watcher();
    }
}

impl Bus for RabbitMqBus {
    fn publish(&self, topic: Topic, payloads: Vec<Vec<u8>>) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(RabbitMqBus::publish(self, topic, payloads))
    }

    fn subscribe(
        &self,
        topic: Topic,
        prefetch: u16,
    ) -> BoxFuture<'_, Result<Subscription, BusError>> {
        Box::pin(RabbitMqBus::subscribe(self, topic, prefetch))
    }

    fn pending(&self, topic: Topic) -> BoxFuture<'_, Result<u64, BusError>> {
        Box::pin(RabbitMqBus::pending(self, topic))
    }

    fn is_connected(&self) -> bool {
        !self.gate.is_closed() && self.connection.status().connected()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(RabbitMqBus::close(self))
    }
}

/// A channel on which the whole topology is declared, so that lapin re-declares it there when
/// it recovers the channel.
async fn open_channel(connection: &Connection, names: &Names) -> Result<Channel, BusError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(|error| from_lapin(&error))?;
    topology::declare(&channel, names)
        .await
        .map_err(|error| from_lapin(&error))?;
    Ok(channel)
}

async fn open_publisher(connection: &Connection, names: &Names) -> Result<Channel, BusError> {
    let channel = open_channel(connection, names).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|error| from_lapin(&error))?;
    Ok(channel)
}
