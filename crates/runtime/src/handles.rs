//! What a service is built from besides its settings: the store it reads and writes, the bus it
//! talks over, and the signal that stops it. A process opens each once and hands every service
//! it runs the narrow part it needs.

use crate::settings::{BusSettings, DatabaseSettings};
use crate::stop::Stop;
use mailing_bus::{Bus, BusError, BusOptions};
use mailing_domain::store::{ApiStore, SchedulerStore, SenderStore, Store, StoreError};
use mailing_storage::ConnectOptions;
use secrecy::ExposeSecret as _;
use std::sync::Arc;

/// A service's handles; `S` is the store trait it needs (`dyn SchedulerStore`, say).
pub struct Handles<S: ?Sized> {
    pub store: Arc<S>,
    pub bus: Arc<dyn Bus>,
    pub stop: Stop,
}

/// The narrow views of the store each service takes.
impl Handles<dyn Store> {
    pub fn for_api(self) -> Handles<dyn ApiStore> {
        self.narrow(|store| store as Arc<dyn ApiStore>)
    }

    pub fn for_scheduler(self) -> Handles<dyn SchedulerStore> {
        self.narrow(|store| store as Arc<dyn SchedulerStore>)
    }

    pub fn for_sender(self) -> Handles<dyn SenderStore> {
        self.narrow(|store| store as Arc<dyn SenderStore>)
    }
}

impl<S: ?Sized> Handles<S> {
    fn narrow<T: ?Sized>(self, view: impl FnOnce(Arc<S>) -> Arc<T>) -> Handles<T> {
        Handles {
            store: view(self.store),
            bus: self.bus,
            stop: self.stop,
        }
    }
}

/// Opens the database's pool without connecting: a database that is still down makes calls
/// fail as unavailable (and `/readyz` say so) until it is up. Fails only for settings no
/// backend can use, which loading them has ruled out.
pub fn open_store(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    mailing_storage::open(
        settings.url.expose_secret(),
        &ConnectOptions {
            max_connections: settings.max_connections,
            acquire_timeout: settings.acquire_timeout,
        },
    )
}

/// Starts connecting to the RabbitMQ broker the settings name, in the background: the bus is
/// not connected (and `/readyz` says so) until the broker answers. `client` names the
/// connection in the broker's tools. Fails for the in-process bus, which only a process running
/// several services creates.
pub fn connect_bus(settings: &BusSettings, client: &str) -> Result<Arc<dyn Bus>, BusError> {
    mailing_bus::connect_in_background(settings.url.expose_secret(), &bus_options(settings, client))
}

/// How a service connects to the broker.
pub fn bus_options(settings: &BusSettings, client: &str) -> BusOptions {
    BusOptions {
        namespace: settings.namespace.clone(),
        client_name: client.to_owned(),
        ..BusOptions::default()
    }
}
