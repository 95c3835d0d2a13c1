//! What Linux's `/proc` says about processes: resident memory and the CPU time used. The
//! deployment's processes are found by pid; PostgreSQL and RabbitMQ, which are not ours, by
//! their command names, and PostgreSQL's backends by the database their title names.

use mailing_e2e::{Cluster, Service};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on every Linux ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// Resident memory of one process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the most that was ever resident.
    pub peak_kib: u64,
}

/// `VmRSS` and `VmHWM` of the process, or `None` if it is gone.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// The numeric fields of `/proc/<pid>/stat` from the state on (field 3 of proc(5) is index 0).
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // The state is a letter: keep its place with a zero.
    Some(
        after_name
            .split_whitespace()
            .map(|field| field.parse().unwrap_or(0))
            .collect(),
    )
}

/// User plus system CPU time the process used so far, in ticks (utime and stime, fields 14
/// and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    Some(fields.get(11)? + fields.get(12)?)
}

/// The CPU time of the process's children that ended and were waited for (cutime and cstime,
/// fields 16 and 17), and its parent (field 4).
fn reaped_ticks_and_parent(pid: u32) -> Option<(u64, u32)> {
    let fields = stat_fields(pid)?;
    let parent = u32::try_from(*fields.get(1)?).ok()?;
    Some((fields.get(13)? + fields.get(14)?, parent))
}

/// The deployment's processes, each once: a name for the report and its pid.
pub fn deployment_processes(cluster: &Cluster) -> Vec<(String, u32)> {
    let mut seen = BTreeMap::new();
    for service in Service::ALL {
        if let Some(pid) = cluster.pid(service) {
            seen.entry(pid).or_insert_with(|| cluster.binary(service));
        }
    }
    let mut processes: Vec<(String, u32)> = seen
        .into_iter()
        .map(|(pid, binary)| (binary.to_owned(), pid))
        .collect();
    processes.sort();
    processes
}

/// The share of one core a process used over a measured interval (100 % = one core busy).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuShare {
    pub process: String,
    pub percent: f64,
}

/// Names under which CPU time is reported besides the deployment's own processes.
pub const POSTGRES: &str = "postgres";
pub const POSTGRES_OTHERS: &str = "postgres (other databases)";
/// PostgreSQL processes that ended within the interval (parallel workers, autovacuum workers,
/// closed connections), whichever database they served: the postmaster is charged with them
/// when they end, so they can no longer be told apart.
pub const POSTGRES_ENDED: &str = "postgres (ended processes)";
pub const RABBITMQ: &str = "rabbitmq";
pub const BENCH: &str = "mailing-bench";
/// Whatever else kept the machine busy: other programs, the kernel.
pub const OTHER: &str = "other";

/// CPU time over a measured interval, from [`CpuMeter::start`] to [`CpuMeter::finish`], of
/// the deployment's processes, PostgreSQL (its processes serving the deployment's database
/// and its background work, apart from those serving other databases), RabbitMQ's Erlang VM,
/// the benchmark itself, and the rest of the machine.
pub struct CpuMeter {
    started: Instant,
    database: Option<String>,
    ours: Vec<(String, u32, u64)>,
    before: BTreeMap<u32, u64>,
    machine: u64,
    postmaster_reaped: u64,
    postgres_at_start: Vec<u32>,
}

