//! Operations on an in-process bus from outside a connection, for the testing helpers.

use super::{address, registry};
use crate::BusError;
use crate::testing::DeadLetter;

/// The dead letters of the bus `url` names in `namespace`, oldest first; none if nobody
/// connected to it yet.
pub(crate) fn dead_letters(url: &str, namespace: &str) -> Result<Vec<DeadLetter>, BusError> {
    let name = address::name(url)?;
    Ok(registry::find(namespace, name)
        .map(|broker| broker.dead_letters())
        .unwrap_or_default()
        .into_iter()
        .map(|(topic, payload)| DeadLetter { topic, payload })
        .collect())
}

/// Forgets the bus `url` names in `namespace`, with its messages, once its connections are
/// gone.
pub(crate) fn delete(url: &str, namespace: &str) -> Result<(), BusError> {
    registry::forget(namespace, address::name(url)?);
    Ok(())
}
