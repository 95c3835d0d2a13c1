//! A RabbitMQ node of the suite's own: a node name, ports, configuration and database
//! directory apart from the machine's node, with no plugins.

use super::account::Account;
use super::{ProcessGroup, ScratchDir, ServerError, Stop, accepts, io};
use std::path::PathBuf;
use std::time::Duration;

/// How long a start may take; an Erlang node takes seconds.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long an orderly stop may take before the node is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// The server script that starts a node in the foreground. Debian's `/usr/sbin` wrapper switches
/// to the `rabbitmq` account through `su`, which drops the environment the node is configured by.
const SERVER_SCRIPTS: [&str; 3] = [
    "/usr/lib/rabbitmq/bin/rabbitmq-server",
    "/usr/local/sbin/rabbitmq-server",
    "/usr/sbin/rabbitmq-server",
];

pub struct RabbitMq {
    script: PathBuf,
    account: Account,
    node: String,
    port: u16,
    distribution_port: u16,
    process: ProcessGroup,
    dir: ScratchDir,
}

impl RabbitMq {
    /// Starts a node listening for AMQP on `port` (and for Erlang distribution on
    /// `distribution_port`); its output goes to `log`.
    pub fn start(port: u16, distribution_port: u16, log: PathBuf) -> Result<Self, ServerError> {
        let script = SERVER_SCRIPTS
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
            .ok_or_else(|| ServerError::NotInstalled("RabbitMQ", SERVER_SCRIPTS.join(", ")))?;
        let account = Account::for_server("rabbitmq")?;
        let dir = ScratchDir::create("rabbitmq", &account)?;
        let write = |name: &str, content: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).map_err(io(format!("writing {}", path.display())))
        };
        write(
            "rabbitmq.conf",
            format!("listeners.tcp.default = 127.0.0.1:{port}\n"),
        )?;
        write("enabled_plugins", "[].\n".to_owned())?;
        // The machine's rabbitmq-env.conf names the machine's node; this one names nothing.
        write("rabbitmq-env.conf", String::new())?;
        let mut server = Self {
            script,
            account,
            node: format!("mailing-faults-{:08x}@localhost", rand::random::<u32>()),
            port,
            distribution_port,
            process: ProcessGroup::new("rabbitmq", log),
            dir,
        };
        server.run()?;
        Ok(server)
    }

    /// The broker's URL, as the guest user (allowed from localhost).
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Stops the node as `stop` says; [`RabbitMq::run`] starts it again. Durable queues and
    /// persistent messages survive both ways. Gracefully is SIGTERM, which the start script
    /// passes on to the node: it closes its connections and stops.
    pub fn stop(&mut self, stop: Stop) {
        self.process.stop(stop, "TERM", STOP_GRACE);
    }

    /// Starts the node on its database directory and waits until it accepts connections.
    pub fn run(&mut self) -> Result<(), ServerError> {
        let dir = self.dir.path();
        let mut command = self.account.command(&self.script);
        if let Some(home) = self.account.home() {
            command.env("HOME", home);
        }
        command
            .current_dir(dir)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_DIST_PORT", self.distribution_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1");
        self.process.spawn(command)?;
        // The AMQP listener opens last, once the node has booted.
        let port = self.port;
        self.process.await_ready(START_TIMEOUT, || accepts(port))
    }
}
