//! Mailing events from the api: they wake the scheduler early and trigger re-planning after an
//! update. Losing one costs only latency, since the tick finds the same work in the database.

use crate::tick::Scheduler;
use mailing_bus::{Bus, Delivery, Topic};
use mailing_domain::events::{self, MailingEvent};
use mailing_runtime::Stop;
use mailing_runtime::consume::each_delivery;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Mailing events held at once; each is handled in a moment.
const PREFETCH: u16 = 32;

/// Consumes mailing events until `stop` is asked.
pub async fn consume(scheduler: Arc<Scheduler>, bus: Arc<dyn Bus>, wake: Arc<Notify>, stop: Stop) {
    each_delivery(bus, Topic::MailingEvents, PREFETCH, stop, |delivery| {
        handle(&scheduler, &wake, delivery)
    })
    .await;
}

async fn handle(scheduler: &Scheduler, wake: &Notify, delivery: Delivery) {
    match events::decode::<MailingEvent>(&delivery.payload) {
        Ok(event) => {
            let mailing_id = event.mailing_id();
            tracing::debug!(
                mailing_id = mailing_id.0,
                event = %String::from_utf8_lossy(&events::encode(&event)),
                "mailing event"
            );
            if let MailingEvent::MailingUpdated { .. } = event
                && let Err(error) = scheduler.replan(mailing_id).await
            {
                // Keep the event: the database may be back in a moment.
                tracing::warn!(mailing_id = mailing_id.0, %error, "re-planning failed; event returned to the queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = delivery.nack(true).await;
                return;
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
