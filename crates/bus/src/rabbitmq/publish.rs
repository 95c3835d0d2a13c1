//! Publishing with publisher confirms.

use super::errors::from_lapin;
use crate::BusError;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, Confirmation};

/// AMQP delivery mode 2: the broker writes the message to disk before confirming it.
const PERSISTENT: u8 = 2;

/// Publishes every payload, all in flight at once, and waits for the broker's confirms.
pub(super) async fn publish_all(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    payloads: &[Vec<u8>],
) -> Result<(), BusError> {
    let properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type("application/json".into());
    // Mandatory: a message no queue takes comes back instead of vanishing, and counts as
    // refused below.
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let confirms = payloads.iter().map(|payload| {
        let properties = properties.clone();
        async move {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    options,
                    payload,
                    properties,
                )
                .await?
                .await
        }
    });
    let confirmations = futures_util::future::try_join_all(confirms)
        .await
        .map_err(|error| from_lapin(&error))?;
    let refused = confirmations
        .iter()
        .filter(|confirmation| !matches!(confirmation, Confirmation::Ack(None)))
        .count();
    if refused > 0 {
        return Err(BusError::Rejected {
            refused,
            total: payloads.len(),
        });
    }
    Ok(())
}
