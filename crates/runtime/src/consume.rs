//! Consuming one topic until the service stops: subscribing, and subscribing again after the
//! subscription ended (a broker restart, a cancelled consumer), without ever giving up.

use crate::Stop;
use mailing_bus::{Bus, Delivery, Topic};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait before subscribing again after a failed attempt.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Hands every delivery of `topic` to `handle`, one at a time, with at most `prefetch`
/// unsettled, until `stop` is asked.
pub async fn each_delivery<F, Fut>(
    bus: Arc<dyn Bus>,
    topic: Topic,
    prefetch: u16,
    mut stop: Stop,
    mut handle: F,
) where
    F: FnMut(Delivery) -> Fut,
    Fut: Future<Output = ()>,
{
    while !stop.is_requested() {
        let subscribed = tokio::select! {
            () = stop.requested() => return,
            subscribed = bus.subscribe(topic, prefetch) => subscribed,
        };
        let mut subscription = match subscribed {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::warn!(%error, %topic, "cannot subscribe; retrying");
                tokio::select! {
                    () = stop.requested() => return,
                    () = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
                }
                continue;
            }
        };
        loop {
            let delivery = tokio::select! {
                () = stop.requested() => return,
                delivery = subscription.next() => delivery,
            };
            match delivery {
                Some(Ok(delivery)) => handle(delivery).await,
                Some(Err(error)) => {
                    tracing::warn!(%error, %topic, "subscription ended; subscribing again");
                    break;
                }
                None => break,
            }
        }
    }
}
