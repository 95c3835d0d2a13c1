//! What only the in-process bus has: connections of one bus share its queues, separate buses
//! share nothing, and settling is synchronous.

use crate::helpers::{assert_nothing_delivered, next, payloads, take, text};
use mailing_bus::testing::{DeadLetter, TestBus};
use mailing_bus::{BusError, InProcessBus, Topic};
use std::collections::BTreeSet;
use std::time::Duration;

/// The embedded binary's wiring: the api, the scheduler and the sender each get a connection
/// of the one bus, and talk to each other through it.
#[tokio::test]
async fn connections_of_one_bus_share_its_queues() {
    let test = TestBus::in_memory();
    let api = test.connect("api").await;
    let scheduler = test.connect("scheduler").await;
    let sender = test.connect("sender").await;
    let mut events = scheduler
        .subscribe(Topic::MailingEvents, 8)
        .await
        .expect("subscribed");
    let mut jobs = sender
        .subscribe(Topic::SendJobs, 8)
        .await
        .expect("subscribed");

    api.publish(Topic::MailingEvents, payloads(&["mailing 1 created"]))
        .await
        .expect("confirmed");
    let event = next(&mut events).await;
    assert_eq!(text(&event), "mailing 1 created");
    scheduler
        .publish(Topic::SendJobs, payloads(&["job 1", "not a job"]))
        .await
        .expect("confirmed");
    event.ack().await.expect("acknowledged");
    let received = take(&mut jobs, 2).await;
    let mut received = received.into_iter();
    let (_, job) = received.next().expect("two jobs");
    let (_, poison) = received.next().expect("two jobs");
    job.ack().await.expect("acknowledged");
    poison.nack(false).await.expect("dead-lettered");

    for (bus, topic) in [(&api, Topic::MailingEvents), (&sender, Topic::SendJobs)] {
        assert_eq!(bus.pending(topic).await, Ok(0), "{topic}");
    }
    assert_eq!(
        test.dead_letters().await,
        [DeadLetter {
            topic: Topic::SendJobs,
            payload: b"not a job".to_vec(),
        }]
    );

    test.finish().await;
}

#[tokio::test]
async fn another_bus_shares_nothing() {
    let first = InProcessBus::new();
    let second = InProcessBus::new();
    let bus = first.connect("bus");
    let other = second.connect("other");

    bus.publish(Topic::SendJobs, payloads(&["mine", "poison"]))
        .await
        .expect("confirmed");
    let mut own = bus.subscribe(Topic::SendJobs, 1).await.expect("subscribed");
    let mine = next(&mut own).await;
    mine.nack(false).await.expect("dead-lettered");
    own.cancel();

    assert_eq!(other.pending(Topic::SendJobs).await, Ok(0));
    let mut theirs = other
        .subscribe(Topic::SendJobs, 1)
        .await
        .expect("subscribed");
    assert_nothing_delivered(&mut theirs).await;
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(1));
    assert_eq!(first.dead_letters().len(), 1);
    assert!(second.dead_letters().is_empty());

    bus.close().await;
    other.close().await;
}

/// A clone is another handle to the same bus, not a copy of it.
#[tokio::test]
async fn a_cloned_bus_is_the_same_bus() {
    let bus = InProcessBus::new();
    let publisher = bus.connect("publisher");
    let consumer = bus.clone().connect("consumer");

    publisher
        .publish(Topic::MailingEvents, payloads(&["shared"]))
        .await
        .expect("confirmed");

    assert_eq!(consumer.pending(Topic::MailingEvents).await, Ok(1));
    publisher.close().await;
    consumer.close().await;
}

#[tokio::test]
async fn closing_returns_unsettled_deliveries_at_once_and_only_once() {
    let test = TestBus::in_memory();
    let closing = test.connect("closing").await;
    let other = test.connect("other").await;
    closing
        .publish(Topic::SendJobs, payloads(&["a", "b", "c"]))
        .await
        .expect("confirmed");
    let mut subscription = closing
        .subscribe(Topic::SendJobs, 2)
        .await
        .expect("subscribed");
    let mut held = take(&mut subscription, 2).await.into_iter();
    let (_, a) = held.next().expect("two held");
    let (_, b) = held.next().expect("two held");

    closing.close().await;

    // Back in the queue as soon as `close` returns, in their places.
    assert_eq!(other.pending(Topic::SendJobs).await, Ok(3));
    assert!(matches!(
        subscription.next().await,
        Some(Err(BusError::Closed))
    ));
    assert_eq!(a.nack(true).await, Err(BusError::Closed));
    drop(b);
    assert_eq!(
        other.pending(Topic::SendJobs).await,
        Ok(3),
        "nothing doubled"
    );

    let mut subscription = other
        .subscribe(Topic::SendJobs, 10)
        .await
        .expect("subscribed");
    let received = take(&mut subscription, 3).await;
    let seen: Vec<(&str, bool)> = received
        .iter()
        .map(|(text, delivery)| (text.as_str(), delivery.redelivered))
        .collect();
    assert_eq!(seen, [("a", true), ("b", true), ("c", false)]);
    assert_nothing_delivered(&mut subscription).await;

    test.finish().await;
}

#[tokio::test]
async fn a_subscription_waiting_for_prefetch_ends_when_its_bus_closes() {
    let test = TestBus::in_memory();
    let bus = test.connect("bus").await;
    bus.publish(Topic::SendJobs, payloads(&["held", "waiting"]))
        .await
        .expect("confirmed");
    let mut subscription = bus.subscribe(Topic::SendJobs, 1).await.expect("subscribed");
    let held = next(&mut subscription).await;

    let waiting = tokio::spawn(async move { subscription.next().await.map(|item| item.err()) });
    tokio::task::yield_now().await;
    bus.close().await;

    let ended = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the subscription ends")
        .expect("the task ran");
    assert_eq!(ended, Some(Some(BusError::Closed)));
    assert_eq!(held.ack().await, Err(BusError::Closed));

    test.finish().await;
}

