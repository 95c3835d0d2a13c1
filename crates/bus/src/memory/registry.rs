//! Which in-process bus a name reaches: one per namespace and name, for the life of the
//! process, like the queues of a broker that outlive its connections.
//!
//! A bus that nobody holds and that holds nothing (no message, no dead letter) is forgotten,
//! which nobody can tell from keeping it: the next `connect` gets an identical, empty one. So
//! a process that goes through many names (the tests) does not accumulate them.

use super::broker::Broker;
use super::lock;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, LazyLock, Mutex};

/// `(namespace, name)`.
type Key = (String, String);

/// Every bus is cloned out of here under this lock, so while it is held a bus's strong count
/// says how many [`Held`] there are.
static BROKERS: LazyLock<Mutex<HashMap<Key, Arc<Broker>>>> = LazyLock::new(Mutex::default);

/// A connection's hold on its bus.
pub(super) struct Held {
    key: Key,
    broker: Arc<Broker>,
}

/// The bus of `name` in `namespace`, created by the first caller.
pub(super) fn hold(namespace: &str, name: &str) -> Held {
    let key = (namespace.to_owned(), name.to_owned());
    let broker = Arc::clone(lock(&BROKERS).entry(key.clone()).or_default());
    Held { key, broker }
}

impl Deref for Held {
    type Target = Broker;

    fn deref(&self) -> &Broker {
        &self.broker
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut brokers = lock(&BROKERS);
        let registered = brokers
            .get(&self.key)
            .is_some_and(|broker| Arc::ptr_eq(broker, &self.broker));
        // The registry's reference and ours: no other connection can publish meanwhile.
        if registered && Arc::strong_count(&self.broker) == 2 && self.broker.is_idle() {
            brokers.remove(&self.key);
        }
    }
}

#[cfg(feature = "testing")]
pub(super) fn find(namespace: &str, name: &str) -> Option<Arc<Broker>> {
    lock(&BROKERS)
        .get(&(namespace.to_owned(), name.to_owned()))
        .cloned()
}

/// Forgets the bus of `name` in `namespace`: buses connected to it keep it, later ones get a
/// new, empty one.
#[cfg(feature = "testing")]
pub(super) fn forget(namespace: &str, name: &str) {
    lock(&BROKERS).remove(&(namespace.to_owned(), name.to_owned()));
}

#[cfg(test)]
pub(super) fn is_registered(namespace: &str, name: &str) -> bool {
    lock(&BROKERS).contains_key(&(namespace.to_owned(), name.to_owned()))
}
