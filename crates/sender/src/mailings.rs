//! The latest schedule and state of the mailings being sent, re-read from the database at most
//! every [`MAX_AGE`], so a cancel or an earlier end reaches attempts that were loaded before it.

use mailing_domain::MailingId;
use mailing_domain::store::{MailingState, SenderStore};
use mailing_runtime::blocking;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How stale a mailing's state may be when an attempt starts.
pub const MAX_AGE: Duration = Duration::from_millis(100);

pub struct MailingStates {
    store: Arc<dyn SenderStore>,
    cache: Mutex<HashMap<MailingId, (Instant, Option<MailingState>)>>,
    /// One reload at a time: attempts that find a stale entry wait for it rather than each
    /// querying the database.
    reload: tokio::sync::Mutex<()>,
}

impl MailingStates {
    pub fn new(store: Arc<dyn SenderStore>) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, id: MailingId) -> Option<Option<MailingState>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&id)
            .filter(|(read_at, _)| read_at.elapsed() < MAX_AGE)
            .map(|(_, state)| state.clone())
    }

    /// The mailing's state, at most [`MAX_AGE`] old; `None` if it was deleted. A database
    /// error gives `Err`, and the caller leaves the message for later.
    pub async fn get(&self, id: MailingId) -> Result<Option<MailingState>, String> {
        if let Some(state) = self.cached(id) {
            return Ok(state);
        }
        let _reloading = self.reload.lock().await;
        if let Some(state) = self.cached(id) {
            return Ok(state);
        }
        let read_at = Instant::now();
        let mut states = blocking::call(&self.store, move |store| store.mailing_states(&[id]))
            .await
            .map_err(|e| e.to_string())?;
        let state = states.pop();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        // Forget mailings nobody asked about for a while, so the map stays small.
        cache.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(60));
        cache.insert(id, (read_at, state.clone()));
        Ok(state)
    }
}
