//! A throwaway namespace per test, on a local RabbitMQ or on an in-process bus of its own, so
//! tests run in parallel without sharing queues, and leave nothing behind.

use crate::rabbitmq::admin;
use crate::{Bus, BusError, BusOptions, InProcessBus, Topic};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the tests find RabbitMQ.
pub const AMQP_URL_VAR: &str = "MAILING_TEST_AMQP_URL";
const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Which adapter a [`TestBus`] connects through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// The RabbitMQ at [`AMQP_URL_VAR`].
    RabbitMq,
    /// An in-process bus of the test's own.
    Memory,
}

/// A message nacked without requeue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The topic it was published to.
    pub topic: Topic,
    pub payload: Vec<u8>,
}

/// A namespace `test-<random hex>` whose exchanges and queues are deleted when this value is
/// finished or dropped.
pub struct TestBus {
    adapter: Adapter,
    url: String,
    /// The bus itself, with [`Adapter::Memory`].
    in_process: Option<InProcessBus>,
    namespace: String,
    buses: Mutex<Vec<Arc<dyn Bus>>>,
    finished: bool,
}

impl TestBus {
    /// A namespace on RabbitMQ.
    pub fn new() -> TestBus {
        TestBus::with_adapter(Adapter::RabbitMq)
    }

    /// A namespace on an in-process bus of its own.
    pub fn in_memory() -> TestBus {
        TestBus::with_adapter(Adapter::Memory)
    }

