use super::MemoryBus;
use super::registry::is_registered;
use crate::{Bus, BusOptions, Topic};

fn options(namespace: &str) -> BusOptions {
    BusOptions {
        namespace: namespace.to_owned(),
        ..BusOptions::default()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

#[test]
fn an_idle_bus_is_forgotten_once_nobody_holds_it() {
    let (namespace, name) = (unique("ns"), unique("bus"));
    let url = format!("memory://{name}");
    let first = MemoryBus::connect(&url, &options(&namespace)).expect("connected");
    let second = MemoryBus::connect(&url, &options(&namespace)).expect("connected");

    drop(first);
    assert!(is_registered(&namespace, &name), "still held by the second");
    drop(second);
    assert!(!is_registered(&namespace, &name));
}

#[tokio::test]
async fn a_bus_that_holds_messages_is_kept_without_connections() {
    let (namespace, name) = (unique("ns"), unique("bus"));
    let url = format!("memory://{name}");
    let publisher = MemoryBus::connect(&url, &options(&namespace)).expect("connected");
    publisher
        .publish(Topic::SendJobs, vec![b"kept".to_vec()])
        .await
        .expect("published");
    drop(publisher);
    assert!(is_registered(&namespace, &name));

    let consumer = MemoryBus::connect(&url, &options(&namespace)).expect("connected");
    assert_eq!(consumer.pending(Topic::SendJobs).await, Ok(1));
    let mut subscription = consumer
        .subscribe(Topic::SendJobs, 1)
        .await
        .expect("subscribed");
    let delivery = subscription
        .next()
        .await
        .expect("a delivery")
        .expect("not an error");
    assert_eq!(delivery.payload, b"kept");
    delivery.ack().await.expect("acknowledged");
    drop(subscription);
    drop(consumer);
    assert!(
        !is_registered(&namespace, &name),
        "empty again, so forgotten"
    );
}
