use mailing_bus::{Delivery, Subscription};
use std::time::Duration;

/// Runs each named `async fn name(adapter: Adapter)` of the calling module as two tests,
/// `name::rabbitmq` and `name::memory`, so a behaviour both adapters share is written once.
macro_rules! for_each_adapter {
    ($($test:ident),+ $(,)?) => {
        $(
            mod $test {
                #[tokio::test]
                async fn rabbitmq() {
                    super::$test(mailing_bus::testing::Adapter::RabbitMq).await;
                }

                #[tokio::test]
                async fn memory() {
                    super::$test(mailing_bus::testing::Adapter::Memory).await;
                }
            }
        )+
    };
}

/// Generous: deliveries normally arrive in milliseconds, but a recovery takes a few seconds.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a test watches for a delivery that must not come.
pub const QUIET_PERIOD: Duration = Duration::from_millis(300);

pub fn payloads(texts: &[&str]) -> Vec<Vec<u8>> {
    texts.iter().map(|text| text.as_bytes().to_vec()).collect()
}

pub fn text(delivery: &Delivery) -> String {
    String::from_utf8(delivery.payload.clone()).expect("test payloads are UTF-8")
}

pub async fn next(subscription: &mut Subscription) -> Delivery {
    match tokio::time::timeout(DELIVERY_TIMEOUT, subscription.next()).await {
        Ok(Some(Ok(delivery))) => delivery,
        Ok(Some(Err(error))) => panic!("the subscription failed: {error}"),
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no delivery within {DELIVERY_TIMEOUT:?}"),
    }
}

/// Receives `count` deliveries and returns their texts with the deliveries.
pub async fn take(subscription: &mut Subscription, count: usize) -> Vec<(String, Delivery)> {
    let mut received = Vec::with_capacity(count);
    for _ in 0..count {
        let delivery = next(subscription).await;
        received.push((text(&delivery), delivery));
    }
    received
}

pub async fn assert_nothing_delivered(subscription: &mut Subscription) {
    if let Ok(item) = tokio::time::timeout(QUIET_PERIOD, subscription.next()).await {
        panic!("expected no delivery, got {item:?}");
    }
}

/// Polls `probe` until it returns `expected`, for effects the broker applies asynchronously
/// (dead-lettering, requeueing on a closed channel).
pub async fn eventually<F, Fut>(expected: u64, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = u64>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let actual = probe().await;
        if actual == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {actual}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `condition` until it holds, for state the bus changes in the background.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never became true: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `host:port` of an AMQP URL.
pub fn broker_address(url: &str) -> String {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5672")
    }
}
