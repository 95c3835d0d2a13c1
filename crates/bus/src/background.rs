//! A RabbitMQ bus handed out before the broker answers: the connection is made, and remade
//! after a failed first attempt, in the background, so a service starts (and reports itself not
//! ready) while the broker is still coming up.

use crate::rabbitmq::RabbitMqBus;
use crate::{BoxFuture, Bus, BusError, BusOptions, Subscription, Topic};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The first pause between connection attempts, doubled after each failure up to
/// [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// What the background task has reached.
#[derive(Clone)]
enum State {
    Connecting,
    Connected(Arc<dyn Bus>),
    Closed,
}

pub(crate) struct BackgroundBus {
    state: watch::Receiver<State>,
    /// Lets `close` end the connection attempts.
    control: watch::Sender<State>,
}

impl BackgroundBus {
    /// Starts connecting to the broker at `url`, which the caller checked already.
    pub(crate) fn start(url: String, options: BusOptions) -> BackgroundBus {
        let (control, state) = watch::channel(State::Connecting);
        let updates = control.clone();
        tokio::spawn(async move {
            let mut pause = FIRST_PAUSE;
            let mut attempts = 0_u32;
            let mut closing = updates.subscribe();
            loop {
                let connected = tokio::select! {
                    biased;
                    _ = closing.wait_for(|state| matches!(state, State::Closed)) => return,
                    connected = RabbitMqBus::connect(&url, &options) => connected,
                };
                attempts += 1;
                let error = match connected {
                    Ok(bus) => {
                        if attempts > 1 {
                            tracing::info!(attempts, "connected to the message broker");
                        }
                        let bus: Arc<dyn Bus> = Arc::new(bus);
                        let mut handed_over = Some(bus);
                        updates.send_if_modified(|state| match state {
                            State::Connecting => {
                                *state = State::Connected(handed_over.take().expect("once"));
                                true
                            }
                            _ => false,
                        });
                        // Closed while the connection was being made.
                        if let Some(bus) = handed_over {
                            bus.close().await;
                        }
                        return;
                    }
                    Err(error) => error,
                };
                if !error.is_transient() && !matches!(error, BusError::Protocol(_)) {
                    tracing::error!(%error, "cannot use the message broker; not trying again");
                    return;
                }
                tracing::warn!(%error, retry_in_ms = pause.as_millis() as u64, "message broker not reachable; retrying");
                tokio::select! {
                    _ = closing.wait_for(|state| matches!(state, State::Closed)) => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        });
        BackgroundBus { state, control }
    }

    fn connected(&self) -> Option<Arc<dyn Bus>> {
        match &*self.state.borrow() {
            State::Connected(bus) => Some(Arc::clone(bus)),
            State::Connecting | State::Closed => None,
        }
    }

    fn not_yet(&self) -> BusError {
        match &*self.state.borrow() {
            State::Closed => BusError::Closed,
            _ => BusError::Unavailable("not connected to the broker yet".to_owned()),
        }
    }
}

impl Bus for BackgroundBus {
    fn publish(&self, topic: Topic, payloads: Vec<Vec<u8>>) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            match self.connected() {
                Some(bus) => bus.publish(topic, payloads).await,
                None => Err(self.not_yet()),
            }
        })
    }

    /// Waits for the first connection, then subscribes.
    fn subscribe(
        &self,
        topic: Topic,
        prefetch: u16,
    ) -> BoxFuture<'_, Result<Subscription, BusError>> {
        Box::pin(async move {
            let mut state = self.state.clone();
            let reached = state
                .wait_for(|state| !matches!(state, State::Connecting))
                .await
                .map(|state| state.clone());
            match reached {
                Ok(State::Connected(bus)) => bus.subscribe(topic, prefetch).await,
                _ => Err(BusError::Closed),
            }
        })
    }

    fn pending(&self, topic: Topic) -> BoxFuture<'_, Result<u64, BusError>> {
        Box::pin(async move {
            match self.connected() {
                Some(bus) => bus.pending(topic).await,
                None => Err(self.not_yet()),
            }
        })
    }

    fn is_connected(&self) -> bool {
        self.connected().is_some_and(|bus| bus.is_connected())
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let previous = self.control.send_replace(State::Closed);
            if let State::Connected(bus) = previous {
                bus.close().await;
            }
        })
    }
}
