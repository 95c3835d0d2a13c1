use crate::helpers::{assert_nothing_delivered, next, payloads, take, text};
use mailing_bus::Topic;
use mailing_bus::testing::{Adapter, TestBus};
use std::collections::BTreeSet;

for_each_adapter!(
    published_payloads_are_delivered_once_and_acknowledged,
    messages_arrive_in_publication_order,
    each_topic_has_a_queue_of_its_own,
    publishing_nothing_succeeds,
    connecting_declares_the_whole_topology,
    subscribers_of_a_topic_share_its_messages,
);

async fn published_payloads_are_delivered_once_and_acknowledged(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;

    bus.publish(
        Topic::SendJobs,
        payloads(&[r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]),
    )
    .await
    .expect("confirmed");
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(3));

    let mut subscription = bus
        .subscribe(Topic::SendJobs, 10)
        .await
        .expect("subscribed");
    let received = take(&mut subscription, 3).await;
    let texts: Vec<&str> = received.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts, [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
    for (_, delivery) in received {
        assert!(!delivery.redelivered);
        delivery.ack().await.expect("acknowledged");
    }
    assert_nothing_delivered(&mut subscription).await;
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(0));

    test.finish().await;
}

async fn messages_arrive_in_publication_order(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    let sent: Vec<String> = (0..30).map(|n| format!("m{n:02}")).collect();
    for batch in sent.chunks(7) {
        bus.publish(
            Topic::MailingEvents,
            batch.iter().map(|s| s.clone().into_bytes()).collect(),
        )
        .await
        .expect("confirmed");
    }

    let mut subscription = bus
        .subscribe(Topic::MailingEvents, 4)
        .await
        .expect("subscribed");
    let mut received = Vec::new();
    while received.len() < sent.len() {
        let delivery = next(&mut subscription).await;
        received.push(text(&delivery));
        delivery.ack().await.expect("acknowledged");
    }
    assert_eq!(received, sent);

    test.finish().await;
}

async fn each_topic_has_a_queue_of_its_own(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;

    bus.publish(Topic::MailingEvents, payloads(&["created", "updated"]))
        .await
        .expect("confirmed");
    bus.publish(Topic::SendJobs, payloads(&["job"]))
        .await
        .expect("confirmed");
    assert_eq!(bus.pending(Topic::MailingEvents).await, Ok(2));
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(1));

    let mut events = bus
        .subscribe(Topic::MailingEvents, 10)
        .await
        .expect("subscribed");
    for expected in ["created", "updated"] {
        let delivery = next(&mut events).await;
        assert_eq!(text(&delivery), expected);
        delivery.ack().await.expect("acknowledged");
    }
    assert_nothing_delivered(&mut events).await;
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(1));

    test.finish().await;
}

async fn publishing_nothing_succeeds(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;

    bus.publish(Topic::SendJobs, Vec::new())
        .await
        .expect("nothing to confirm");
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(0));

    test.finish().await;
}

async fn connecting_declares_the_whole_topology(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;

    for topic in Topic::ALL {
        assert_eq!(bus.pending(topic).await, Ok(0), "{topic}");
    }
    assert_eq!(test.dead_lettered().await, 0);
    // A second process declaring the same topology is fine.
    let other = test.connect("other").await;
    assert!(other.is_connected());

    test.finish().await;
}

async fn subscribers_of_a_topic_share_its_messages(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let publisher = test.connect("publisher").await;
    let first = test.connect("first").await;
    let second = test.connect("second").await;
    let mut first = first
        .subscribe(Topic::SendJobs, 2)
        .await
        .expect("subscribed");
    let mut second = second
        .subscribe(Topic::SendJobs, 2)
        .await
        .expect("subscribed");

    let sent: Vec<String> = (0..20).map(|n| format!("job-{n}")).collect();
    publisher
        .publish(
            Topic::SendJobs,
            sent.iter().map(|s| s.clone().into_bytes()).collect(),
        )
        .await
        .expect("confirmed");

    let mut seen = BTreeSet::new();
    let (mut by_first, mut by_second) = (0, 0);
    while by_first + by_second < 20 {
        let delivery = tokio::select! {
            delivery = next(&mut first) => { by_first += 1; delivery }
            delivery = next(&mut second) => { by_second += 1; delivery }
        };
        assert!(
            seen.insert(text(&delivery)),
            "delivered twice: {}",
            text(&delivery)
        );
        delivery.ack().await.expect("acknowledged");
    }
    assert_eq!(seen, sent.into_iter().collect::<BTreeSet<_>>());
    assert!(by_first > 0 && by_second > 0, "{by_first} / {by_second}");

    test.finish().await;
}
