//! A real SMTP server for tests: `aiosmtpd` from PyPI, which `make test` installs into the
//! workspace's .venv, run by `smtp-sink/sink.py` on a port of the test's own. It writes each
//! message it takes to a directory, parsed by Python's e-mail package; it can refuse the first
//! messages with a temporary error, and require a user and password.

use serde::Deserialize;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One message the server took, as Python's e-mail parser read it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The user it authenticated as, if it did.
    pub authenticated_as: Option<String>,
    pub subject: String,
    pub message_id: String,
    pub from: String,
    pub to: String,
    /// The top-level type, e.g. `multipart/alternative`.
    pub content_type: String,
    /// Every part's type, the top level first.
    pub parts: Vec<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Answer this many messages with 451 before taking any.
    pub refuse_first: u32,
    /// Require this user and password.
    pub credentials: Option<(String, String)>,
}

pub struct SmtpSink {
    port: u16,
    process: Child,
    dir: PathBuf,
}

impl SmtpSink {
    /// Starts a server that takes every message.
    pub fn start() -> Self {
        Self::start_with(SinkOptions::default())
    }

    pub fn start_with(options: SinkOptions) -> Self {
        let python = venv_python();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("smtp-sink/sink.py");
        // Another test may take the port between our probe and the server's bind: try anew.
        for _ in 0..3 {
            let port = free_port();
            let dir = std::env::temp_dir()
                .join(format!("smtp-sink-{port}-{:08x}", rand::random::<u32>()));
            let mut command = Command::new(&python);
            command
                .arg(&script)
                .args(["--port", &port.to_string()])
                .arg("--dir")
                .arg(&dir)
                .args(["--refuse", &options.refuse_first.to_string()]);
            if let Some((user, password)) = &options.credentials {
                command.args(["--user", user, "--password", password]);
            }
            let mut process = command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {}: {error}", python.display()));
            let stdout = process.stdout.take().expect("piped stdout");
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            if first.trim() == "ready" {
                return Self { port, process, dir };
            }
            let _ = process.kill();
            let _ = process.wait();
        }
        panic!("the SMTP sink did not start on any of three ports");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The MAILING_SMTP_URL that reaches it, in the clear.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// The same with a user and password.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("smtp://{user}:{password}@127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message taken so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut taken: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        taken.sort();
        taken
            .iter()
            .map(|eml| {
                let json = std::fs::read_to_string(eml.with_extension("json"))
                    .expect("the envelope beside the message");
                serde_json::from_str(&json).expect("the sink's JSON")
            })
            .collect()
    }

    /// Waits up to `timeout` for at least `count` messages, and returns them all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The workspace's .venv/bin/python with aiosmtpd, which must be there.
fn venv_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let marker = root.join(".venv/smtp-requirements.txt");
    assert!(
        python.is_file() && marker.is_file(),
        "aiosmtpd is missing from .venv: `make test` installs it (or `make .venv/smtp-requirements.txt` alone)"
    );
    python
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
