//! Operations on a namespace from outside a bus, for the testing helpers.

use super::topology::{self, Names};
use super::url::BrokerUrl;
use super::{REPLY_SUCCESS, errors::from_lapin};
use crate::BusError;
use crate::testing::DeadLetter;
use lapin::options::BasicGetOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use std::time::Duration;

/// A short-lived connection of its own that runs `job` on one channel.
async fn with_channel<T>(
    url: &str,
    job: impl AsyncFnOnce(&Channel) -> lapin::Result<T>,
) -> Result<T, BusError> {
    let broker = BrokerUrl::parse(url)?;
    let connecting = Connection::connect_uri(broker.uri.clone(), ConnectionProperties::default());
    let connection = tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| BusError::Unavailable("timed out connecting to the broker".to_owned()))?
        .map_err(|error| broker.scrub_error(from_lapin(&error)))?;
    let outcome = match connection.create_channel().await {
        Ok(channel) => job(&channel).await.map_err(|error| from_lapin(&error)),
        Err(error) => Err(from_lapin(&error)),
    };
    let _ = connection.close(REPLY_SUCCESS, "OK".into()).await;
    outcome
}

/// Removes every exchange and queue of `namespace`, with their messages.
pub(crate) async fn delete_topology(url: &str, namespace: &str) -> Result<(), BusError> {
    let names = Names::new(namespace);
    with_channel(url, async |channel: &Channel| {
        topology::delete(channel, &names).await
    })
    .await
}

/// How many messages wait in the dead-letter queue of `namespace`.
pub(crate) async fn dead_lettered(url: &str, namespace: &str) -> Result<u64, BusError> {
    let names = Names::new(namespace);
    with_channel(url, async |channel: &Channel| {
        topology::depth(channel, &names.dead_letter_queue).await
    })
    .await
    .map(u64::from)
}

/// The messages in the dead-letter queue of `namespace`, oldest first. They stay there: they
/// are taken without acknowledgement, and closing the connection returns them.
pub(crate) async fn dead_letters(url: &str, namespace: &str) -> Result<Vec<DeadLetter>, BusError> {
    let names = Names::new(namespace);
    let messages = with_channel(url, async |channel: &Channel| {
        let mut messages = Vec::new();
        let unacknowledged = BasicGetOptions { no_ack: false };
        while let Some(message) = channel
            .basic_get(names.dead_letter_queue.as_str().into(), unacknowledged)
            .await?
        {
            let delivery = message.delivery;
            messages.push((delivery.routing_key.as_str().to_owned(), delivery.data));
        }
        Ok(messages)
    })
    .await?;
    messages
        .into_iter()
        .map(|(routing_key, payload)| {
            let topic = topology::topic_of(&routing_key).ok_or_else(|| {
                BusError::Protocol(format!("a dead letter with routing key {routing_key:?}"))
            })?;
            Ok(DeadLetter { topic, payload })
        })
        .collect()
}
