//! Opening the one long-lived connection, and how it comes back after the broker goes away.
//!
//! lapin's auto-recovery reconnects and replays channels, topology, QoS, confirm mode and
//! consumers. Three of its habits need care:
//! - Its TCP reconnect gives up after a fixed number of attempts, and the connection is then
//!   dead for good. We hand it our own connector, which keeps trying (capped backoff, jitter)
//!   for as long as the bus is open, so an outage of any length ends in recovery.
//! - It reconnects from its own thread, which outlives a `connect` that timed out and a bus
//!   that was closed during an outage. The connector checks the [`Gate`] before every attempt,
//!   so once nobody wants the connection it stops dialling.
//! - That thread sleeps and dials on the runtime lapin was given, and panics if that runtime
//!   has shut down. lapin gets [`io_runtime`], which never does.

use super::url::BrokerUrl;
use crate::gate::Gate;
use crate::{BusError, BusOptions};
use lapin::tcp::{AMQPUriTcpExt, OwnedTLSConfig};
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties, ConnectionStatus};
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, info, warn};

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Log a still-failing reconnect about once a minute, not on every attempt.
const REPORT_EVERY_ATTEMPTS: u32 = 12;

/// Connects within `options.connect_timeout`, retrying refused or failed attempts until then.
pub(super) async fn open(
    broker: &BrokerUrl,
    options: &BusOptions,
    gate: &Arc<Gate>,
) -> Result<Connection, BusError> {
    let deadline = Instant::now() + options.connect_timeout;
    // Reach the port ourselves first: while the broker is down no lapin thread is started,
    // so a failed `connect` leaves nothing behind.
    wait_for_port(broker, deadline).await?;

    let runtime = async_rs::Runtime::tokio_with_handle(io_runtime()?);
    let properties = ConnectionProperties::default()
        .with_connection_name(options.client_name.as_str().into())
        .enable_auto_recover()
        // Our connector retries TCP failures itself; this budget only covers connections that
        // open but fail during the AMQP handshake, which a broker does only while it starts
        // or stops. It also bounds how long lapin's thread lingers after the gate closed.
        .configure_backoff(|backoff| {
            backoff
                .with_min_delay(FIRST_RETRY_DELAY)
                .with_max_delay(MAX_RETRY_DELAY)
                .with_max_times(60)
                .with_jitter()
        });
    let attempt_timeout = options.connect_timeout;
    let connector_gate = Arc::clone(gate);
    let tls = OwnedTLSConfig::default();
    // The TCP (and TLS) connector lapin calls for the first connection and for every
    // recovery. Written in place so that the runtime types lapin's signature mentions, which
    // it does not export, are inferred.
    let connector = async move |uri: AMQPUri, runtime| {
        let mut attempt = 0;
        loop {
            if connector_gate.is_closed() {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the message bus was closed",
                )
                .into());
            }
            attempt += 1;
            let connecting = uri.connect_with_config_async(tls.as_ref(), &runtime);
            let failure = match tokio::time::timeout(attempt_timeout, connecting).await {
                Ok(Ok(stream)) => {
                    if attempt > 1 {
                        info!(attempts = attempt, "reached the message broker again");
                    }
                    return Ok(stream);
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => "timed out".to_owned(),
            };
            if attempt == 1 || attempt % REPORT_EVERY_ATTEMPTS == 0 {
                warn!(
                    host = %uri.authority.host,
                    port = uri.authority.port,
                    attempts = attempt,
                    error = %failure,
                    "cannot reach the message broker; still trying"
                );
            }
            tokio::time::sleep(retry_delay(attempt)).await;
        }
    };
    let connecting = Connection::connector(broker.uri.clone(), runtime, connector, properties);
    match tokio::time::timeout_at(deadline, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => {
            gate.close();
            Err(super::errors::from_lapin(&error))
        }
        Err(_) => {
            gate.close();
            Err(BusError::Unavailable(format!(
                "the broker at {}:{} did not complete the AMQP handshake within {:?}",
                broker.host(),
                broker.port(),
                options.connect_timeout
            )))
        }
    }
}

async fn wait_for_port(broker: &BrokerUrl, deadline: Instant) -> Result<(), BusError> {
    let address = (broker.host(), broker.port());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match tokio::time::timeout_at(
            deadline,
            tokio::net::TcpStream::connect(address),
        )
        .await
        {
            Ok(Ok(_probe)) => return Ok(()),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        let delay = retry_delay(attempt);
        if Instant::now() + delay >= deadline {
            return Err(BusError::Unavailable(format!(
                "cannot reach the broker at {}:{}: {failure}",
                broker.host(),
                broker.port()
            )));
        }
        tokio::time::sleep(delay).await;
    }
}

/// The runtime the bus's background work runs on: lapin's I/O, timers and internal tasks, the
/// connection watcher, the requeueing of dropped deliveries. It is the bus's own and lives as
/// long as the process, because lapin's reconnecting thread uses its runtime at any moment,
/// and a runtime that shuts down under it (a test's, an actix worker's) makes that thread
/// panic.
pub(super) fn io_runtime() -> Result<tokio::runtime::Handle, BusError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                // A worker thread of its own drives the reactor and timers; the bus's
                // traffic is far too little to need more.
                .worker_threads(1)
                .thread_name("mailing-bus-io")
                .enable_all()
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map(|runtime| runtime.handle().clone())
        .map_err(|error| BusError::Unavailable(format!("cannot start the bus runtime: {error}")))
}

/// Exponential from 100 ms to 5 s, with jitter so that replicas reconnecting to a restarted
/// broker do not arrive together.
fn retry_delay(attempt: u32) -> Duration {
    let exponential = FIRST_RETRY_DELAY.saturating_mul(1 << attempt.min(8).saturating_sub(1));
    let capped = exponential.min(MAX_RETRY_DELAY);
    capped.mul_f64(rand::random_range(0.5..=1.0))
}

/// Logs the connection's losses and recoveries once for the process, however many
/// subscriptions wait on it.
pub(super) fn watch(status: ConnectionStatus, gate: Arc<Gate>) -> Option<JoinHandle<()>> {
    let runtime = io_runtime().ok()?;
    Some(runtime.spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut was_connected = true;
        loop {
            ticks.tick().await;
            if gate.is_closed() {
                return;
            }
            if status.errored() || status.closed() {
                error!("the connection to the message broker is lost and will not be restored");
                return;
            }
            let connected = status.connected();
            if was_connected && !connected {
                warn!("lost the connection to the message broker; reconnecting");
            } else if !was_connected && connected {
                info!("the connection to the message broker is restored");
            }
            was_connected = connected;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_to_a_cap() {
        for attempt in 1..40 {
            let delay = retry_delay(attempt);
            assert!(delay <= MAX_RETRY_DELAY, "attempt {attempt}: {delay:?}");
            assert!(
                delay >= FIRST_RETRY_DELAY / 2,
                "attempt {attempt}: {delay:?}"
            );
        }
        assert!(retry_delay(30) >= MAX_RETRY_DELAY / 2);
    }
}
