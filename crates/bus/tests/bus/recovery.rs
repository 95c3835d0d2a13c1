use crate::helpers::{next, payloads, text};
use mailing_bus::Topic;
use mailing_bus::testing::TestBus;
use std::time::Duration;

#[tokio::test]
async fn the_bus_recovers_after_the_broker_closes_its_connection() {
    let test = TestBus::new();
    let consumer = test.connect("consumer").await;
    let producer = test.connect("producer").await;
    let mut subscription = consumer
        .subscribe(Topic::SendJobs, 5)
        .await
        .expect("subscribed");
    producer
        .publish(Topic::SendJobs, payloads(&["before"]))
        .await
        .expect("confirmed");
    let held = next(&mut subscription).await;
    assert_eq!(text(&held), "before");

    test.force_close_connection("consumer");

    // Publishing while the connection is down fails at once rather than waiting.
    match tokio::time::timeout(
        Duration::from_secs(5),
        consumer.publish(Topic::MailingEvents, payloads(&["during"])),
    )
    .await
    {
        Ok(Ok(())) => eprintln!("DEBUG publish during outage ok"),
        Ok(Err(error)) => {
            eprintln!("DEBUG publish during outage: {error}");
            assert!(error.is_transient(), "{error}")
        }
        Err(_) => panic!("publishing during the outage hung"),
    }
    // The broker took the delivery back when the connection closed, so this ack cannot
    // settle it, whatever it returns.
    let r = held.ack().await;
    eprintln!("DEBUG held ack: {r:?}");

    let again = next(&mut subscription).await;
    assert_eq!(text(&again), "before");
    assert!(again.redelivered);
    again.ack().await.expect("acknowledged after recovery");

    producer
        .publish(Topic::SendJobs, payloads(&["after"]))
        .await
        .expect("confirmed");
    let after = next(&mut subscription).await;
    assert_eq!(text(&after), "after");
    assert!(!after.redelivered);
    after.ack().await.expect("acknowledged");

    publish_until_confirmed(&*consumer, "from the recovered bus").await;
    let own = next(&mut subscription).await;
    assert_eq!(text(&own), "from the recovered bus");
    own.ack().await.expect("acknowledged");
    assert!(consumer.is_connected());

    test.finish().await;
}

/// Callers retry a publish that failed during an outage; so does this.
async fn publish_until_confirmed(bus: &dyn mailing_bus::Bus, payload: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match bus.publish(Topic::SendJobs, payloads(&[payload])).await {
            Ok(()) => return,
            Err(error) => {
                assert!(error.is_transient(), "{error}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still failing: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
