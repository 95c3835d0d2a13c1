//! The exchanges and queues of one namespace.
//!
//! Every channel declares the whole topology before use. Declarations are idempotent, and lapin
//! replays a channel's declarations when it recovers the channel, so a broker that lost its
//! definitions (a fresh node without a persistent volume) gets them back before our consumers
//! and publishes resume.

use crate::Topic;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// Events all go to the scheduler; the key leaves room for finer routing later.
const EVENTS_ROUTING_KEY: &str = "mailing.event";
const EVENTS_BINDING_KEY: &str = "#";
const JOBS_ROUTING_KEY: &str = "send.job";

pub(super) struct Names {
    events_exchange: String,
    events_queue: String,
    send_exchange: String,
    jobs_queue: String,
    dead_letter_exchange: String,
    pub(super) dead_letter_queue: String,
}

impl Names {
    pub(super) fn new(namespace: &str) -> Names {
        Names {
            events_exchange: format!("{namespace}.events"),
            events_queue: format!("{namespace}.scheduler.events"),
            send_exchange: format!("{namespace}.send"),
            jobs_queue: format!("{namespace}.sender.jobs"),
            dead_letter_exchange: format!("{namespace}.dead-letter"),
            dead_letter_queue: format!("{namespace}.dead-letter"),
        }
    }

    /// The exchange and routing key a topic's messages are published with.
    pub(super) fn route(&self, topic: Topic) -> (&str, &str) {
        match topic {
            Topic::MailingEvents => (&self.events_exchange, EVENTS_ROUTING_KEY),
            Topic::SendJobs => (&self.send_exchange, JOBS_ROUTING_KEY),
        }
    }

    /// The work queue a topic's subscribers share.
    pub(super) fn queue(&self, topic: Topic) -> &str {
        match topic {
            Topic::MailingEvents => &self.events_queue,
            Topic::SendJobs => &self.jobs_queue,
        }
    }
}

pub(super) async fn declare(channel: &Channel, names: &Names) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    // Fanout: a dead-lettered message keeps its original routing key, and every one of them
    // belongs in the one dead-letter queue.
    channel
        .exchange_declare(
            names.dead_letter_exchange.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    declare_queue(channel, &names.dead_letter_queue, FieldTable::default()).await?;
    bind(
        channel,
        &names.dead_letter_queue,
        &names.dead_letter_exchange,
        "",
    )
    .await?;

    let mut work_queue_arguments = FieldTable::default();
    work_queue_arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(names.dead_letter_exchange.as_str().into()),
    );
    for (exchange, kind, queue, binding) in [
        (
            &names.events_exchange,
            ExchangeKind::Topic,
            &names.events_queue,
            EVENTS_BINDING_KEY,
        ),
        (
            &names.send_exchange,
            ExchangeKind::Direct,
            &names.jobs_queue,
            JOBS_ROUTING_KEY,
        ),
    ] {
        channel
            .exchange_declare(
                exchange.as_str().into(),
                kind,
                durable,
                FieldTable::default(),
            )
            .await?;
        declare_queue(channel, queue, work_queue_arguments.clone()).await?;
        bind(channel, queue, exchange, binding).await?;
    }
    Ok(())
}

async fn declare_queue(channel: &Channel, queue: &str, arguments: FieldTable) -> lapin::Result<()> {
    channel
        .queue_declare(queue.into(), QueueDeclareOptions::durable(), arguments)
        .await
        .map(drop)
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// Removes the namespace's exchanges and queues, messages included.
#[cfg(feature = "testing")]
pub(super) async fn delete(channel: &Channel, names: &Names) -> lapin::Result<()> {
    for queue in [
        &names.events_queue,
        &names.jobs_queue,
        &names.dead_letter_queue,
    ] {
        channel
            .queue_delete(queue.as_str().into(), Default::default())
            .await?;
    }
    for exchange in [
        &names.events_exchange,
        &names.send_exchange,
        &names.dead_letter_exchange,
    ] {
        channel
            .exchange_delete(exchange.as_str().into(), Default::default())
            .await?;
    }
    Ok(())
}

/// The topic a message published with `routing_key` belongs to; dead letters keep theirs.
#[cfg(feature = "testing")]
pub(super) fn topic_of(routing_key: &str) -> Option<Topic> {
    match routing_key {
        EVENTS_ROUTING_KEY => Some(Topic::MailingEvents),
        JOBS_ROUTING_KEY => Some(Topic::SendJobs),
        _ => None,
    }
}

/// The number of ready messages in `queue`, by a passive declaration. A missing queue closes
/// the channel, so callers pass one they can lose.
pub(super) async fn depth(channel: &Channel, queue: &str) -> lapin::Result<u32> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await?;
    Ok(queue.message_count())
}
