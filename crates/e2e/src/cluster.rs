//! A whole deployment per test, in either of the product's setups (see the README): its processes as
//! children on a database and a bus of the test's own, killed and cleaned up when the
//! [`Cluster`] is dropped.

use crate::api::{ApiClient, MailingStats};
use crate::db;
use crate::population::ClientSpec;
use crate::sim::SimClient;
use mailing_bus::testing::{Adapter, TestBus};
use mailing_domain::store::Store;
use mailing_storage::testing::{AnyTestDatabase, TestDatabase, TestSqliteDatabase};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a process may take to answer its health check after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The parts of a deployment, each reachable on a port of its own whichever process runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    ProbeSim,
    Api,
    Scheduler,
    Sender,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::ProbeSim,
        Service::Api,
        Service::Scheduler,
        Service::Sender,
    ];

    /// Where the service answers once it can do its work, as a load balancer asks: the api
    /// needs its database (writes wait in the outbox while the broker is away), the workers
    /// their database and broker.
    fn ready_path(self) -> &'static str {
        match self {
            Service::ProbeSim => "/healthz",
            Service::Api => "/readyz?exclude=broker",
            Service::Scheduler | Service::Sender => "/readyz",
        }
    }
}

/// The two ways to run the product (see the README). The probe simulator is a process of its own in
/// both, so its record of deliveries outlives any process a test kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setup {
    /// `mailing-api`, `mailing-scheduler` and `mailing-sender` as separate processes on
    /// PostgreSQL and RabbitMQ.
    Distributed,
    /// One `mailing` process running the api, scheduler and sender on a SQLite file and its
    /// in-process bus; it needs no external service.
    Embedded,
}

impl Setup {
    /// Each process of the setup: its binary and the services it runs.
    fn processes(self) -> &'static [(&'static str, &'static [Service])] {
        match self {
            Setup::Distributed => &[
                ("probe-sim", &[Service::ProbeSim]),
                ("mailing-api", &[Service::Api]),
                ("mailing-scheduler", &[Service::Scheduler]),
                ("mailing-sender", &[Service::Sender]),
            ],
            Setup::Embedded => &[
                ("probe-sim", &[Service::ProbeSim]),
                (
                    "mailing",
                    &[Service::Api, Service::Scheduler, Service::Sender],
                ),
            ],
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setup::Distributed => "distributed",
            Setup::Embedded => "embedded",
        })
    }
}

/// What a test changes in the deployment: environment variables per service, applied over the
/// harness's defaults, how many replicas of a service run, and the servers it runs on. Where
/// one process runs several services it gets the variables of each.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    name: String,
    setup: Setup,
    env: BTreeMap<Service, Vec<(String, String)>>,
    binary_defaults: bool,
    replicas: BTreeMap<Service, usize>,
    servers: Option<Servers>,
}

/// PostgreSQL and RabbitMQ servers of the test's own, for a distributed deployment that must
/// not share the machine's (a test that restarts them, say).
#[derive(Debug, Clone)]
pub struct Servers {
    /// A role that may create databases; the deployment's database is created beside this one.
    pub database_admin_url: String,
    /// The broker; the deployment gets a namespace of its own on it.
    pub amqp_url: String,
}

impl ClusterOptions {
    /// `name` names the test; its logs go to `target/e2e-logs/<name>-<setup>/`.
    pub fn new(name: &str, setup: Setup) -> Self {
        Self {
            name: format!("{name}-{setup}"),
            setup,
            env: BTreeMap::new(),
            binary_defaults: false,
            replicas: BTreeMap::new(),
            servers: None,
        }
    }

    /// Runs `count` (at least one) processes of `service`, each with a health port of its own.
    ///
    /// # Panics
    /// For the embedded setup, whose one process runs everything, and for the simulator.
    pub fn replicas(mut self, service: Service, count: usize) -> Self {
        assert!(
            self.setup == Setup::Distributed && service != Service::ProbeSim,
            "only the distributed setup's api, scheduler and sender have replicas"
        );
        self.replicas.insert(service, count.max(1));
        self
    }

    /// Runs the distributed setup on these servers instead of the machine's PostgreSQL and
    /// RabbitMQ.
    ///
    /// # Panics
    /// For the embedded setup, which needs no server.
    pub fn servers(mut self, servers: Servers) -> Self {
        assert_eq!(
            self.setup,
            Setup::Distributed,
            "only the distributed setup runs on servers"
        );
        self.servers = Some(servers);
        self
    }

