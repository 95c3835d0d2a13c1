//! Blocking work from async code: diesel and password hashing block, so each call runs on
//! tokio's blocking pool, and one that panicked there comes back as the failure it is.

use mailing_domain::store::{StoreError, StoreResult};
use std::sync::Arc;

/// Runs `call` on `store` on the blocking pool.
pub async fn call<S, T, F>(store: &Arc<S>, call: F) -> StoreResult<T>
where
    S: ?Sized + Send + Sync + 'static,
    T: Send + 'static,
    F: FnOnce(&S) -> StoreResult<T> + Send + 'static,
{
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .unwrap_or_else(|error| {
            Err(StoreError::Internal(format!(
                "storage task failed: {error}"
            )))
        })
}

/// Runs blocking `work` that fails with any error (a start-up or one-off job) on the blocking
/// pool.
pub async fn run<T, F>(work: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| anyhow::anyhow!("blocking task failed: {error}"))?
}
