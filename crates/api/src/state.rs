//! What every request handler shares.

use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::Tokens;
use crate::error::ApiError;
use crate::prepare::Prepared;
use mailing_domain::store::{ApiStore, StoreError};
use mailing_runtime::blocking;
use std::sync::Arc;

pub struct AppState {
    pub store: Arc<dyn ApiStore>,
    pub tokens: Tokens,
    /// How long an admin UI login lasts.
    pub admin_session_ttl: std::time::Duration,
    pub login_throttle: LoginThrottle,
    /// Wakes the outbox relay after a write that stored a mailing event.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Whether the database is ready (migrated, admin account in place).
    pub prepared: Arc<Prepared>,
    /// The connection the outbox relay publishes on, for `/readyz`.
    pub bus: Arc<dyn mailing_bus::Bus>,
    /// How forwarded replies are checked and read.
    pub inbound: crate::operations::inbound::InboundConfig,
    /// The account `MAILING_ADMIN_USERNAME` configures, which only the configuration changes.
    pub admin_username: String,
    /// Whether people may sign in with a password (`MAILING_PASSWORD_LOGIN`).
    pub password_login: bool,
    /// Single sign-on to the admin UI, when configured.
    pub single_sign_on: Option<crate::auth::SingleSignOn>,
    /// The daily report's calendar, and its mailer when the e-mail is on.
    pub reports: crate::operations::reports::ReportConfig,
}

impl AppState {
    /// Runs one storage call on the blocking pool, so diesel never blocks an async worker.
    pub async fn run<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn ApiStore) -> Result<T, StoreError> + Send + 'static,
    {
        Ok(blocking::call(&self.store, call).await?)
    }
}
