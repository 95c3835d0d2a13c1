//! PostgreSQL and RabbitMQ servers of the suite's own, run from the machine's installed
//! binaries in a directory of their own, so that the suite can crash and restart them without
//! touching the machine's servers or any other test that uses them.

mod account;
mod postgres;
mod rabbitmq;

pub use postgres::Postgres;
pub use rabbitmq::RabbitMq;

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How a server goes down before it is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every process of the server killed with SIGKILL at once, as when its container or
    /// machine dies: no checkpoint, no goodbye to clients; PostgreSQL recovers from its WAL at
    /// the next start.
    Crash,
    /// The server's own orderly shutdown, as an operator's restart or a rolling update does.
    Graceful,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stop::Crash => "crash",
            Stop::Graceful => "graceful",
        })
    }
}

/// Why a server could not be set up or started.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0} is not installed here (looked for {1})")]
    NotInstalled(&'static str, String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} failed: {detail}")]
    Failed { what: String, detail: String },
    #[error(
        "{server} did not accept connections within {waited:?}; its log ({log}) ends with:\n{tail}"
    )]
    NotReady {
        server: &'static str,
        waited: Duration,
        log: String,
        tail: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let what = what.into();
    move |source| ServerError::Io { what, source }
}

/// A server's process tree: started in a process group of its own, so that a crash can kill
/// every process of it at once, the way a container's end does.
struct ProcessGroup {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl ProcessGroup {
    fn new(name: &'static str, log: PathBuf) -> Self {
        Self {
            name,
            child: None,
            log,
        }
    }

    /// Starts `command` with its output appended to the log.
    fn spawn(&mut self, mut command: Command) -> Result<(), ServerError> {
        use std::os::unix::process::CommandExt as _;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io(format!("opening {}", self.log.display())))?;
        let _ = writeln!(
            log,
            "===== {} started at {} =====",
            self.name,
            chrono::Utc::now().to_rfc3339()
        );
        let stderr = log.try_clone().map_err(io("duplicating a log handle"))?;
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(io(format!("starting {}", self.name)))?;
        self.child = Some(child);
        Ok(())
    }

    /// Sends `signal` (a name `kill` knows) to the group's leader, or with `whole_group` to
    /// every process of the group.
    fn signal(&self, signal: &str, whole_group: bool) {
        if let Some(child) = &self.child {
            send_signal(signal, child.id(), whole_group);
        }
    }

    /// Waits for the leader to exit, up to `grace`; then kills the whole group. Returns
    /// whether it exited by itself.
    fn wait(&mut self, grace: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let leader = child.id();
        let started = std::time::Instant::now();
        let exited = loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break true,
                Ok(None) if started.elapsed() >= grace => break false,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        // Children the leader left behind die with the group either way.
        send_signal("KILL", leader, true);
        let _ = child.wait();
        self.child = None;
        exited
    }

    /// Takes the server down as `stop` says: a crash kills every process of the group at
    /// once; a graceful stop sends the leader `signal` and waits up to `grace` for it to exit.
    fn stop(&mut self, stop: Stop, signal: &str, grace: Duration) {
        match stop {
            Stop::Crash => self.kill(),
            Stop::Graceful => {
                self.signal(signal, false);
                self.wait(grace);
            }
        }
    }

    /// Polls `ready` until it says yes, the server exits, or `timeout` passes.
    fn await_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), ServerError> {
        let started = std::time::Instant::now();
        while started.elapsed() < timeout {
            if !self.running() {
                return Err(self.not_ready(started.elapsed()));
            }
            if ready() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(self.not_ready(timeout))
    }

    /// Kills every process of the group now.
    fn kill(&mut self) {
        self.signal("KILL", true);
        self.wait(Duration::from_secs(10));
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    fn not_ready(&self, waited: Duration) -> ServerError {
        ServerError::NotReady {
            server: self.name,
            waited,
            log: self.log.display().to_string(),
            tail: mailing_e2e::cluster::tail(&self.log, 30),
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh directory for a server's files, owned by the account it runs as; removed with
/// everything in it when dropped.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn create(prefix: &str, owner: &account::Account) -> Result<Self, ServerError> {
        let path = std::env::temp_dir().join(format!(
            "mailing-faults-{prefix}-{:016x}",
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).map_err(io(format!("creating {}", path.display())))?;
        let dir = Self { path };
        owner.give(&dir.path)?;
        Ok(dir)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Leftovers in the temporary directory are only clutter; never panic while unwinding.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Sends `signal` to the process `pid`, or with `whole_group` to every process of the group it
/// leads. The process may be gone already; that is what was wanted.
fn send_signal(signal: &str, pid: u32, whole_group: bool) {
    let target = if whole_group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &target])
        .stderr(Stdio::null())
        .status();
}

/// Whether something accepts TCP connections on the local port.
fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}
