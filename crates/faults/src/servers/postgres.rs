//! A PostgreSQL cluster of the suite's own: `initdb` into a scratch directory, `postgres` on a
//! free local port, trust authentication for the `postgres` role.

use super::account::Account;
use super::{ProcessGroup, ScratchDir, ServerError, Stop, accepts, io};
use diesel::Connection as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long a start (crash recovery included) may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an orderly shutdown may take before the server is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

pub struct Postgres {
    bin_dir: PathBuf,
    account: Account,
    port: u16,
    process: ProcessGroup,
    dir: ScratchDir,
}

impl Postgres {
    /// Creates a cluster and starts it; its output goes to `log`.
    pub fn start(port: u16, log: PathBuf) -> Result<Self, ServerError> {
        let bin_dir = bin_dir()?;
        let account = Account::for_server("postgres")?;
        let dir = ScratchDir::create("postgres", &account)?;
        let initdb = account
            .command(bin_dir.join("initdb"))
            .arg("--pgdata")
            .arg(dir.path().join("data"))
            .args(["--username=postgres", "--auth=trust", "--encoding=UTF8"])
            // The suite crashes processes, never the machine: what reached the kernel stays.
            .arg("--no-sync")
            .output()
            .map_err(io("running initdb"))?;
        if !initdb.status.success() {
            return Err(ServerError::Failed {
                what: "initdb".to_owned(),
                detail: String::from_utf8_lossy(&initdb.stderr).into_owned(),
            });
        }
        let mut server = Self {
            bin_dir,
            account,
            port,
            process: ProcessGroup::new("postgres", log),
            dir,
        };
        server.run()?;
        Ok(server)
    }

    /// A URL for the `postgres` role on the `postgres` database, which may create databases.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as `stop` says; [`Postgres::run`] starts it again. Gracefully is
    /// PostgreSQL's fast shutdown (SIGINT): client sessions ended, a checkpoint written.
    pub fn stop(&mut self, stop: Stop) {
        self.process.stop(stop, "INT", STOP_GRACE);
    }

    /// Starts the server (after a crash: recovers it) and waits until it answers a query.
    pub fn run(&mut self) -> Result<(), ServerError> {
        let mut command = self.account.command(self.bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            // Two schedulers, three senders, an api and the suite itself, each with a pool.
            .args(["-c", "max_connections=200"]);
        self.process.spawn(command)?;
        let (port, url) = (self.port, self.admin_url());
        self.process.await_ready(START_TIMEOUT, || {
            accepts(port) && diesel::PgConnection::establish(&url).is_ok()
        })
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// Where the server's programs are: `pg_config --bindir`, else the newest major version under
/// Debian's `/usr/lib/postgresql`.
fn bin_dir() -> Result<PathBuf, ServerError> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    let debian = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).ok_or_else(|| {
        ServerError::NotInstalled(
            "PostgreSQL (postgres, initdb)",
            "pg_config --bindir and /usr/lib/postgresql/*/bin".to_owned(),
        )
    })
}
