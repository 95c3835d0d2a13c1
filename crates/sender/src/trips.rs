//! Records the circuit breaker's trips in the database every few seconds, off the send path,
//! so the daily report can count them across every sender.

use crate::breaker::Breaker;
use crate::worker::Worker;
use mailing_domain::store::SenderStore;
use mailing_runtime::{Stop, blocking};
use std::sync::Arc;
use std::time::Duration;

/// How often trips are written.
const EVERY: Duration = Duration::from_secs(10);

/// Writes the trips every [`EVERY`] until the stop signal.
pub(crate) async fn record(store: Arc<dyn SenderStore>, worker: Arc<Worker>, mut stop: Stop) {
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.requested() => break,
            _ = interval.tick() => {}
        }
        flush(&store, &worker.breaker).await;
    }
}

/// Writes the trips not yet written; on failure keeps them for the next time.
pub(crate) async fn flush(store: &Arc<dyn SenderStore>, breaker: &Breaker) {
    let trips = breaker.take_trips();
    if trips.is_empty() {
        return;
    }
    let written = trips.clone();
    if let Err(error) =
        blocking::call(store, move |store| store.record_breaker_trips(&written)).await
    {
        tracing::debug!(%error, "cannot record circuit breaker trips yet; keeping them");
        breaker.return_trips(trips);
    }
}