    /// Leaves the services' timing and sizing at their binaries' defaults instead of the
    /// harness's test-friendly ones (short ticks, leases, timeouts and backoffs, four database
    /// connections, two simulator workers): only addresses, the database, the bus and the
    /// probe's URL and token are set, besides what [`ClusterOptions::env`] adds. For
    /// benchmarks, which measure the product as it ships.
    pub fn binary_defaults(mut self) -> Self {
        self.binary_defaults = true;
        self
    }

    /// The test's name with its setup, as its log directory is named.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn env(mut self, service: Service, key: &str, value: impl ToString) -> Self {
        self.env
            .entry(service)
            .or_default()
            .push((key.to_owned(), value.to_string()));
        self
    }

    /// A `PROBE_SIM_*` setting of the simulator.
    pub fn sim(self, key: &str, value: impl ToString) -> Self {
        self.env(Service::ProbeSim, key, value)
    }

    pub fn api(self, key: &str, value: impl ToString) -> Self {
        self.env(Service::Api, key, value)
    }

    pub fn scheduler(self, key: &str, value: impl ToString) -> Self {
        self.env(Service::Scheduler, key, value)
    }

    pub fn sender(self, key: &str, value: impl ToString) -> Self {
        self.env(Service::Sender, key, value)
    }
}

/// One child process and how to start it again.
struct Process {
    binary: &'static str,
    services: &'static [Service],
    /// Which copy of its services it runs, from 0.
    replica: usize,
    env: BTreeMap<String, String>,
    child: Option<Child>,
    log: PathBuf,
}

/// The database a deployment stores in, dropped (and removed) with it.
async fn create_database(setup: Setup, servers: Option<&Servers>) -> AnyTestDatabase {
    let admin_url = servers.map(|servers| servers.database_admin_url.clone());
    tokio::task::spawn_blocking(move || match (setup, admin_url) {
        (Setup::Distributed, Some(admin_url)) => {
            AnyTestDatabase::Postgres(TestDatabase::create_on(&admin_url))
        }
        (Setup::Distributed, None) => AnyTestDatabase::Postgres(TestDatabase::create()),
        (Setup::Embedded, _) => AnyTestDatabase::Sqlite(TestSqliteDatabase::create()),
    })
    .await
    .expect("test database task")
}

/// A running deployment. Fields drop in order: the processes are killed first (in `Drop`),
/// then the bus namespace and the database are removed.
pub struct Cluster {
    name: String,
    processes: Vec<Process>,
    /// The port each replica of a service serves its HTTP API (api, simulator) or its health
    /// endpoints (workers) on.
    ports: BTreeMap<(Service, usize), u16>,
    bin_dir: PathBuf,
    http: reqwest::Client,
    api: Option<ApiClient>,
    sim: SimClient,
    probe_secret: String,
    probe_token: String,
    bus: TestBus,
    db: AnyTestDatabase,
}

