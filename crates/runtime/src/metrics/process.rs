//! The standard `process_*` metrics of Prometheus client libraries, read from `/proc/self` at
//! every scrape, so dashboards and alerts written for any Prometheus-instrumented program work
//! on ours unchanged.
//!
//! They are rendered as text beside the recorder's page rather than through the `metrics`
//! facade: its counters hold whole numbers, and `process_cpu_seconds_total` is a counter of
//! fractional seconds.

use std::fmt::Write as _;

/// The process metrics as Prometheus text, one family after another; empty where `/proc` is
/// not there to read (not Linux), and without the families whose file could not be read.
pub fn render() -> String {
    let mut text = String::new();
    #[cfg(target_os = "linux")]
    for (name, kind, help, value) in linux::read() {
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
        );
    }
    text
}

#[cfg(target_os = "linux")]
mod linux {
    /// One family: name, type, help, value.
    type Family = (&'static str, &'static str, &'static str, f64);

    pub(super) fn read() -> Vec<Family> {
        let mut families = Vec::with_capacity(6);
        if let Some(stat) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|text| Stat::parse(&text))
        {
            let ticks = clock_ticks_per_second();
            families.push((
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                (stat.utime + stat.stime) as f64 / ticks,
            ));
            families.push((
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                stat.vsize as f64,
            ));
            families.push((
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                (stat.rss_pages * page_size()) as f64,
            ));
            if let Some(boot) = boot_time() {
                families.push((
                    "process_start_time_seconds",
                    "gauge",
                    "Start time of the process since unix epoch in seconds.",
                    boot as f64 + stat.starttime as f64 / ticks,
                ));
            }
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            families.push((
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                entries.count() as f64,
            ));
        }
        if let Some(max) = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|text| max_open_files(&text))
        {
            families.push((
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max,
            ));
        }
        families
    }

    /// The fields of `/proc/self/stat` the metrics need (see proc(5)).
    #[derive(Debug, PartialEq)]
    pub(super) struct Stat {
        pub(super) utime: u64,
        pub(super) stime: u64,
        pub(super) starttime: u64,
        pub(super) vsize: u64,
        pub(super) rss_pages: u64,
    }

    impl Stat {
        pub(super) fn parse(text: &str) -> Option<Stat> {
            // The command name (field 2) is in parentheses and may hold spaces and ')': the
            // numbered fields start after the last ')', with field 3 (state) first.
            let rest = &text[text.rfind(')')? + 1..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
            Some(Stat {
                utime: field(14)?,
                stime: field(15)?,
                starttime: field(22)?,
                vsize: field(23)?,
                rss_pages: field(24)?,
            })
        }
    }

    /// The soft limit on open files; `+Inf` when unlimited.
    pub(super) fn max_open_files(limits: &str) -> Option<f64> {
        let line = limits
            .lines()
            .find(|line| line.starts_with("Max open files"))?;
        let soft = line
            .strip_prefix("Max open files")?
            .split_whitespace()
            .next()?;
        if soft == "unlimited" {
            Some(f64::INFINITY)
        } else {
            soft.parse().ok()
        }
    }

    /// When the machine booted, in seconds since the epoch: `/proc/self/stat` gives the start
    /// time in clock ticks since boot.
    fn boot_time() -> Option<u64> {
        std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }

    #[allow(unsafe_code)]
    fn clock_ticks_per_second() -> f64 {
        #[cfg(target_env = "gnu")]
        {
            // SAFETY: sysconf only reads a system constant.
            let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
            if ticks > 0 {
                return ticks as f64;
            }
        }
        // USER_HZ, which Linux fixes at 100 on every architecture it exports ticks from.
        100.0
    }

    #[allow(unsafe_code)]
    fn page_size() -> u64 {
        #[cfg(target_env = "gnu")]
        {
            // SAFETY: sysconf only reads a system constant.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if size > 0 {
                return size as u64;
            }
        }
        4096
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{Stat, max_open_files};
    use super::*;

    #[test]
    fn stat_fields_are_read_after_a_command_name_with_spaces_and_parentheses() {
        let text = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    3 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 \
                    1 0 0 0 0 0";
        assert_eq!(
            Stat::parse(text),
            Some(Stat {
                utime: 250,
                stime: 50,
                starttime: 123_456,
                vsize: 987_654_321,
                rss_pages: 2048,
            })
        );
        assert_eq!(Stat::parse("4242 (truncated) S 1 2"), None);
    }

    #[test]
    fn the_soft_open_files_limit_is_the_maximum() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024.0));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), Some(f64::INFINITY));
    }

    #[test]
    fn this_process_is_described_with_plausible_values() {
        let text = render();
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{name} missing: {text}"))
                .parse()
                .unwrap()
        };
        assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
        assert!(value("process_resident_memory_bytes") > 1e5, "{text}");
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_open_fds") >= 3.0, "{text}");
        assert!(value("process_max_fds") >= value("process_open_fds"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
        assert!(value("process_cpu_seconds_total") >= 0.0);
    }
}
