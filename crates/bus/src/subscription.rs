use crate::{BoxFuture, BusError};
use futures_util::Stream;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How an adapter settles one delivery with its backend. Adapters (and test doubles of the
/// services) implement it; services only call [`Delivery::ack`] and [`Delivery::nack`].
///
/// An implementation dropped without being settled must return its message to the queue, as
/// if nacked with `requeue`: a consumer that drops a delivery on an error path must not strand
/// the message until its connection closes.
pub trait Acknowledge: Send + Sync + 'static {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>>;
    fn nack(self: Box<Self>, requeue: bool) -> BoxFuture<'static, Result<(), BusError>>;
    /// Whether the message is still this consumer's to settle: false once the connection or
    /// channel it came through is gone, when the broker takes it back to hand out again.
    fn held(&self) -> bool;
}

/// One message handed to a consumer. Settle it with [`Delivery::ack`] once its work is
/// committed, or with [`Delivery::nack`]; dropping it unsettled requeues it.
pub struct Delivery {
    pub payload: Vec<u8>,
    /// The message was handed out before and not acknowledged (a consumer crashed, lost its
    /// connection, or gave it back). Its work may have been done already.
    pub redelivered: bool,
    acker: Box<dyn Acknowledge>,
}

impl Delivery {
    pub fn new(payload: Vec<u8>, redelivered: bool, acker: impl Acknowledge) -> Delivery {
        Delivery {
            payload,
            redelivered,
            acker: Box::new(acker),
        }
    }

    /// Whether the message is still this consumer's: false once the connection it came
    /// through was lost or closed, after which the broker hands it out again (perhaps to
    /// another consumer). A consumer checks before doing more of its work, so that two
    /// consumers do not work on one message at once.
    pub fn is_held(&self) -> bool {
        self.acker.held()
    }

    /// Removes the message from its queue.
    ///
    /// An error means the acknowledgement could not be sent (the connection broke, or the bus
    /// was closed): the broker will deliver the message again. `Ok` means it was sent; AMQP
    /// does not confirm acknowledgements, so a connection lost right after it may still
    /// bring the message back.
    pub async fn ack(self) -> Result<(), BusError> {
        self.acker.ack().await
    }

    /// Gives the message back: with `requeue` it goes back to its queue (to this or another
    /// consumer); without, it is dead-lettered, for messages no consumer will ever handle.
    pub async fn nack(self, requeue: bool) -> Result<(), BusError> {
        self.acker.nack(requeue).await
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("payload", &String::from_utf8_lossy(&self.payload))
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

type Deliveries = Pin<Box<dyn Stream<Item = Result<Delivery, BusError>> + Send>>;

/// The deliveries of one [`crate::Bus::subscribe`] call, as a stream.
///
/// The stream ends after [`Subscription::cancel`], and after yielding an error when the
/// subscription cannot go on (the connection could not be restored, the bus was closed, the
/// broker cancelled it). While the broker is briefly away it just waits.
pub struct Subscription {
    deliveries: Option<Deliveries>,
}

impl Subscription {
    /// For adapters: `deliveries` ends when the subscription does, at most once with an error
    /// as its last item. Dropping it must stop the consumer and return the messages that were
    /// prefetched but not yet yielded.
    pub fn new(
        deliveries: impl Stream<Item = Result<Delivery, BusError>> + Send + 'static,
    ) -> Subscription {
        Subscription {
            deliveries: Some(Box::pin(deliveries)),
        }
    }

    /// The next delivery; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Stops taking work, for a graceful shutdown: no more deliveries are handed out, the ones
    /// prefetched but not yet handed out go back to the queue, and the deliveries already
    /// handed out can still be acknowledged.
    pub fn cancel(&mut self) {
        self.deliveries = None;
    }
}

impl Stream for Subscription {
    type Item = Result<Delivery, BusError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(deliveries) = self.deliveries.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(deliveries.as_mut().poll_next(cx));
        if !matches!(item, Some(Ok(_))) {
            self.deliveries = None;
        }
        Poll::Ready(item)
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("active", &self.deliveries.is_some())
            .finish()
    }
}
