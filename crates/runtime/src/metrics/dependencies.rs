//! `mailing_database_up` and `mailing_broker_up`: whether a service reaches what it needs, as
//! `/readyz` checks it, but as gauges an alert can name and a graph can show over time.

use super::{Sampler, SamplerRegistration, register_sampler};
use mailing_domain::store::Ping;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub(super) const DATABASE_UP: &str = "mailing_database_up";
pub(super) const BROKER_UP: &str = "mailing_broker_up";
/// The `sampler` label of their last-success timestamp.
const SAMPLER: &str = "dependencies";

/// How long the database may take to answer its ping before it counts as down: well inside the
/// scrape's sampling budget, so a hanging database reads 0 instead of keeping its last 1.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// Pings `store` and asks `bus` whether it is connected before every scrape, until the
/// registration is dropped.
pub fn watch_dependencies<S>(store: Arc<S>, bus: Arc<dyn mailing_bus::Bus>) -> SamplerRegistration
where
    S: Ping + ?Sized + Send + Sync + 'static,
{
    register_sampler(Arc::new(Dependencies { store, bus }))
}

struct Dependencies<S: ?Sized> {
    store: Arc<S>,
    bus: Arc<dyn mailing_bus::Bus>,
}

impl<S> Sampler for Dependencies<S>
where
    S: Ping + ?Sized + Send + Sync + 'static,
{
    fn names(&self) -> &'static [&'static str] {
        &[SAMPLER]
    }

    fn sample(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let ping = crate::blocking::call(&self.store, |store| store.ping());
            let database_up = matches!(tokio::time::timeout(PING_TIMEOUT, ping).await, Ok(Ok(())));
            metrics::gauge!(DATABASE_UP).set(f64::from(u8::from(database_up)));
            metrics::gauge!(BROKER_UP).set(f64::from(u8::from(self.bus.is_connected())));
            // Both gauges were set, up or down: the reading itself succeeded.
            super::sample_succeeded(SAMPLER);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailing_domain::store::{StoreError, StoreResult};
    use std::sync::atomic::{AtomicU8, Ordering};

    /// A database that answers (0), refuses (1) or hangs (2).
    struct Database(AtomicU8);

    impl Ping for Database {
        fn ping(&self) -> StoreResult<()> {
            match self.0.load(Ordering::SeqCst) {
                0 => Ok(()),
                1 => Err(StoreError::Unavailable("refused".to_owned())),
                _ => {
                    std::thread::sleep(PING_TIMEOUT * 3);
                    Ok(())
                }
            }
        }

        fn pending_migrations(&self) -> StoreResult<Vec<String>> {
            Ok(Vec::new())
        }
    }

    fn value(text: &str, name: &str) -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
            .parse()
            .unwrap()
    }

    #[tokio::test]
    async fn up_gauges_follow_the_database_and_the_broker() {
        let _turn = super::super::tests::SERIAL.lock().await;
        crate::metrics::install();
        let database = Arc::new(Database(AtomicU8::new(0)));
        let bus = mailing_bus::InProcessBus::new().connect("test");
        let _registration = watch_dependencies(database.clone(), bus.clone());

        let text = crate::metrics::render().await;
        assert_eq!(value(&text, DATABASE_UP), 1.0, "{text}");
        assert_eq!(value(&text, BROKER_UP), 1.0);

        database.0.store(1, Ordering::SeqCst);
        bus.close().await;
        let text = crate::metrics::render().await;
        assert_eq!(value(&text, DATABASE_UP), 0.0, "{text}");
        assert_eq!(value(&text, BROKER_UP), 0.0);

        // A database that does not answer is down too, not up as it last was.
        database.0.store(0, Ordering::SeqCst);
        crate::metrics::render().await;
        database.0.store(2, Ordering::SeqCst);
        let text = crate::metrics::render().await;
        assert_eq!(value(&text, DATABASE_UP), 0.0, "{text}");
    }
}
