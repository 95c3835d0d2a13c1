//! Mailing events from the api: they wake the scheduler early and trigger re-planning after an
//! update. Losing one costs only latency, since the tick finds the same work in the database.

use crate::tick::Scheduler;
use mailing_bus::{Bus, Topic};
use mailing_domain::events::{self, MailingEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Consumes mailing events until `stop` turns true.
pub async fn consume(
    scheduler: Arc<Scheduler>,
    bus: Arc<dyn Bus>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let mut subscription = match bus.subscribe(Topic::MailingEvents, 32).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to mailing events; retrying");
                tokio::select! {
                    _ = stop.changed() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        loop {
            let delivery = tokio::select! {
                _ = stop.changed() => return,
                delivery = subscription.next() => delivery,
            };
            let delivery = match delivery {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => {
                    tracing::warn!(%error, "mailing event subscription ended; subscribing again");
                    break;
                }
                None => break,
            };
            match events::decode::<MailingEvent>(&delivery.payload) {
                Ok(event) => {
                    let mailing_id = event.mailing_id();
                    tracing::debug!(mailing_id = mailing_id.0, ?event, "mailing event");
                    if let MailingEvent::MailingUpdated { .. } = event
                        && let Err(error) = scheduler.replan(mailing_id).await
                    {
                        // Keep the event: the database may be back in a moment.
                        tracing::warn!(mailing_id = mailing_id.0, %error, "re-planning failed; event returned to the queue");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let _ = delivery.nack(true).await;
                        continue;
                    }
                    wake.notify_one();
                    if let Err(error) = delivery.ack().await {
                        tracing::warn!(mailing_id = mailing_id.0, %error, "event ack failed; it will come again");
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "unreadable mailing event sent to the dead-letter queue");
                    let _ = delivery.nack(false).await;
                }
            }
        }
    }
}
