//! What every request handler shares.

use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::Tokens;
use crate::error::ApiError;
use actix_web::web;
use mailing_domain::store::{Store, StoreError};
use std::sync::Arc;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub tokens: Tokens,
    /// How long an admin UI login lasts.
    pub admin_session_ttl: std::time::Duration,
    pub login_throttle: LoginThrottle,
    /// Wakes the outbox relay after a write that stored a mailing event.
    pub outbox_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// Runs one storage call on the blocking pool, so diesel never blocks an async worker.
    pub async fn run<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        web::block(move || call(store.as_ref()))
            .await
            .map_err(|error| ApiError::Internal(format!("blocking pool: {error}")))?
            .map_err(ApiError::from)
    }
}
