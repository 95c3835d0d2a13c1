use crate::helpers::{assert_nothing_delivered, next, payloads, take, text};
use mailing_bus::Topic;
use mailing_bus::testing::TestBus;
use std::collections::BTreeSet;

#[tokio::test]
async fn published_payloads_are_delivered_once_and_acknowledged() {
    let test = TestBus::new();
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

#[tokio::test]
async fn each_topic_has_a_queue_of_its_own() {
    let test = TestBus::new();
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

#[tokio::test]
async fn publishing_nothing_succeeds() {
    let test = TestBus::new();
    let bus = test.connect("bus").await;

    bus.publish(Topic::SendJobs, Vec::new())
        .await
        .expect("nothing to confirm");
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(0));

    test.finish().await;
}

#[tokio::test]
async fn connecting_declares_the_whole_topology() {
    let test = TestBus::new();
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

#[tokio::test]
async fn subscribers_of_a_topic_share_its_messages() {
    let test = TestBus::new();
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