impl Cluster {
    /// Creates the database and the bus namespace, starts every process and waits until each
    /// service is ready, then logs in to the api as the dev profile's admin.
    ///
    /// # Panics
    /// If a binary is missing (run `cargo build --bins`), PostgreSQL or RabbitMQ is not
    /// reachable (distributed setup), or a service does not become ready in time.
    pub async fn start(options: &ClusterOptions) -> Cluster {
        let setup = options.setup;
        let bin_dir = bin_dir();
        for (binary, _) in setup.processes() {
            let binary = bin_dir.join(binary);
            assert!(
                binary.is_file(),
                "{} not found: run `cargo build --bins` before the end-to-end tests",
                binary.display()
            );
        }
        let logs = log_dir(&options.name);
        // Logs of an earlier run of this test would only confuse.
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", logs.display()));

        let db = create_database(setup, options.servers.as_ref()).await;
        let bus = match (setup, &options.servers) {
            (Setup::Distributed, Some(servers)) => TestBus::on_rabbitmq(&servers.amqp_url),
            (Setup::Distributed, None) => TestBus::with_adapter(Adapter::RabbitMq),
            // The name only has to be unique: the bus lives inside the `mailing` process.
            (Setup::Embedded, _) => TestBus::with_adapter(Adapter::Memory),
        };
        let probe_secret = format!("e2e-probe-secret-{:016x}", rand::random::<u64>());
        let probe_token = mint_probe_token(&bin_dir, &probe_secret);

        let replicas = |service: Service| options.replicas.get(&service).copied().unwrap_or(1);
        let ports: BTreeMap<(Service, usize), u16> = Service::ALL
            .into_iter()
            .flat_map(|service| (0..replicas(service)).map(move |replica| (service, replica)))
            .map(|replica| (replica, free_port()))
            .collect();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // The services (actix) close a connection after 5 s idle; reusing one at that
            // moment fails the request, so the harness lets go of idle connections well before.
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        let sim = SimClient::new(
            http.clone(),
            format!("http://127.0.0.1:{}", ports[&(Service::ProbeSim, 0)]),
        );
        let mut cluster = Cluster {
            name: options.name.clone(),
            processes: Vec::new(),
            ports,
            bin_dir,
            http,
            api: None,
            sim,
            probe_secret: probe_secret.clone(),
            probe_token: probe_token.clone(),
            bus,
            db,
        };
        for &(binary, services) in setup.processes() {
            // A process runs one service, or (embedded) all of them once.
            for replica in 0..replicas(services[0]) {
                let mut env = BTreeMap::new();
                for &service in services {
                    env.extend(cluster.default_env(service, replica, &probe_secret, &probe_token));
                    if !options.binary_defaults {
                        env.extend(Cluster::test_tuning(service));
                    }
                }
                if binary == "mailing" {
                    // Fixtures would add clients the scenarios do not expect.
                    env.insert("MAILING_LOAD_FIXTURES".to_owned(), "false".to_owned());
                }
                for service in services {
                    env.extend(options.env.get(service).into_iter().flatten().cloned());
                }
                let log = match replica {
                    0 => format!("{binary}.log"),
                    n => format!("{binary}-{n}.log"),
                };
                cluster.processes.push(Process {
                    binary,
                    services,
                    replica,
                    env,
                    child: None,
                    log: logs.join(log),
                });
            }
        }
        for index in 0..cluster.processes.len() {
            cluster.spawn(index);
        }
        for index in 0..cluster.processes.len() {
            cluster.await_ready(index).await;
        }
        // The dev profile's admin, unless the test configured its own password.
        let admin_password = options
            .env
            .get(&Service::Api)
            .and_then(|vars| {
                vars.iter()
                    .rev()
                    .find(|(key, _)| key == "MAILING_ADMIN_PASSWORD")
            })
            .map_or("12345", |(_, value)| value.as_str());
        let api = ApiClient::login(
            cluster.http.clone(),
            format!("http://127.0.0.1:{}", cluster.port(Service::Api)),
            "admin",
            admin_password,
        )
        .await;
        cluster.api = Some(api);
        cluster
    }