impl CpuMeter {
    pub fn start(cluster: &Cluster) -> CpuMeter {
        let ours = deployment_processes(cluster)
            .into_iter()
            .map(|(name, pid)| (name, pid, cpu_ticks(pid).unwrap_or(0)))
            .collect();
        let database = cluster
            .database_url()
            .starts_with("postgres")
            .then(|| {
                cluster
                    .database_url()
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .filter(|name| !name.is_empty());
        let servers = server_processes();
        CpuMeter {
            started: Instant::now(),
            database,
            ours,
            postgres_at_start: servers
                .iter()
                .filter(|(_, kind)| matches!(kind, Server::Postgres(_)))
                .map(|(pid, _)| *pid)
                .collect(),
            before: servers
                .iter()
                .filter_map(|(pid, _)| Some((*pid, cpu_ticks(*pid)?)))
                .chain([(
                    std::process::id(),
                    cpu_ticks(std::process::id()).unwrap_or(0),
                )])
                .collect(),
            machine: machine_busy_ticks().unwrap_or(0),
            postmaster_reaped: postmaster_reaped_ticks(),
        }
    }

    /// Each process's share of a core since the start, busiest first; shares under 1 % are
    /// left out.
    pub fn finish(self) -> Vec<CpuShare> {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let share = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds * 100.0;
        let mut used: BTreeMap<String, u64> = BTreeMap::new();
        for (name, pid, before) in &self.ours {
            let now = cpu_ticks(*pid).unwrap_or(*before);
            *used.entry(name.clone()).or_default() += now.saturating_sub(*before);
        }
        let since =
            |pid: u32, now: u64| now.saturating_sub(self.before.get(&pid).copied().unwrap_or(0));
        let servers = server_processes();
        for (pid, kind) in &servers {
            let (pid, Some(now)) = (*pid, cpu_ticks(*pid)) else {
                continue;
            };
            let name = match kind {
                Server::Rabbitmq => RABBITMQ,
                Server::Postgres(title) => {
                    if serves_another_database(title, self.database.as_deref()) {
                        POSTGRES_OTHERS
                    } else {
                        POSTGRES
                    }
                }
            };
            *used.entry(name.to_owned()).or_default() += since(pid, now);
        }
        // The postmaster is charged with the whole life of a child when it ends: take off what
        // the children that ran at the start had used by then.
        let used_before_start: u64 = self
            .before
            .iter()
            .filter(|(pid, _)| self.postgres_at_start.contains(pid))
            .filter(|(pid, _)| !servers.iter().any(|(alive, _)| alive == *pid))
            .map(|(_, ticks)| ticks)
            .sum();
        used.insert(
            POSTGRES_ENDED.to_owned(),
            postmaster_reaped_ticks()
                .saturating_sub(self.postmaster_reaped)
                .saturating_sub(used_before_start),
        );
        let bench = std::process::id();
        *used.entry(BENCH.to_owned()).or_default() += since(bench, cpu_ticks(bench).unwrap_or(0));
        let attributed: u64 = used.values().sum();
        if let Some(machine) = machine_busy_ticks() {
            let busy = machine.saturating_sub(self.machine);
            used.insert(OTHER.to_owned(), busy.saturating_sub(attributed));
        }
        let mut shares: Vec<CpuShare> = used
            .into_iter()
            .map(|(process, ticks)| CpuShare {
                process,
                percent: share(ticks),
            })
            .filter(|s| s.percent >= 1.0)
            .collect();
        shares.sort_by(|a, b| b.percent.total_cmp(&a.percent));
        shares
    }
}

enum Server {
    /// With the process title, which names the database a backend serves.
    Postgres(String),
    Rabbitmq,
}

/// PostgreSQL's and RabbitMQ's processes.
fn server_processes() -> Vec<(u32, Server)> {
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            match comm.trim_end() {
                "postgres" => {
                    let title = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                    let title = String::from_utf8_lossy(&title).replace('\0', " ");
                    Some((pid, Server::Postgres(title)))
                }
                "beam.smp" => Some((pid, Server::Rabbitmq)),
                _ => None,
            }
        })
        .collect()
}

/// Whether a PostgreSQL process title (`postgres: 15/main: <user> <database> <host> <state>`,
/// or `... autovacuum worker <database>`) is that of a process serving a database other than
/// `ours`. Background processes (checkpointer, WAL writer, ...) serve every database.
fn serves_another_database(title: &str, ours: Option<&str>) -> bool {
    let words: Vec<&str> = title.split_whitespace().collect();
    if ours.is_some_and(|ours| words.contains(&ours)) {
        return false;
    }
    let backend =
        words.iter().any(|w| w.contains('(') && w.ends_with(')')) || title.contains("[local]");
    backend || title.contains("autovacuum worker")
}

