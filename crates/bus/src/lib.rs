//! The message bus between the services: two logical streams ([`Topic`]s), a backend-neutral
//! interface to them ([`Bus`], [`Subscription`], [`Delivery`]), and two adapters behind it:
//!
//! - RabbitMQ (`amqp://` and `amqps://` URLs, [`connect`] and [`connect_in_background`]), for
//!   the distributed mode, where the services run as separate processes, each scaled on its
//!   own;
//! - an [`InProcessBus`] (`memory://` URLs), for the embedded mode, where the api, scheduler
//!   and sender run in one process: that process creates the bus once and gives each service a
//!   connection of its own.
//!
//! Services hold an `Arc<dyn Bus>` and never see the broker library or which adapter they run
//! on: both keep every promise documented on [`Bus`], [`Subscription`] and [`Delivery`].
//! [`BusAddress::parse`] tells which adapter a URL names, so settings are checked before
//! anything connects.
//!
//! Delivery is at least once. [`Bus::publish`] returns only once the broker has taken
//! responsibility for every payload; a consumer settles each [`Delivery`] explicitly, and a
//! delivery that is never settled (the consumer crashed, its connection broke, or it dropped the
//! delivery) comes back, marked [`Delivery::redelivered`]. Consumers must therefore tolerate
//! duplicates, which the services do because the database, not the bus, is the source of truth.
//!
//! # The in-process bus keeps nothing on disk
//!
//! Its queues live in the process's memory, so a crash of the embedded process loses the
//! messages that were on the bus at that moment, and only those. That is safe because no bus
//! message is the only record of anything; each is a prompt to act on state the database
//! holds, and the services recover every lost one from there:
//!
//! - a mailing event (created, updated, deleted) is written to the api's outbox in the same
//!   transaction as the change, so one not yet published when the process died goes out after
//!   the restart; one already on the bus is lost, but the scheduler does not depend on it: it
//!   scans the database on every tick, and events only make it react sooner;
//! - a send job names messages the scheduler claimed with a lease; messages still claimed when
//!   the lease ends, because their job was lost before a sender committed their outcomes, are
//!   taken back and dispatched again.
//!
//! Losing the bus's contents therefore costs the embedded mode a delay (up to a scheduler tick
//! or a claim lease), never a message; a crash otherwise has the consequences it has in the
//! distributed mode. After a restart the in-process bus starts empty.

mod address;
mod background;
mod error;
mod gate;
mod memory;
mod options;
mod rabbitmq;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;

pub use address::{BusAddress, SUPPORTED_SCHEMES};
pub use error::BusError;
pub use memory::InProcessBus;
pub use options::BusOptions;
pub use subscription::{Acknowledge, Delivery, Subscription};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so that [`Bus`] stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The logical streams the services exchange messages on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Mailing lifecycle events (created, updated, deleted), from the api to the scheduler.
    MailingEvents,
    /// Batches of message ids ready to be delivered, from the scheduler to the sender.
    SendJobs,
}

impl Topic {
    pub const ALL: [Topic; 2] = [Topic::MailingEvents, Topic::SendJobs];

    /// A stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Topic::MailingEvents => "mailing-events",
            Topic::SendJobs => "send-jobs",
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A connection to the message bus, shared by everything in one process.
///
/// Each topic has one work queue: every subscriber of a topic competes for its messages, so
/// scaling a consumer service out spreads the work instead of duplicating it.
pub trait Bus: Send + Sync + 'static {
    /// Publishes `payloads` (JSON documents) to `topic` and returns once the broker has
    /// confirmed every one of them.
    ///
    /// An error means some payloads may not have been taken: the caller retries the whole
    /// batch, which may deliver some of them twice. While the broker is unreachable this fails
    /// at once with [`BusError::Unavailable`] rather than waiting for it.
    fn publish(&self, topic: Topic, payloads: Vec<Vec<u8>>) -> BoxFuture<'_, Result<(), BusError>>;

    /// Starts consuming `topic`, with at most `prefetch` deliveries handed out and not yet
    /// settled at any time (0 counts as 1: an unbounded prefetch would let one consumer hoard
    /// the queue).
    ///
    /// The subscription survives broker restarts: it pauses while the connection is down and
    /// resumes once it is back. It ends with an error only when the connection cannot be
    /// restored or the broker cancels it.
    fn subscribe(
        &self,
        topic: Topic,
        prefetch: u16,
    ) -> BoxFuture<'_, Result<Subscription, BusError>>;

    /// How many messages of `topic` wait to be delivered, not counting those handed to a
    /// consumer and not yet settled. For operators and tests.
    fn pending(&self, topic: Topic) -> BoxFuture<'_, Result<u64, BusError>>;

    /// Whether the bus can publish right now; false while it reconnects and after `close`.
    /// For readiness probes.
    fn is_connected(&self) -> bool;

    /// Closes the connection. Settle or drop in-flight deliveries first: once closed, they
    /// cannot be acknowledged and the broker delivers them again. Subscriptions end with
    /// [`BusError::Closed`]. Closing twice is a no-op.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// Connects to the RabbitMQ broker `url` names, declares the topology the services use, and
/// returns the bus once it is ready.
///
/// Fails with [`BusError::Unavailable`] if the broker cannot be reached within
/// `options.connect_timeout`, and with [`BusError::InvalidConfig`] for a malformed URL or one
/// that is not RabbitMQ's (an in-process bus is not connected to: see [`InProcessBus`]). Errors
/// never contain the URL's password.
pub async fn connect(url: &str, options: &BusOptions) -> Result<Arc<dyn Bus>, BusError> {
    options.validate()?;
    rabbitmq_url(url)?;
    Ok(Arc::new(
        rabbitmq::RabbitMqBus::connect(url, options).await?,
    ))
}

/// Like [`connect`], but returns at once: the bus connects in the background, trying again
/// with growing pauses while the broker is unreachable. Until it is connected,
/// [`Bus::is_connected`] is false, publishing fails with [`BusError::Unavailable`], and
/// subscribing waits for the connection. Services start with this, so a broker that comes up
/// after them is waited for rather than fatal.
///
/// Fails only for a malformed URL or options, or a URL that is not RabbitMQ's. Call it inside a
/// tokio runtime.
pub fn connect_in_background(url: &str, options: &BusOptions) -> Result<Arc<dyn Bus>, BusError> {
    options.validate()?;
    rabbitmq_url(url)?;
    Ok(Arc::new(background::BackgroundBus::start(
        url.to_owned(),
        options.clone(),
    )))
}

fn rabbitmq_url(url: &str) -> Result<(), BusError> {
    match BusAddress::parse(url)? {
        BusAddress::RabbitMq => Ok(()),
        BusAddress::InProcess { .. } => Err(BusError::InvalidConfig(
            "memory:// names an in-process bus, which only services running in one process \
             share: it is created by that process, not connected to"
                .to_owned(),
        )),
    }
}
