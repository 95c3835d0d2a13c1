//! A subscription: one channel, one consumer, a stream that rides out reconnections.

use super::errors::from_lapin;
use crate::gate::Gate;
use crate::{Acknowledge, BoxFuture, BusError, Delivery, Subscription, Topic};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Acker, Channel, ConnectionStatus, Consumer};
use std::sync::Arc;
use std::time::Duration;

/// How often a subscription waiting for recovery checks whether recovery was abandoned; lapin
/// only signals a recovery that succeeded.
const RECOVERY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

pub(super) struct Consuming {
    pub(super) channel: Channel,
    pub(super) queue: String,
    pub(super) consumer_tag: String,
    pub(super) topic: Topic,
    pub(super) connection: ConnectionStatus,
    pub(super) gate: Arc<Gate>,
}

/// Starts the consumer on a channel that already declared the topology.
pub(super) async fn start(consuming: Consuming, prefetch: u16) -> Result<Subscription, BusError> {
    let channel = &consuming.channel;
    channel
        .basic_qos(prefetch.max(1), BasicQosOptions::default())
        .await
        .map_err(|error| from_lapin(&error))?;
    let consumer = channel
        .basic_consume(
            consuming.queue.as_str().into(),
            consuming.consumer_tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|error| from_lapin(&error))?;
    let state = State {
        consumer,
        consuming,
    };
    // Dropping the stream drops the consumer, whose last handle sends basic.cancel; the
    // channel closes once the deliveries handed out are settled too, and the broker then
    // requeues whatever was prefetched and never handed out.
    Ok(Subscription::new(futures_util::stream::unfold(
        Some(state),
        next_delivery,
    )))
}

struct State {
    consumer: Consumer,
    consuming: Consuming,
}

async fn next_delivery(
    state: Option<State>,
) -> Option<(Result<Delivery, BusError>, Option<State>)> {
    let mut state = state?;
    loop {
        // lapin tells a consumer nothing when the connection drops, it just goes quiet until
        // the recovery, so a close during an outage must be watched for here.
        let next = tokio::select! {
            next = state.consumer.next() => next,
            () = state.consuming.gate.closed() => return Some((Err(BusError::Closed), None)),
        };
        match next {
            Some(Ok(delivery)) => {
                let acker = PendingAck {
                    acker: Some(delivery.acker),
                    channel: state.consuming.channel.clone(),
                    gate: Arc::clone(&state.consuming.gate),
                };
                let delivery = Delivery::new(delivery.data, delivery.redelivered, acker);
                return Some((Ok(delivery), Some(state)));
            }
            Some(Err(error)) => {
                if let Err(error) = state.wait_for_recovery(error).await {
                    return Some((Err(error), None));
                }
            }
            None => {
                let error = if state.consuming.gate.is_closed() {
                    BusError::Closed
                } else {
                    BusError::Protocol(format!(
                        "the broker cancelled the subscription to {} (was queue {} deleted?)",
                        state.consuming.topic, state.consuming.queue
                    ))
                };
                return Some((Err(error), None));
            }
        }
    }
}

impl State {
    async fn wait_for_recovery(&self, error: lapin::Error) -> Result<(), BusError> {
        let consuming = &self.consuming;
        let recovered = consuming.channel.wait_for_recovery(error);
        tokio::pin!(recovered);
        loop {
            tokio::select! {
                result = &mut recovered => return result.map_err(|error| from_lapin(&error)),
                () = consuming.gate.closed() => return Err(BusError::Closed),
                () = tokio::time::sleep(RECOVERY_CHECK_INTERVAL) => {
                    if consuming.connection.errored() || consuming.connection.closed() {
                        return Err(BusError::Unavailable(
                            "the connection to the broker was lost and could not be restored"
                                .to_owned(),
                        ));
                    }
                }
            }
        }
    }
}

/// Settles one delivery. Holds a handle to the channel so that the channel stays open, and
/// the delivery can still be acknowledged, after its subscription was cancelled.
struct PendingAck {
    acker: Option<Acker>,
    channel: Channel,
    gate: Arc<Gate>,
}

enum Settlement {
    Ack,
    Nack { requeue: bool },
}

impl PendingAck {
    fn settle(
        mut self: Box<Self>,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), BusError>> {
        let acker = self.acker.take();
        Box::pin(async move {
            let Some(acker) = acker else {
                return Ok(());
            };
            let sent = match settlement {
                Settlement::Ack => acker.ack(BasicAckOptions::default()).await,
                Settlement::Nack { requeue } => {
                    acker
                        .nack(BasicNackOptions {
                            requeue,
                            multiple: false,
                        })
                        .await
                }
            };
            let outcome = match sent {
                Ok(true) => Ok(()),
                _ if self.gate.is_closed() => Err(BusError::Closed),
                // lapin refuses to send an acknowledgement whose channel closed or was
                // recovered since: its delivery tag would name a different message now.
                Ok(false) => Err(BusError::Unavailable(
                    "the delivery's channel closed before it was settled; the broker will \
                     deliver it again"
                        .to_owned(),
                )),
                Err(error) => Err(from_lapin(&error)),
            };
            // Only now may the channel close.
            drop(self);
            outcome
        })
    }
}

impl Acknowledge for PendingAck {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        self.settle(Settlement::Ack)
    }

    fn nack(self: Box<Self>, requeue: bool) -> BoxFuture<'static, Result<(), BusError>> {
        self.settle(Settlement::Nack { requeue })
    }

    fn held(&self) -> bool {
        // lapin poisons the acker of every delivery whose channel closed or failed, recovered
        // since or not: the broker requeued those deliveries with the channel.
        !self.gate.is_closed() && self.acker.as_ref().is_some_and(Acker::usable)
    }
}

impl Drop for PendingAck {
    fn drop(&mut self) {
        let Some(acker) = self.acker.take() else {
            return;
        };
        // The bus's runtime exists: this delivery came through it. Were it missing, the
        // message would still return, later: when the channel closes.
        if let Ok(runtime) = super::connection::io_runtime() {
            let channel = self.channel.clone();
            runtime.spawn(async move {
                let requeue = BasicNackOptions {
                    requeue: true,
                    multiple: false,
                };
                // A failure means the channel is gone, and with it the delivery: it is
                // requeued either way.
                let _ = acker.nack(requeue).await;
                drop(channel);
            });
        }
    }
}
