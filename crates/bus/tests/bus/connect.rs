use crate::helpers::{next, payloads, text};
use mailing_bus::testing::{Adapter, TestBus};
use mailing_bus::{BusError, BusOptions, Topic, connect};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Sup3r-Secret-Pw";

for_each_adapter!(
    a_closed_bus_refuses_work,
    a_subscription_ends_when_its_bus_closes,
    closing_one_bus_leaves_the_others_and_the_queues_alone,
);

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

fn quick(namespace: &str) -> BusOptions {
    BusOptions {
        namespace: namespace.to_owned(),
        connect_timeout: Duration::from_millis(500),
        client_name: format!("{namespace}-quick"),
    }
}

fn assert_no_password(error: &BusError) {
    assert!(!error.to_string().contains(PASSWORD), "{error}");
    assert!(!format!("{error:?}").contains(PASSWORD), "{error:?}");
}

async fn connect_error(url: &str, options: &BusOptions) -> BusError {
    match connect(url, options).await {
        Ok(bus) => {
            bus.close().await;
            panic!("connected to {url}");
        }
        Err(error) => error,
    }
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_within_the_timeout() {
    let test = TestBus::new();
    let url = format!("amqp://guest:{PASSWORD}@127.0.0.1:{}/%2f", closed_port());
    let started = Instant::now();

    let error = connect_error(&url, &quick(test.namespace())).await;

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, BusError::Unavailable(_)), "{error}");
    assert!(error.is_transient());
    assert!(error.to_string().contains("cannot reach"), "{error}");
    assert_no_password(&error);
}

#[tokio::test]
async fn a_peer_that_never_speaks_amqp_fails_within_the_timeout() {
    let test = TestBus::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("amqp://guest:{PASSWORD}@127.0.0.1:{port}/%2f");
    let started = Instant::now();

    let error = connect_error(&url, &quick(test.namespace())).await;

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, BusError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("handshake"), "{error}");
    assert_no_password(&error);
    silent.abort();
}

#[tokio::test]
async fn an_ip_address_host_is_used_as_given() {
    // amq-protocol-uri turns IP hosts into "localhost", where a broker does listen.
    let test = TestBus::new();
    let url = format!("amqp://guest:{PASSWORD}@192.0.2.1:5672/%2f");

    let error = connect_error(&url, &quick(test.namespace())).await;

    assert!(matches!(error, BusError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("192.0.2.1"), "{error}");
    assert_no_password(&error);
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_being_repeated() {
    let test = TestBus::new();
    let url = test
        .url()
        .replacen("guest:guest@", &format!("guest:{PASSWORD}@"), 1);
    assert_ne!(url, test.url(), "the test URL must carry guest's password");
    let options = BusOptions {
        connect_timeout: Duration::from_secs(5),
        ..quick(test.namespace())
    };
    let started = Instant::now();

    let error = connect_error(&url, &options).await;

    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(error, BusError::Protocol(_) | BusError::Unavailable(_)),
        "{error}"
    );
    assert_no_password(&error);
}

#[tokio::test]
async fn urls_of_other_schemes_are_refused_naming_the_accepted_ones() {
    for url in [
        format!("redis://user:{PASSWORD}@localhost:6379"),
        format!("user:{PASSWORD}@localhost:5672"),
        format!("amqp:user:{PASSWORD}@localhost"),
        String::new(),
        // In-process buses are created by the process that runs the services.
        "memory://".to_owned(),
        "memory://mailing".to_owned(),
    ] {
        let error = connect_error(&url, &BusOptions::default()).await;
        assert!(
            matches!(error, BusError::InvalidConfig(_)),
            "{url}: {error}"
        );
        assert_no_password(&error);
    }
    let error = connect_error("redis://localhost", &BusOptions::default()).await;
    let message = error.to_string();
    assert!(message.contains("\"redis\""), "{message}");
    for scheme in ["amqp://", "amqps://", "memory://"] {
        assert!(message.contains(scheme), "{message}");
    }
}

#[tokio::test]
async fn malformed_amqp_urls_are_refused_without_their_password() {
    for url in [
        format!("amqp://user:{PASSWORD}@localhost:notaport/%2f"),
        format!("amqp://user:{PASSWORD}@/%2f"),
        format!("amqps://user:{PASSWORD}@localhost/?heartbeat=often"),
    ] {
        let error = connect_error(&url, &BusOptions::default()).await;
        assert!(
            matches!(error, BusError::InvalidConfig(_)),
            "{url}: {error}"
        );
        assert_no_password(&error);
    }
}

#[tokio::test]
async fn an_invalid_namespace_is_refused_before_connecting() {
    let test = TestBus::new();
    let options = BusOptions {
        namespace: "no spaces".to_owned(),
        ..quick(test.namespace())
    };

    let error = connect_error(test.url(), &options).await;

    assert!(matches!(error, BusError::InvalidConfig(_)), "{error}");
}

async fn a_closed_bus_refuses_work(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    assert!(bus.is_connected());

    bus.close().await;
    bus.close().await;

    assert!(!bus.is_connected());
    assert_eq!(
        bus.publish(Topic::SendJobs, vec![b"{}".to_vec()]).await,
        Err(BusError::Closed)
    );
    assert!(matches!(
        bus.subscribe(Topic::SendJobs, 1).await,
        Err(BusError::Closed)
    ));
    assert_eq!(bus.pending(Topic::SendJobs).await, Err(BusError::Closed));

    test.finish().await;
}

async fn a_subscription_ends_when_its_bus_closes(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let bus = test.connect("bus").await;
    let mut subscription = bus
        .subscribe(Topic::MailingEvents, 1)
        .await
        .expect("subscribed");

    bus.close().await;

    let ended = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the subscription ends");
    assert!(matches!(ended, Some(Err(BusError::Closed))), "{ended:?}");
    assert!(subscription.next().await.is_none());

    test.finish().await;
}

async fn closing_one_bus_leaves_the_others_and_the_queues_alone(adapter: Adapter) {
    let test = TestBus::with_adapter(adapter);
    let closing = test.connect("closing").await;
    let staying = test.connect("staying").await;
    closing
        .publish(Topic::SendJobs, payloads(&["published before the close"]))
        .await
        .expect("confirmed");

    closing.close().await;

    assert!(staying.is_connected());
    assert_eq!(staying.pending(Topic::SendJobs).await, Ok(1));
    let mut subscription = staying
        .subscribe(Topic::SendJobs, 1)
        .await
        .expect("subscribed");
    let delivery = next(&mut subscription).await;
    assert_eq!(text(&delivery), "published before the close");
    assert!(!delivery.redelivered);
    delivery.ack().await.expect("acknowledged");
    staying
        .publish(Topic::SendJobs, payloads(&["after"]))
        .await
        .expect("confirmed");
    assert_eq!(text(&next(&mut subscription).await), "after");

    test.finish().await;
}