/// CPU time of the ended children of PostgreSQL's postmaster (the postgres process whose
/// parent is not one).
fn postmaster_reaped_ticks() -> u64 {
    let postgres: Vec<u32> = server_processes()
        .into_iter()
        .filter(|(_, kind)| matches!(kind, Server::Postgres(_)))
        .map(|(pid, _)| pid)
        .collect();
    postgres
        .iter()
        .filter_map(|pid| reaped_ticks_and_parent(*pid))
        .filter(|(_, parent)| !postgres.contains(parent))
        .map(|(ticks, _)| ticks)
        .sum()
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Ticks all cores spent busy since boot, from the `cpu` line of `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    Some(
        [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&i| fields.get(i))
            .sum(),
    )
}

/// What kept the machine busy over `interval` besides this process: the busiest processes
/// with their share of a core, and the total share.
pub async fn load_elsewhere(interval: std::time::Duration) -> (f64, Vec<CpuShare>) {
    let snapshot = || -> BTreeMap<u32, u64> {
        all_pids()
            .into_iter()
            .filter(|pid| *pid != std::process::id())
            .filter_map(|pid| Some((pid, cpu_ticks(pid)?)))
            .collect()
    };
    let before = snapshot();
    let machine_before = machine_busy_ticks().unwrap_or(0);
    let own_before = cpu_ticks(std::process::id()).unwrap_or(0);
    tokio::time::sleep(interval).await;
    let seconds = interval.as_secs_f64();
    let share = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds * 100.0;
    let own = cpu_ticks(std::process::id())
        .unwrap_or(own_before)
        .saturating_sub(own_before);
    let total = machine_busy_ticks()
        .unwrap_or(machine_before)
        .saturating_sub(machine_before)
        .saturating_sub(own);
    let mut busiest: Vec<CpuShare> = snapshot()
        .into_iter()
        .map(|(pid, now)| {
            (
                pid,
                now.saturating_sub(before.get(&pid).copied().unwrap_or(now)),
            )
        })
        .filter(|(_, ticks)| *ticks > 0)
        .map(|(pid, ticks)| CpuShare {
            process: describe(pid),
            percent: share(ticks),
        })
        .collect();
    busiest.sort_by(|a, b| b.percent.total_cmp(&a.percent));
    busiest.truncate(3);
    (share(total), busiest)
}

/// A process as `ps` would show it, shortened.
fn describe(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .trim()
                .to_owned()
        })
        .unwrap_or_default();
    let text = if cmdline.is_empty() {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|comm| comm.trim().to_owned())
            .unwrap_or_default()
    } else {
        cmdline
    };
    let short: String = text.chars().take(80).collect();
    format!("pid {pid} {short}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_has_memory_and_cpu_time() {
        let pid = std::process::id();
        let memory = memory(pid).expect("/proc/self/status");
        assert!(memory.rss_kib > 0 && memory.peak_kib >= memory.rss_kib);
        assert!(cpu_ticks(pid).is_some());
        assert!(machine_busy_ticks().is_some());
        let (_, parent) = reaped_ticks_and_parent(pid).expect("our stat");
        assert!(parent > 0);
    }

    #[test]
    fn postgres_processes_are_told_apart_by_the_database_they_serve() {
        let ours = Some("mailing_test_1");
        let backend = |db: &str| format!("postgres: 15/main: postgres {db} 127.0.0.1(5000) idle");
        assert!(!serves_another_database(&backend("mailing_test_1"), ours));
        assert!(serves_another_database(&backend("perf_run"), ours));
        assert!(!serves_another_database(
            "postgres: 15/main: checkpointer ",
            ours
        ));
        assert!(serves_another_database(
            "postgres: 15/main: autovacuum worker perf_run",
            ours
        ));
        assert!(serves_another_database(&backend("x"), None));
    }
}
