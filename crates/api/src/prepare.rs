//! Getting the database ready for the api: in the dev profile its schema is brought up to date
//! (and the database created if missing), then the admin account is created or updated from the
//! settings. Until that is done the api answers 503 and `/readyz` says why; a database that is
//! not reachable yet, or (outside the dev profile) whose schema still lacks this release's
//! migrations, is waited for; anything else stops the api.

use crate::auth::password::{hash_password, verify_password};
use mailing_domain::store::{ApiStore, StoreError};
use mailing_runtime::{Profile, Settings, Stop, blocking};
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Whether the database is ready for requests; shared by every worker of the server.
#[derive(Debug)]
pub struct Prepared(watch::Sender<bool>);

impl Default for Prepared {
    fn default() -> Self {
        Self(watch::channel(false).0)
    }
}

impl Prepared {
    pub fn is_done(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the database is prepared.
    pub async fn wait(&self) {
        let _ = self.0.subscribe().wait_for(|done| *done).await;
    }

    fn done(&self) {
        self.0.send_replace(true);
    }
}

/// What preparing needs from the settings.
pub(crate) struct Preparation {
    pub(crate) migrate: Option<SecretString>,
    pub(crate) admin_username: String,
    pub(crate) admin_password: SecretString,
}

impl Preparation {
    pub(crate) fn from_settings(settings: &Settings) -> Self {
        Self {
            // The dev profile migrates at start; production runs `mailing-api migrate` once
            // per release instead.
            migrate: (settings.profile == Profile::Dev).then(|| settings.database.url.clone()),
            admin_username: settings.api.admin_username.clone(),
            admin_password: settings.api.admin_password.clone(),
        }
    }
}

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// Prepares the database, waiting for it while it is unreachable, until done or `stop`.
pub(crate) async fn prepare(
    store: Arc<dyn ApiStore>,
    preparation: Preparation,
    prepared: Arc<Prepared>,
    mut stop: Stop,
) -> anyhow::Result<()> {
    let preparation = Arc::new(preparation);
    let mut pause = FIRST_PAUSE;
    loop {
        let attempt = {
            let (store, preparation) = (store.clone(), preparation.clone());
            blocking::run(move || once(store.as_ref(), &preparation)).await
        };
        match attempt {
            Ok(()) => {
                prepared.done();
                // Migrating and hashing the admin password leave heap behind that nothing uses.
                mailing_runtime::memory::return_free_memory();
                return Ok(());
            }
            Err(error) if unreachable(&error) => {
                tracing::warn!(error = %format!("{error:#}"), retry_in_ms = pause.as_millis() as u64, "database not reachable; the api answers 503 until it is");
            }
            Err(error) if error.is::<SchemaBehind>() => {
                let pending = error
                    .downcast_ref::<SchemaBehind>()
                    .map(|behind| behind.0.join(", "))
                    .unwrap_or_default();
                tracing::warn!(
                    pending_migrations = %pending,
                    retry_in_ms = pause.as_millis() as u64,
                    "database schema is behind this release; the api answers 503 until `mailing-api migrate` ran"
                );
            }
            Err(error) => return Err(error),
        }
        tokio::select! {
            () = stop.requested() => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// The schema lacks these migrations of this release, which production applies with a job
/// of its own (`mailing-api migrate`): waited for, as an unreachable database is.
#[derive(Debug, thiserror::Error)]
#[error("the database schema lacks {} migrations of this release", .0.len())]
struct SchemaBehind(Vec<String>);

fn once(store: &dyn ApiStore, preparation: &Preparation) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(url) = &preparation.migrate {
        create_database_if_missing(url)?;
        for version in store.migrate().context("applying migrations")? {
            tracing::info!(%version, "migration applied");
        }
    } else {
        let pending = store
            .pending_migrations()
            .context("checking the database schema")?;
        if !pending.is_empty() {
            return Err(SchemaBehind(pending).into());
        }
    }
    save_admin(
        store,
        &preparation.admin_username,
        &preparation.admin_password,
    )
}

/// Creates the database the settings name where its server lacks it (a fresh dev server).
/// Where the role may not create one, only a warning: the connection that follows reports what
/// is really wrong. An error only when the server cannot be reached.
pub fn create_database_if_missing(url: &SecretString) -> Result<(), StoreError> {
    match mailing_storage::create_database_if_missing(url.expose_secret()) {
        Ok(true) => tracing::info!("database created"),
        Ok(false) => {}
        Err(error @ StoreError::Unavailable(_)) => return Err(error),
        Err(error) => tracing::warn!(%error, "could not check or create the database"),
    }
    Ok(())
}

/// Whether the failure is the database not answering, which waiting may cure.
fn unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<StoreError>(),
            Some(StoreError::Unavailable(_))
        )
    })
}

/// Creates the admin account from configuration, or updates its password when the
/// configuration changed it; it is always an enabled admin.
fn save_admin(store: &dyn ApiStore, username: &str, password: &SecretString) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let existing = store
        .find_user(username)
        .context("reading the admin account")?;
    let up_to_date = existing.as_ref().is_some_and(|user| {
        user.role == mailing_domain::Role::Admin
            && !user.disabled
            && user
                .password_hash
                .as_deref()
                .is_some_and(|hash| verify_password(password.expose_secret(), hash))
    });
    if up_to_date {
        return Ok(());
    }
    let hash = hash_password(password.expose_secret()).context("hashing the admin password")?;
    store
        .save_user(username, &hash)
        .context("saving the admin account")?;
    if existing.is_some() {
        tracing::info!(username, "admin password updated from configuration");
    } else {
        tracing::info!(username, "admin account created from configuration");
    }
    Ok(())
}