/// As a RabbitMQ connection dropped by its process: the bus is closed, not leaked.
#[tokio::test]
async fn dropping_the_last_handle_of_a_bus_closes_it() {
    let test = TestBus::in_memory();
    let observer = test.connect("observer").await;
    let dropped = test
        .in_process()
        .expect("an in-process test bus")
        .connect("dropped");
    dropped
        .publish(Topic::MailingEvents, payloads(&["held"]))
        .await
        .expect("confirmed");
    let mut subscription = dropped
        .subscribe(Topic::MailingEvents, 1)
        .await
        .expect("subscribed");
    let held = next(&mut subscription).await;
    assert_eq!(observer.pending(Topic::MailingEvents).await, Ok(0));

    drop(dropped);

    assert!(matches!(
        subscription.next().await,
        Some(Err(BusError::Closed))
    ));
    assert_eq!(held.ack().await, Err(BusError::Closed));
    assert_eq!(observer.pending(Topic::MailingEvents).await, Ok(1));

    test.finish().await;
}

/// A consumer task that dies (panics, is aborted) drops its subscription and its deliveries
/// together; every message it held goes to the surviving subscribers.
#[tokio::test]
async fn a_subscriber_dropped_with_unsettled_deliveries_gives_them_back() {
    let test = TestBus::in_memory();
    let bus = test.connect("bus").await;
    bus.publish(Topic::SendJobs, payloads(&["one", "two", "three"]))
        .await
        .expect("confirmed");
    let (taken, mut taken_by_dying) = tokio::sync::mpsc::channel(2);
    let mut subscription = bus.subscribe(Topic::SendJobs, 2).await.expect("subscribed");
    let dying = tokio::spawn(async move {
        let held = take(&mut subscription, 2).await;
        for (text, _) in &held {
            taken.send(text.clone()).await.expect("the test listens");
        }
        std::future::pending::<()>().await;
        drop((held, subscription));
    });
    let mut texts = Vec::new();
    while texts.len() < 2 {
        texts.push(taken_by_dying.recv().await.expect("the task reports"));
    }
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(1));

    dying.abort();
    assert!(dying.await.expect_err("aborted").is_cancelled());

    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(3));
    let mut survivor = bus.subscribe(Topic::SendJobs, 5).await.expect("subscribed");
    let received = take(&mut survivor, 3).await;
    let seen: Vec<(&str, bool)> = received
        .iter()
        .map(|(text, delivery)| (text.as_str(), delivery.redelivered))
        .collect();
    assert_eq!(seen, [("one", true), ("two", true), ("three", false)]);

    test.finish().await;
}

/// Many subscribers on several connections, on several threads, acknowledging, requeueing
/// and dropping deliveries: every message is acknowledged exactly once, and none is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn competing_subscribers_lose_and_double_nothing_under_load() {
    const MESSAGES: usize = 2_000;
    let test = TestBus::in_memory();
    let (acked, mut acknowledgements) = tokio::sync::mpsc::unbounded_channel();
    let mut consumers = Vec::new();
    for connection in 0..4u16 {
        let bus = test.connect(&format!("consumer-{connection}")).await;
        for prefetch in [1, 7] {
            let mut subscription = bus
                .subscribe(Topic::SendJobs, prefetch + connection)
                .await
                .expect("subscribed");
            let acked = acked.clone();
            consumers.push(tokio::spawn(async move {
                while let Some(Ok(delivery)) = subscription.next().await {
                    let payload = text(&delivery);
                    let n: usize = payload.parse().expect("a number");
                    match (delivery.redelivered, n % 10) {
                        (false, 0) => delivery.nack(true).await.expect("requeued"),
                        (false, 1) => drop(delivery),
                        _ => {
                            delivery.ack().await.expect("acknowledged");
                            let _ = acked.send(payload);
                        }
                    }
                }
            }));
        }
    }
    let sent: Vec<String> = (0..MESSAGES).map(|n| n.to_string()).collect();
    let mut publishers = Vec::new();
    for half in sent.chunks(MESSAGES / 2) {
        let publisher = test.connect("publisher").await;
        let half = half.to_vec();
        publishers.push(tokio::spawn(async move {
            for batch in half.chunks(50) {
                publisher
                    .publish(
                        Topic::SendJobs,
                        batch.iter().map(|s| s.clone().into_bytes()).collect(),
                    )
                    .await
                    .expect("confirmed");
            }
        }));
    }
    for publisher in publishers {
        publisher.await.expect("published");
    }

    let mut seen = BTreeSet::new();
    while seen.len() < MESSAGES {
        let payload = tokio::time::timeout(Duration::from_secs(30), acknowledgements.recv())
            .await
            .expect("acknowledgements keep coming")
            .expect("consumers run");
        assert!(
            seen.insert(payload.clone()),
            "acknowledged twice: {payload}"
        );
    }
    assert_eq!(seen, sent.into_iter().collect::<BTreeSet<_>>());
    let observer = test.connect("observer").await;
    assert_eq!(observer.pending(Topic::SendJobs).await, Ok(0));
    assert!(
        acknowledgements.try_recv().is_err(),
        "nothing more to settle"
    );

    test.finish().await;
    for consumer in consumers {
        consumer.await.expect("consumers end with their buses");
    }
}
