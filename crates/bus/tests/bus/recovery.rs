use crate::helpers::{QUIET_PERIOD, broker_address, next, payloads, text, wait_until};
use crate::proxy::Proxy;
use mailing_bus::testing::TestBus;
use mailing_bus::{BusError, Topic, connect_in_background};
use std::time::{Duration, Instant};

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
    assert!(held.is_held());

    test.force_close_connection("consumer");
    // The broker takes the delivery back with the connection, and says so before the bus has
    // recovered: a consumer that went on with its work would do it twice.
    wait_until("the delivery to be taken back", || !held.is_held()).await;

    // Publishing while the connection is down fails at once rather than waiting.
    match tokio::time::timeout(
        Duration::from_secs(5),
        consumer.publish(Topic::MailingEvents, payloads(&["during"])),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => assert!(error.is_transient(), "{error}"),
        Err(_) => panic!("publishing during the outage hung"),
    }
    // The broker took the delivery back when the connection closed, so this ack cannot
    // settle it, whatever it returns.
    let _ = held.ack().await;

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

#[tokio::test]
async fn the_bus_rides_out_a_broker_outage() {
    let test = TestBus::new();
    let proxy = Proxy::start(&broker_address(test.url())).await;
    let bus = test
        .connect_to(&proxy.url(test.url()), "behind-proxy")
        .await;
    let producer = test.connect("producer").await;
    let mut subscription = bus.subscribe(Topic::SendJobs, 5).await.expect("subscribed");

    proxy.cut();
    wait_until("the bus notices the outage", || !bus.is_connected()).await;
    let started = Instant::now();
    let error = bus
        .publish(Topic::SendJobs, payloads(&["lost"]))
        .await
        .expect_err("nothing can confirm it");
    assert!(matches!(error, BusError::Unavailable(_)), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    producer
        .publish(Topic::SendJobs, payloads(&["during the outage"]))
        .await
        .expect("confirmed over the producer's own connection");

    proxy.restore().await;

    let delivery = next(&mut subscription).await;
    assert_eq!(text(&delivery), "during the outage");
    delivery.ack().await.expect("acknowledged");
    publish_until_confirmed(&*bus, "after the outage").await;
    let delivery = next(&mut subscription).await;
    assert_eq!(text(&delivery), "after the outage");
    delivery.ack().await.expect("acknowledged");
    assert!(bus.is_connected());

    test.finish().await;
}

#[tokio::test]
async fn closing_during_an_outage_ends_subscriptions_and_stops_reconnecting() {
    let test = TestBus::new();
    let proxy = Proxy::start(&broker_address(test.url())).await;
    let bus = test
        .connect_to(&proxy.url(test.url()), "behind-proxy")
        .await;
    let mut subscription = bus
        .subscribe(Topic::MailingEvents, 5)
        .await
        .expect("subscribed");
    proxy.cut();
    wait_until("the bus notices the outage", || !bus.is_connected()).await;

    tokio::time::timeout(Duration::from_secs(5), bus.close())
        .await
        .expect("closing does not wait for the broker");
    let ended = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the subscription ends");
    assert!(matches!(ended, Some(Err(BusError::Closed))), "{ended:?}");

    let dialled = proxy.accepted();
    proxy.restore().await;
    tokio::time::sleep(QUIET_PERIOD).await;
    assert_eq!(proxy.accepted(), dialled, "a closed bus reconnected");

    test.finish().await;
}

#[tokio::test]
async fn deleted_exchanges_and_queues_are_declared_again_by_the_next_publish() {
    let test = TestBus::new();
    let bus = test.connect("bus").await;
    let mut subscription = bus.subscribe(Topic::SendJobs, 1).await.expect("subscribed");

    test.delete_topology().await;

    let ended = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the subscription ends");
    match ended {
        Some(Err(BusError::Protocol(message))) => {
            assert!(message.contains("cancelled"), "{message}")
        }
        other => panic!("expected the broker's cancellation, got {other:?}"),
    }
    // The first publish finds the exchange gone, which costs the publishing channel; the
    // next one starts on a fresh channel that declares everything again.
    let first = bus.publish(Topic::SendJobs, payloads(&["lost"])).await;
    assert!(
        matches!(&first, Err(error) if error.is_transient()),
        "{first:?}"
    );
    bus.publish(Topic::SendJobs, payloads(&["kept"]))
        .await
        .expect("confirmed after the topology was declared again");
    assert_eq!(bus.pending(Topic::SendJobs).await, Ok(1));
    let mut subscription = bus.subscribe(Topic::SendJobs, 1).await.expect("subscribed");
    assert_eq!(text(&next(&mut subscription).await), "kept");

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

/// A service started before its broker: the bus is handed out at once, refuses to publish and
/// reports itself disconnected meanwhile, and connects once the broker answers.
#[tokio::test]
async fn a_bus_connected_in_the_background_waits_for_the_broker() {
    let test = TestBus::new();
    let proxy = Proxy::start(&broker_address(test.url())).await;
    proxy.cut();
    // The listener closes once its aborted task is dropped.
    tokio::time::sleep(QUIET_PERIOD).await;
    let started = Instant::now();
    let bus = connect_in_background(&proxy.url(test.url()), &test.options("background"))
        .expect("a well-formed URL");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "returned at once"
    );
    assert!(!bus.is_connected());
    let error = bus
        .publish(Topic::SendJobs, payloads(&["too early"]))
        .await
        .expect_err("no broker yet");
    assert!(matches!(error, BusError::Unavailable(_)), "{error}");
    let waiting = {
        let bus = bus.clone();
        tokio::spawn(async move { bus.subscribe(Topic::SendJobs, 1).await })
    };
    tokio::time::sleep(QUIET_PERIOD).await;
    assert!(!waiting.is_finished(), "subscribing waits for the broker");

    proxy.restore().await;

    wait_until("the bus connects", || bus.is_connected()).await;
    let mut subscription = waiting
        .await
        .expect("the task ran")
        .expect("subscribed once connected");
    publish_until_confirmed(&*bus, "after the broker came").await;
    let delivery = next(&mut subscription).await;
    assert_eq!(text(&delivery), "after the broker came");
    delivery.ack().await.expect("acknowledged");

    bus.close().await;
    test.finish().await;
}

#[tokio::test]
async fn closing_a_bus_still_connecting_stops_it() {
    let test = TestBus::new();
    let proxy = Proxy::start(&broker_address(test.url())).await;
    proxy.cut();
    // The listener closes once its aborted task is dropped.
    tokio::time::sleep(QUIET_PERIOD).await;
    let bus = connect_in_background(&proxy.url(test.url()), &test.options("background"))
        .expect("a well-formed URL");

    bus.close().await;

    assert!(matches!(
        bus.subscribe(Topic::SendJobs, 1).await,
        Err(BusError::Closed)
    ));
    assert_eq!(
        bus.publish(Topic::SendJobs, payloads(&["closed"])).await,
        Err(BusError::Closed)
    );
    let dialled = proxy.accepted();
    proxy.restore().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(proxy.accepted(), dialled, "a closed bus kept connecting");
    assert!(!bus.is_connected());
    test.finish().await;
}

#[tokio::test]
async fn only_well_formed_rabbitmq_urls_connect_in_the_background() {
    for url in ["memory://", "redis://localhost", "amqp://user:pw@/%2f"] {
        let refused = tokio::spawn({
            let url = url.to_owned();
            async move { connect_in_background(&url, &Default::default()).map(drop) }
        })
        .await
        .expect("the task ran");
        assert!(matches!(refused, Err(BusError::InvalidConfig(_))), "{url}");
    }
}
