use crate::helpers::{assert_nothing_delivered, eventually, next, payloads, take, text};
use mailing_bus::testing::{Adapter, DeadLetter, TestBus};
use mailing_bus::{BusError, Topic};
use std::collections::BTreeSet;

for_each_adapter!(
    prefetch_bounds_the_unacknowledged_deliveries,
    a_prefetch_of_zero_counts_as_one,
    nack_with_requeue_delivers_the_message_again,
    a_requeued_message_keeps_its_place_in_the_queue,
    nack_without_requeue_dead_letters_the_message,
    a_delivery_dropped_unsettled_goes_back_to_the_queue,
    unacknowledged_deliveries_return_when_their_consumer_goes_away,
    cancelling_stops_taking_work_but_lets_held_deliveries_be_acknowledged,
);

async fn prefetch_bounds_the_unacknowledged_deliveries(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    let texts: Vec<String> = (0..10).map(|n| format!("m{n}")).collect();
    bus.publish(
        Topic::SendJobs,
        texts.iter().map(|t| t.clone().into_bytes()).collect(),
    )
    .await
    .expect("confirmed");

    let mut subscription = bus.subscribe(Topic::SendJobs, 3).await.expect("subscribed");
    let mut held = take(&mut subscription, 3).await;
    assert_nothing_delivered(&mut subscription).await;
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(7));

    let (_, first) = held.remove(0);
    first.ack().await.expect("acknowledged");
    let fourth = next(&mut subscription).await;
    assert_eq!(text(&fourth), "m3");
    assert_nothing_delivered(&mut subscription).await;

    test.finish().await;
}

async fn a_prefetch_of_zero_counts_as_one(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    bus.publish(Topic::SendJobs, payloads(&["a", "b"]))
        .await
        .expect("confirmed");

    let mut subscription = bus.subscribe(Topic::SendJobs, 0).await.expect("subscribed");
    let _held = next(&mut subscription).await;
    assert_nothing_delivered(&mut subscription).await;

    test.finish().await;
}

async fn nack_with_requeue_delivers_the_message_again(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    bus.publish(Topic::SendJobs, payloads(&["retry me"]))
        .await
        .expect("confirmed");
    let mut subscription = bus.subscribe(Topic::SendJobs, 1).await.expect("subscribed");

    let first = next(&mut subscription).await;
    assert!(!first.redelivered);
    first.nack(true).await.expect("nacked");

    let again = next(&mut subscription).await;
    assert_eq!(text(&again), "retry me");
    assert!(again.redelivered);
    again.ack().await.expect("acknowledged");
    assert_eq!(test.dead_lettered().await, 0);

    test.finish().await;
}

async fn a_requeued_message_keeps_its_place_in_the_queue(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    bus.publish(Topic::SendJobs, payloads(&["a", "b", "c", "d"]))
        .await
        .expect("confirmed");
    let mut subscription = bus.subscribe(Topic::SendJobs, 2).await.expect("subscribed");
    let mut held = take(&mut subscription, 2).await;
    let (_, b) = held.pop().expect("two held");
    let (_, a) = held.pop().expect("two held");

    b.nack(true).await.expect("nacked");
    let again = next(&mut subscription).await;
    assert_eq!(
        text(&again),
        "b",
        "the requeued message goes out before later ones"
    );
    assert!(again.redelivered);
    a.ack().await.expect("acknowledged");
    again.ack().await.expect("acknowledged");
    let rest = take(&mut subscription, 2).await;
    let texts: Vec<&str> = rest.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts, ["c", "d"]);
    assert!(rest.iter().all(|(_, delivery)| !delivery.redelivered));

    test.finish().await;
}

async fn nack_without_requeue_dead_letters_the_message(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    bus.publish(Topic::MailingEvents, payloads(&["poison"]))
        .await
        .expect("confirmed");
    let mut subscription = bus
        .subscribe(Topic::MailingEvents, 1)
        .await
        .expect("subscribed");

    next(&mut subscription)
        .await
        .nack(false)
        .await
        .expect("nacked");

    eventually(1, || test.dead_lettered()).await;
    assert_eq!(
        test.dead_letters().await,
        [DeadLetter {
            topic: Topic::MailingEvents,
            payload: b"poison".to_vec(),
        }]
    );
    assert_nothing_delivered(&mut subscription).await;
    assert_eq!(bus.pending(Topic::MailingEvents).await, Ok(0));

    test.finish().await;
}

async fn a_delivery_dropped_unsettled_goes_back_to_the_queue(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    bus.publish(Topic::SendJobs, payloads(&["dropped"]))
        .await
        .expect("confirmed");
    let mut subscription = bus.subscribe(Topic::SendJobs, 1).await.expect("subscribed");

    drop(next(&mut subscription).await);

    let again = next(&mut subscription).await;
    assert_eq!(text(&again), "dropped");
    assert!(again.redelivered);
    again.ack().await.expect("acknowledged");

    test.finish().await;
}

async fn unacknowledged_deliveries_return_when_their_consumer_goes_away(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let crashing = test.connect("crashing").await;
    crashing
        .publish(Topic::SendJobs, payloads(&["one", "two", "three"]))
        .await
        .expect("confirmed");
    let mut subscription = crashing
        .subscribe(Topic::SendJobs, 2)
        .await
        .expect("subscribed");
    let held = take(&mut subscription, 2).await;
    assert!(held.iter().all(|(_, delivery)| delivery.is_held()));

    // The connection goes with the deliveries still unsettled, as when a process dies.
    crashing.close().await;
    for (_, delivery) in held {
        assert!(!delivery.is_held(), "the broker took it back");
        assert_eq!(delivery.ack().await, Err(BusError::Closed));
    }

    let survivor = test.connect("survivor").await;
    let mut subscription = survivor
        .subscribe(Topic::SendJobs, 10)
        .await
        .expect("subscribed");
    let received = take(&mut subscription, 3).await;
    let texts: BTreeSet<&str> = received.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts, BTreeSet::from(["one", "two", "three"]));
    for (text, delivery) in received {
        assert_eq!(delivery.redelivered, text != "three", "{text}");
        delivery.ack().await.expect("acknowledged");
    }

    test.finish().await;
}

async fn cancelling_stops_taking_work_but_lets_held_deliveries_be_acknowledged(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let stopping = test.connect("stopping").await;
    stopping
        .publish(Topic::SendJobs, payloads(&["a", "b", "c", "d"]))
        .await
        .expect("confirmed");
    let mut subscription = stopping
        .subscribe(Topic::SendJobs, 2)
        .await
        .expect("subscribed");
    let in_flight = next(&mut subscription).await;
    assert_eq!(text(&in_flight), "a");

    subscription.cancel();
    assert!(subscription.next().await.is_none());
    in_flight
        .ack()
        .await
        .expect("still acknowledgeable after cancel");

    // "b" was prefetched by the cancelled subscription; it comes back with the rest.
    let other = test.connect("other").await;
    let mut subscription = other
        .subscribe(Topic::SendJobs, 10)
        .await
        .expect("subscribed");
    let received = take(&mut subscription, 3).await;
    let texts: BTreeSet<&str> = received.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts, BTreeSet::from(["b", "c", "d"]));
    for (_, delivery) in received {
        delivery.ack().await.expect("acknowledged");
    }
    assert_nothing_delivered(&mut subscription).await;

    test.finish().await;
}
