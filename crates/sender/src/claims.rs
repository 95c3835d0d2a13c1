//! The claims this sender is working on, renewed in the database on a timer so the scheduler
//! takes back claims only from a sender that stopped, not from one that is busy (a backlog
//! waiting for the rate limit, a slow probe).

use chrono::{DateTime, Utc};
use mailing_domain::MessageId;
use mailing_domain::store::SenderStore;
use mailing_runtime::{Stop, blocking};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct HeldClaims {
    claims: Mutex<HashMap<MessageId, DateTime<Utc>>>,
}

impl HeldClaims {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MessageId, DateTime<Utc>>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn hold(&self, id: MessageId, claimed_at: DateTime<Utc>) {
        self.lock().insert(id, claimed_at);
    }

    pub fn release(&self, id: MessageId) {
        self.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn snapshot(&self) -> Vec<(MessageId, DateTime<Utc>)> {
        self.lock().iter().map(|(id, at)| (*id, *at)).collect()
    }
}

/// Renews the held claims every `every` until `stop` is asked.
pub async fn renew(
    store: Arc<dyn SenderStore>,
    held: Arc<HeldClaims>,
    every: Duration,
    mut stop: Stop,
) {
    loop {
        tokio::select! {
            () = stop.requested() => return,
            () = tokio::time::sleep(every) => {}
        }
        let claims = held.snapshot();
        if claims.is_empty() {
            continue;
        }
        let count = claims.len();
        match blocking::call(&store, move |store| store.renew_claims(&claims, Utc::now())).await {
            Ok(renewed) => {
                tracing::debug!(held = count, renewed = renewed.len(), "claims renewed")
            }
            Err(error) => tracing::warn!(%error, "renewing claims failed"),
        }
    }
}
