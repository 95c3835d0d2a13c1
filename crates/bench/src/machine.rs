//! Facts about the machine and the software a result was measured with, so that results from
//! different days and machines can be told apart.

use serde::Serialize;
use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    /// Cores this process may run on.
    pub cores: usize,
    pub memory_mib: Option<u64>,
    pub cpu_model: Option<String>,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub rustc: Option<String>,
    /// `git rev-parse HEAD` of the workspace, with `-dirty` when files differ from it.
    pub git_commit: Option<String>,
    /// The build profile of the benchmark and so of the binaries it runs.
    pub profile: &'static str,
    pub binaries: String,
    /// Share of a core other processes used in the second before the benchmark started.
    pub load_at_start_percent: Option<f64>,
    /// Filled in from the deployments as they start.
    pub postgresql: Option<String>,
    pub rabbitmq: Option<String>,
    pub sqlite: Option<String>,
}

impl Machine {
    pub fn collect(binaries: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib: meminfo
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .map(|kib| kib / 1024),
            cpu_model: value_after(&cpuinfo, "model name"),
            os: os_release
                .lines()
                .find_map(|line| line.strip_prefix("PRETTY_NAME="))
                .map(|name| name.trim_matches('"').to_owned()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|k| k.trim().to_owned()),
            rustc: output_of("rustc", &["--version"], None),
            git_commit: git_commit(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            binaries: binaries.display().to_string(),
            load_at_start_percent: None,
            postgresql: None,
            rabbitmq: None,
            sqlite: None,
        }
    }
}

/// The value of the first `key : value` line.
fn value_after(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, value)| value.trim().to_owned())
}

fn output_of(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn git_commit() -> Option<String> {
    // The workspace this benchmark was built from.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let commit = output_of("git", &["rev-parse", "HEAD"], Some(&workspace))?;
    let dirty = output_of("git", &["status", "--porcelain"], Some(&workspace))
        .is_some_and(|status| !status.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

/// The version RabbitMQ announces at the start of an AMQP 0-9-1 handshake (its
/// `Connection.Start` server properties), read without logging in.
pub fn rabbitmq_version(amqp_url: &str) -> Result<String, String> {
    let url = url::Url::parse(amqp_url).map_err(|e| format!("unreadable AMQP URL: {e}"))?;
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port().unwrap_or(5672);
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&address, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"AMQP\x00\x00\x09\x01")
        .map_err(|e| e.to_string())?;
    let mut header = [0u8; 7];
    stream.read_exact(&mut header).map_err(|e| e.to_string())?;
    let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
    if header[0] != 1 || size > 1 << 20 {
        return Err("the broker did not answer with Connection.Start".to_owned());
    }
    let mut payload = vec![0u8; size];
    stream.read_exact(&mut payload).map_err(|e| e.to_string())?;
    // class 10, method 10, version major and minor, then the server properties.
    let properties = payload
        .get(6..)
        .and_then(string_fields)
        .ok_or("unreadable Connection.Start")?;
    let field = |name: &str| {
        properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    match (field("product"), field("version")) {
        (Some(product), Some(version)) => Ok(format!("{product} {version}")),
        (None, Some(version)) => Ok(version),
        _ => Err("the broker did not say its version".to_owned()),
    }
}

/// The long-string fields of an AMQP field table that starts with its length; other fields
/// are skipped.
fn string_fields(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let length = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let mut table = bytes.get(4..4 + length)?;
    let mut fields = Vec::new();
    let take = |table: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        let taken = table.get(..n)?.to_vec();
        *table = &table[n..];
        Some(taken)
    };
    let long = |table: &mut &[u8]| -> Option<Vec<u8>> {
        let n = u32::from_be_bytes(take(table, 4)?.try_into().ok()?) as usize;
        take(table, n)
    };
    while !table.is_empty() {
        let key_length = *take(&mut table, 1)?.first()? as usize;
        let key = String::from_utf8_lossy(&take(&mut table, key_length)?).into_owned();
        let kind = *take(&mut table, 1)?.first()?;
        match kind {
            b'S' => {
                let value = String::from_utf8_lossy(&long(&mut table)?).into_owned();
                fields.push((key, value));
            }
            b'x' | b'F' | b'A' => {
                long(&mut table)?;
            }
            _ => {
                let skip = match kind {
                    b't' | b'b' | b'B' => 1,
                    b's' | b'u' => 2,
                    b'I' | b'i' | b'f' => 4,
                    b'l' | b'L' | b'd' | b'T' => 8,
                    b'D' => 5,
                    b'V' => 0,
                    _ => return None,
                };
                take(&mut table, skip)?;
            }
        }
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_fields_are_read_and_others_skipped() {
        let mut table = Vec::new();
        let mut entry = |key: &str, kind: u8, value: &[u8]| {
            table.push(key.len() as u8);
            table.extend_from_slice(key.as_bytes());
            table.push(kind);
            table.extend_from_slice(value);
        };
        entry("capabilities", b'F', &[0, 0, 0, 2, 0xAA, 0xBB]);
        entry("flag", b't', &[1]);
        entry(
            "version",
            b'S',
            &[0, 0, 0, 6, b'3', b'.', b'1', b'0', b'.', b'8'],
        );
        let mut bytes = (table.len() as u32).to_be_bytes().to_vec();
        bytes.extend(table);
        assert_eq!(
            string_fields(&bytes),
            Some(vec![("version".to_owned(), "3.10.8".to_owned())])
        );
    }
}