    /// What every deployment needs: where each service listens, the database, the bus, and
    /// the probe the sender calls with a token the simulator accepts.
    fn default_env(
        &self,
        service: Service,
        replica: usize,
        probe_secret: &str,
        probe_token: &str,
    ) -> Vec<(String, String)> {
        let port = self.replica_port(service, replica);
        let mut env: Vec<(&str, String)> = match service {
            Service::ProbeSim => vec![
                ("PROBE_SIM_ADDR", format!("127.0.0.1:{port}")),
                ("PROBE_SIM_JWT_SECRET", probe_secret.to_owned()),
                ("PROBE_SIM_SEED", "42".to_owned()),
            ],
            Service::Api => vec![("MAILING_HTTP_ADDR", format!("127.0.0.1:{port}"))],
            Service::Scheduler => {
                vec![("MAILING_SCHEDULER_HEALTH_ADDR", format!("127.0.0.1:{port}"))]
            }
            Service::Sender => vec![
                ("MAILING_SENDER_HEALTH_ADDR", format!("127.0.0.1:{port}")),
                (
                    "MAILING_PROBE_URL",
                    format!("http://127.0.0.1:{}", self.port(Service::ProbeSim)),
                ),
                ("MAILING_PROBE_TOKEN", probe_token.to_owned()),
            ],
        };
        if service != Service::ProbeSim {
            env.extend([
                ("MAILING_DATABASE_URL", self.db.url().to_owned()),
                ("MAILING_AMQP_URL", self.bus.url().to_owned()),
                ("MAILING_AMQP_NAMESPACE", self.bus.namespace().to_owned()),
            ]);
        }
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Settings that keep tests quick and side by side (see [`ClusterOptions::binary_defaults`]).
    fn test_tuning(service: Service) -> Vec<(String, String)> {
        let mut env: Vec<(&str, &str)> = match service {
            Service::ProbeSim => vec![("PROBE_SIM_WORKERS", "2")],
            Service::Api => vec![
                // Events go out at once when a write wakes the relay; the poll only matters
                // after the broker comes back.
                ("MAILING_OUTBOX_POLL_MS", "100"),
            ],
            Service::Scheduler => vec![
                ("MAILING_SCHEDULER_TICK_MS", "200"),
                // Claims of a killed scheduler come back within the test's patience.
                ("MAILING_SCHEDULER_CLAIM_LEASE_SECONDS", "5"),
            ],
            Service::Sender => vec![
                ("MAILING_PROBE_TIMEOUT_MS", "1000"),
                // Well below the scheduler's 5 s claim lease, so only a stopped sender loses its
                // claims.
                ("MAILING_SENDER_CLAIM_RENEW_MS", "1000"),
                ("MAILING_SENDER_RETRY_BASE_MS", "200"),
                ("MAILING_SENDER_RETRY_CAP_MS", "2000"),
                ("MAILING_SENDER_BREAKER_COOLDOWN_MS", "1000"),
                ("MAILING_SENDER_TOKEN_PAUSE_MS", "1000"),
            ],
        };
        if service != Service::ProbeSim {
            // Tests run side by side on one PostgreSQL; leave connection slots free.
            env.push(("MAILING_DATABASE_MAX_CONNECTIONS", "4"));
        }
        env.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The index of the process running the first replica of `service`.
    fn process_of(&self, service: Service) -> usize {
        self.process_of_replica(service, 0)
    }

    /// The index of the process running the given replica of `service`.
    ///
    /// # Panics
    /// If the deployment has no such replica.
    fn process_of_replica(&self, service: Service, replica: usize) -> usize {
        self.processes
            .iter()
            .position(|p| p.services.contains(&service) && p.replica == replica)
            .unwrap_or_else(|| panic!("the deployment has no replica {replica} of {service:?}"))
    }

    fn spawn(&mut self, index: usize) {
        let binary = self.bin_dir.join(self.processes[index].binary);
        let process = &mut self.processes[index];
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&process.log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", process.log.display()));
        let _ = writeln!(
            log,
            "===== {} started at {} =====",
            process.binary,
            chrono::Utc::now().to_rfc3339()
        );
        let mut command = Command::new(&binary);
        // Settings the developer's shell holds must not leak into the deployment.
        for (key, _) in std::env::vars() {
            if key.starts_with("MAILING_") || key.starts_with("PROBE_SIM_") {
                command.env_remove(key);
            }
        }
        let child = command
            // Plain log files, without colour codes.
            .env("NO_COLOR", "1")
            .envs(&process.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        process.child = Some(child);
    }

    /// Waits until every service of the process answers its readiness check.
    async fn await_ready(&mut self, index: usize) {
        let started = Instant::now();
        let replica = self.processes[index].replica;
        for &service in self.processes[index].services {
            let url = format!(
                "http://127.0.0.1:{}{}",
                self.replica_port(service, replica),
                service.ready_path()
            );
            loop {
                let process = &mut self.processes[index];
                if let Some(status) = process
                    .child
                    .as_mut()
                    .and_then(|child| child.try_wait().ok().flatten())
                {
                    panic!(
                        "{} exited with {status} before it was ready; its log ({}) ends with:\n{}",
                        process.binary,
                        process.log.display(),
                        tail(&process.log, 30)
                    );
                }
                if self.replica_ready(service, replica).await {
                    break;
                }
                if started.elapsed() > START_TIMEOUT {
                    let process = &self.processes[index];
                    panic!(
                        "{} was not ready at {url} within {START_TIMEOUT:?}; its log ({}) ends with:\n{}",
                        process.binary,
                        process.log.display(),
                        tail(&process.log, 30)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Whether the given replica of the service answers its readiness check now.
    pub async fn replica_ready(&self, service: Service, replica: usize) -> bool {
        let url = format!(
            "http://127.0.0.1:{}{}",
            self.replica_port(service, replica),
            service.ready_path()
        );
        self.http
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
    }

    /// Whether one process runs both services, so that killing either kills both.
    pub fn shares_process(&self, a: Service, b: Service) -> bool {
        self.process_of(a) == self.process_of(b)
    }

    /// Kills the process running the service (its first replica) with SIGKILL, as a crash or
    /// an OOM kill would; with it go the services it shares that process with (see
    /// [`Cluster::shares_process`]).
    pub fn kill(&mut self, service: Service) {
        self.kill_replica(service, 0);
    }

    /// Kills the process running the given replica of the service with SIGKILL.
    pub fn kill_replica(&mut self, service: Service, replica: usize) {
        let index = self.process_of_replica(service, replica);
        if let Some(mut child) = self.processes[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many replicas of the service the deployment runs.
    pub fn replicas(&self, service: Service) -> usize {
        self.processes
            .iter()
            .filter(|p| p.services.contains(&service))
            .count()
    }

    /// Asks the process running the service to stop with SIGTERM, as Kubernetes and docker do,
    /// and waits up to `grace` for it to exit; returns how it exited and how long it took.
    ///
    /// # Panics
    /// If it is still running after `grace` (it is then killed), or the signal cannot be sent.
    pub async fn terminate(
        &mut self,
        service: Service,
        grace: Duration,
    ) -> (std::process::ExitStatus, Duration) {
        let index = self.process_of(service);
        let mut child = self.processes[index]
            .child
            .take()
            .unwrap_or_else(|| panic!("{service:?} is not running"));
        let started = std::time::Instant::now();
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(signalled.success(), "kill -TERM {} failed", child.id());
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the child") {
                return (status, started.elapsed());
            }
            if started.elapsed() > grace {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not stop within {grace:?} of SIGTERM; its log: {}",
                    self.processes[index].binary,
                    self.processes[index].log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the process running the service (its first replica) again, killing it first if
    /// it runs, and waits until each of its services is ready.
    pub async fn restart(&mut self, service: Service) {
        self.restart_replica(service, 0).await;
    }

    /// Starts the process running the given replica of the service again, killing it first if
    /// it runs, and waits until each of its services is ready.
    pub async fn restart_replica(&mut self, service: Service, replica: usize) {
        self.kill_replica(service, replica);
        let index = self.process_of_replica(service, replica);
        self.spawn(index);
        self.await_ready(index).await;
    }

    /// Waits until the given replica of the service answers its readiness check again, as
    /// after an outage of a server it needs.
    ///
    /// # Panics
    /// If it does not within the start timeout, or its process has exited.
    pub async fn await_replica_ready(&mut self, service: Service, replica: usize) {
        let index = self.process_of_replica(service, replica);
        self.await_ready(index).await;
    }

    /// Changes a variable for the next start of the process running the service.
    pub fn set_env(&mut self, service: Service, key: &str, value: impl ToString) {
        let index = self.process_of(service);
        self.processes[index]
            .env
            .insert(key.to_owned(), value.to_string());
    }

    /// The body of the service's `/healthz`.
    pub async fn health(&self, service: Service) -> serde_json::Value {
        let (url, response) = self.get(service, "/healthz").await;
        response
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
    }

    /// `GET` of one of the service's own endpoints; returns the URL asked, for messages.
    async fn get(&self, service: Service, path: &str) -> (String, reqwest::Response) {
        let url = format!("http://127.0.0.1:{}{path}", self.port(service));
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        (url, response)
    }

    /// The service's `/metrics` page (in the embedded setup every service's page shows the
    /// whole process).
    pub async fn metrics(&self, service: Service) -> String {
        let (url, response) = self.get(service, "/metrics").await;
        assert!(
            response.status().is_success(),
            "GET {url}: {}",
            response.status()
        );
        response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// The logs of every mailing process (not the simulator's), one after the other.
    pub fn service_logs(&self) -> Vec<&Path> {
        self.processes
            .iter()
            .filter(|process| process.binary != "probe-sim")
            .map(|process| process.log.as_path())
            .collect()
    }

    /// The binary of the process running the service.
    pub fn binary(&self, service: Service) -> &'static str {
        self.processes[self.process_of(service)].binary
    }

    /// The operating system's id of the process running the service, while it runs.
    pub fn pid(&self, service: Service) -> Option<u32> {
        self.processes[self.process_of(service)]
            .child
            .as_ref()
            .map(Child::id)
    }

    /// The port of the service's first replica.
    pub fn port(&self, service: Service) -> u16 {
        self.replica_port(service, 0)
    }

    /// The port of the given replica of the service.
    ///
    /// # Panics
    /// If the deployment has no such replica.
    pub fn replica_port(&self, service: Service, replica: usize) -> u16 {
        *self
            .ports
            .get(&(service, replica))
            .unwrap_or_else(|| panic!("the deployment has no replica {replica} of {service:?}"))
    }

    /// The api, logged in as the admin.
    pub fn api(&self) -> &ApiClient {
        self.api.as_ref().expect("logged in at start")
    }

    /// The probe simulator's admin API.
    pub fn sim(&self) -> &SimClient {
        &self.sim
    }

    /// The deployment's database, through the storage crate.
    pub fn store(&self) -> Arc<dyn Store> {
        self.db.store()
    }

    pub fn database_url(&self) -> &str {
        self.db.url()
    }

    /// The bus the deployment uses: a RabbitMQ namespace of its own, or (embedded) the name of
    /// the in-process bus.
    pub fn amqp_url(&self) -> &str {
        self.bus.url()
    }

    /// The secret the simulator accepted tokens for at start.
    /// The token the sender presents to the probe.
    pub fn probe_token(&self) -> &str {
        &self.probe_token
    }

    pub fn probe_secret(&self) -> &str {
        &self.probe_secret
    }

    /// The log of the process running the service.
    pub fn log_path(&self, service: Service) -> &Path {
        &self.processes[self.process_of(service)].log
    }

    /// Inserts clients straight into the database, much faster than through the api.
    pub async fn insert_clients(&self, clients: Vec<ClientSpec>) {
        db::insert_clients(self.database_url(), clients).await;
    }

    /// Inserts `count` clients numbered from `first`, as [`crate::population::generated`]
    /// describes them, with a few set-based statements (see [`db::insert_generated_clients`]):
    /// a million take seconds.
    pub async fn insert_generated_clients(&self, first: u64, count: u64, time_zone: &str) {
        db::insert_generated_clients(self.database_url(), first, count, time_zone).await;
    }

    /// Every message of a mailing, with its client's phone and zone.
    pub async fn messages(&self, mailing_id: i64) -> Vec<db::MessageRow> {
        db::messages(self.database_url(), mailing_id).await
    }

    /// Waits until the mailing has messages and none of them can still reach the probe, and
    /// returns its statistics.
    pub async fn wait_settled(&self, mailing_id: i64, timeout: Duration) -> MailingStats {
        let api = self.api();
        self.wait_until(
            &format!("every message of mailing {mailing_id} to settle"),
            timeout,
            || async move {
                let stats = api.mailing_stats(mailing_id).await;
                if stats.total > 0 && stats.unsettled() == 0 {
                    Ok(stats)
                } else {
                    Err(stats.to_string())
                }
            },
        )
        .await
    }

    /// Polls `check` until it returns `Ok` (see [`crate::wait_until`]).
    pub async fn wait_until<T, F, Fut>(&self, what: &str, timeout: Duration, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        crate::wait::wait_until(what, timeout, check).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            if let Some(mut child) = process.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "e2e {}: service logs are in {}",
                self.name,
                log_dir(&self.name).display()
            );
        }
    }
}

/// The directory holding the workspace's binaries: a test executable lives in
/// `target/<profile>/deps/`, the binaries one level up; a binary of the workspace (a benchmark)
/// lives beside them.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("mailing-api").is_file())
        .or_else(|| exe.parent().and_then(Path::parent))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("no target directory above {}", exe.display()))
}

/// Where a test's service logs go: `target/e2e-logs/<name>/`, `name` being
/// [`ClusterOptions::name`].
pub fn log_dir(name: &str) -> PathBuf {
    let target = bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(bin_dir);
    target.join("e2e-logs").join(name)
}

/// A port nobody listens on right now and that no other deployment of this test process was
/// given: the kernel may offer a port again as soon as the listener here closes, before the
/// service it is meant for binds it (or while a killed service restarts on it), and two
/// deployments on one port would answer each other's requests. Another program could still
/// take it first; the service then exits and the start reports it.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free local port");
        if handed_out.insert(port) {
            return port;
        }
    }
}

fn mint_probe_token(bin_dir: &Path, secret: &str) -> String {
    let output = Command::new(bin_dir.join("probe-sim"))
        .args(["token", "--secret", secret])
        .env_remove("PROBE_SIM_JWT_SECRET")
        .output()
        .expect("running probe-sim token");
    assert!(
        output.status.success(),
        "probe-sim token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("the token is text")
        .trim()
        .to_owned()
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = std::io::Read::read_to_string(&mut file, &mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