    pub fn with_adapter(adapter: Adapter) -> TestBus {
        match adapter {
            Adapter::RabbitMq => TestBus::on_rabbitmq(
                &std::env::var(AMQP_URL_VAR).unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned()),
            ),
            Adapter::Memory => {
                let mut test = TestBus::new_namespace(adapter, |id| format!("memory://{id}"));
                test.in_process = Some(InProcessBus::new());
                test
            }
        }
    }

    /// A namespace on the RabbitMQ at `url` (a broker of the test's own, say).
    pub fn on_rabbitmq(url: &str) -> TestBus {
        TestBus::new_namespace(Adapter::RabbitMq, |_| url.to_owned())
    }

    /// A namespace `test-<random hex>` reached at the URL `url_for` gives for that name.
    fn new_namespace(adapter: Adapter, url_for: impl FnOnce(&str) -> String) -> TestBus {
        let id = format!("test-{:016x}", rand::random::<u64>());
        let url = url_for(&id);
        TestBus {
            adapter,
            url,
            in_process: None,
            namespace: id,
            buses: Mutex::new(Vec::new()),
            finished: false,
        }
    }

    pub fn adapter(&self) -> Adapter {
        self.adapter
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Options for a bus in this namespace whose connection is named `{namespace}-{client}`.
    pub fn options(&self, client: &str) -> BusOptions {
        BusOptions {
            namespace: self.namespace.clone(),
            connect_timeout: Duration::from_secs(10),
            client_name: self.connection_name(client),
        }
    }

    fn connection_name(&self, client: &str) -> String {
        format!("{}-{client}", self.namespace)
    }

    /// Connects a bus in this namespace; [`TestBus::finish`] closes it. On the in-process bus,
    /// every bus connected this way is a connection of the same bus and shares its queues, as
    /// separate connections to one RabbitMQ namespace do.
    ///
    /// # Panics
    /// If RabbitMQ cannot be reached; the message says how to start it.
    pub async fn connect(&self, client: &str) -> Arc<dyn Bus> {
        self.connect_to(&self.url, client).await
    }

    /// Like [`TestBus::connect`], through another URL to the same broker (a proxy a test
    /// can cut, say).
    pub async fn connect_to(&self, url: &str, client: &str) -> Arc<dyn Bus> {
        if let Some(in_process) = &self.in_process {
            let bus = in_process.connect(&self.connection_name(client));
            self.lock_buses().push(Arc::clone(&bus));
            return bus;
        }
        let bus = crate::connect(url, &self.options(client))
            .await
            .unwrap_or_else(|error| match self.adapter {
                Adapter::RabbitMq => panic!(
                    "cannot connect to the test RabbitMQ ({error}). Start it with \
                     `rabbitmq-server -detached`, or point {AMQP_URL_VAR} at one \
                     (default amqp://guest:***@127.0.0.1:5672/%2f)"
                ),
                Adapter::Memory => panic!("cannot connect to the in-process bus: {error}"),
            });
        self.lock_buses().push(Arc::clone(&bus));
        bus
    }

    /// How many messages the namespace's dead-letter queue holds.
    pub async fn dead_lettered(&self) -> u64 {
        let counted = match self.adapter {
            Adapter::RabbitMq => admin::dead_lettered(&self.url, &self.namespace).await,
            Adapter::Memory => Ok(self.in_process_dead_letters().len() as u64),
        };
        counted.unwrap_or_else(|error| panic!("cannot read the dead-letter queue: {error}"))
    }

    /// The messages in the namespace's dead-letter queue, oldest first; they stay there.
    pub async fn dead_letters(&self) -> Vec<DeadLetter> {
        let letters = match self.adapter {
            Adapter::RabbitMq => admin::dead_letters(&self.url, &self.namespace).await,
            Adapter::Memory => Ok(self.in_process_dead_letters()),
        };
        letters.unwrap_or_else(|error| panic!("cannot read the dead-letter queue: {error}"))
    }

    fn in_process_dead_letters(&self) -> Vec<DeadLetter> {
        self.in_process
            .as_ref()
            .map(InProcessBus::dead_letters)
            .unwrap_or_default()
            .into_iter()
            .map(|(topic, payload)| DeadLetter { topic, payload })
            .collect()
    }

    /// The in-process bus itself, with [`Adapter::Memory`].
    pub fn in_process(&self) -> Option<&InProcessBus> {
        self.in_process.as_ref()
    }

    /// Deletes the namespace's exchanges and queues now, as an operator might by mistake. An
    /// in-process bus has nothing to delete: it goes with its last handle.
    pub async fn delete_topology(&self) {
        if let Err(error) = delete_topology(self.adapter, &self.url, &self.namespace).await {
            panic!("cannot delete test namespace {}: {error}", self.namespace);
        }
    }

    /// Has the broker close the connection of `client` as an operator would, which the bus
    /// must recover from. Only this test's connection is affected.
    ///
    /// # Panics
    /// On the in-process bus, which has no broker to do it; if `rabbitmqctl` is missing or no
    /// such connection is open.
    pub fn force_close_connection(&self, client: &str) {
        assert_eq!(
            self.adapter,
            Adapter::RabbitMq,
            "only RabbitMQ connections can be closed by the broker"
        );
        let wanted = format!(
            "{{\"connection_name\",\"{}\"}}",
            self.connection_name(client)
        );
        let listing = rabbitmqctl(&[
            "list_connections",
            "--quiet",
            "--no-table-headers",
            "pid",
            "client_properties",
        ]);
        let pid = listing
            .lines()
            .find(|line| line.contains(&wanted))
            .and_then(|line| line.split('\t').next())
            .unwrap_or_else(|| panic!("no open connection named {wanted} in:\n{listing}"));
        rabbitmqctl(&["close_connection", pid, "closed by a test"]);
    }

    /// Closes the buses this value connected and deletes the namespace.
    pub async fn finish(mut self) {
        self.finished = true;
        let buses = std::mem::take(&mut *self.lock_buses());
        for bus in buses {
            bus.close().await;
        }
        self.delete_topology().await;
    }

    fn lock_buses(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn Bus>>> {
        self.buses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for TestBus {
    fn default() -> Self {
        TestBus::new()
    }
}

impl Drop for TestBus {
    /// A test that panicked before `finish` still removes its namespace. The drop may run on
    /// the test's runtime thread, which must not block on async work, so the cleanup gets a
    /// thread and a runtime of its own.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (adapter, url, namespace) = (self.adapter, self.url.clone(), self.namespace.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the test cleanup");
            runtime.block_on(delete_topology(adapter, &url, &namespace))
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("cannot delete test namespace {}: {error}", self.namespace);
        }
    }
}

async fn delete_topology(adapter: Adapter, url: &str, namespace: &str) -> Result<(), BusError> {
    match adapter {
        Adapter::RabbitMq => admin::delete_topology(url, namespace).await,
        Adapter::Memory => Ok(()),
    }
}

fn rabbitmqctl(arguments: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .args(arguments)
        .output()
        .unwrap_or_else(|error| panic!("cannot run rabbitmqctl (is RabbitMQ installed?): {error}"));
    assert!(
        output.status.success(),
        "rabbitmqctl {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
