//! The performance targets (docs/performance.md), each as a bound a measured value meets or misses.
//! Where a run is sized differently from the target's wording (`--clients`), the bound scales
//! with the size and says so.

use mailing_e2e::Setup;
use serde::Serialize;

/// A bound on one measured value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// As shown in the table, e.g. `≤ 10 s`.
    pub text: String,
    pub bound: Bound,
    /// False when the target is stated for another setup: shown for reference only.
    pub applies: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Bound {
    AtMost(f64),
    AtLeast(f64),
    Below(f64),
}

impl Target {
    fn at_most(value: f64, text: String) -> Target {
        Target {
            text,
            bound: Bound::AtMost(value),
            applies: true,
        }
    }

    fn at_least(value: f64, text: String) -> Target {
        Target {
            text,
            bound: Bound::AtLeast(value),
            applies: true,
        }
    }

    /// Whether `value` meets the target; `None` when the target does not apply here.
    pub fn met(&self, value: f64) -> Option<bool> {
        self.applies.then_some(match self.bound {
            Bound::AtMost(bound) => value <= bound,
            Bound::AtLeast(bound) => value >= bound,
            Bound::Below(bound) => value < bound,
        })
    }
}

/// "a 100,000-recipient mailing fully delivered in 10 s or less in the distributed setup".
pub fn drain_seconds(setup: Setup, messages: u64) -> Target {
    let bound = 10.0 * messages as f64 / 100_000.0;
    let mut target = Target::at_most(bound, scaled("≤ 10 s", bound, "s", messages, 100_000));
    if setup != Setup::Distributed {
        target.applies = false;
        target.text = format!("(distributed: {})", target.text);
    }
    target
}

/// "with 200 ms of simulated probe latency, at least 5,000 messages/s".
pub fn latency_rate(latency_ms: &str) -> Target {
    let mut target = Target::at_least(5_000.0, "≥ 5,000 msg/s".to_owned());
    if latency_ms.trim() != "200" {
        target.applies = false;
        target.text = format!("(at 200 ms: {})", target.text);
    }
    target
}

/// "1,000,000 recipients expanded into messages in 15 s or less".
pub fn expansion_seconds(messages: u64) -> Target {
    let bound = 15.0 * messages as f64 / 1_000_000.0;
    Target::at_most(bound, scaled("≤ 15 s", bound, "s", messages, 1_000_000))
}

/// "statistics of a 1,000,000-message mailing answered in 50 ms or less", read as the median
/// answer of one connection, so that queueing behind other requests does not count.
pub fn stats_millis(messages: i64) -> Target {
    let mut target = Target::at_most(50.0, "p50 ≤ 50 ms".to_owned());
    if messages < 1_000_000 {
        target.applies = false;
        target.text = format!("(at 1,000,000: {})", target.text);
    }
    target
}

/// "a page of the client list over 1,000,000 clients in 10 ms or less at the median", first
/// or deep, filtered or not, read on one connection like the statistics; the clients are the
/// big mailing's recipients, so its size says how many there are.
pub fn list_millis(clients: i64) -> Target {
    let mut target = Target::at_most(10.0, "p50 ≤ 10 ms".to_owned());
    if clients < 1_000_000 {
        target.applies = false;
        target.text = format!("(at 1,000,000: {})", target.text);
    }
    target
}

/// "1,000,000 CSV rows imported in 10 s or less on PostgreSQL", ten times listmonk's rate; on
/// SQLite shown for reference.
pub fn import_seconds(setup: Setup, rows: u64) -> Target {
    let bound = 10.0 * rows as f64 / 1_000_000.0;
    let mut target = Target::at_most(bound, scaled("≤ 10 s", bound, "s", rows, 1_000_000));
    if setup != Setup::Distributed {
        target.applies = false;
        target.text = format!("(PostgreSQL: {})", target.text);
    }
    target
}

/// "1,000,000 clients exported in 5 s or less".
pub fn export_seconds(rows: u64) -> Target {
    let bound = 5.0 * rows as f64 / 1_000_000.0;
    Target::at_most(bound, scaled("≤ 5 s", bound, "s", rows, 1_000_000))
}

/// "each service under 30 MiB of resident memory when idle"; a process running several
/// services (the embedded `mailing`) gets 30 MiB for each.
pub fn idle_memory_mib(services: usize) -> Target {
    let bound = 30.0 * services as f64;
    let text = if services == 1 {
        "< 30 MiB".to_owned()
    } else {
        format!("< {bound} MiB (30 × {services} services)")
    };
    Target {
        text,
        bound: Bound::Below(bound),
        applies: true,
    }
}

fn scaled(text: &str, bound: f64, unit: &str, size: u64, stated: u64) -> String {
    if size == stated {
        text.to_owned()
    } else {
        format!(
            "≤ {bound:.1} {unit} ({} per {})",
            text.trim_start_matches("≤ "),
            crate::report::thousands(stated as f64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_scale_with_the_size_and_apply_where_the_spec_says() {
        let drain = drain_seconds(Setup::Distributed, 100_000);
        assert_eq!((drain.met(9.9), drain.met(10.1)), (Some(true), Some(false)));
        assert_eq!(drain_seconds(Setup::Embedded, 100_000).met(1.0), None);
        assert_eq!(expansion_seconds(2_000_000).bound, Bound::AtMost(30.0));
        assert_eq!(latency_rate("200").met(5_000.0), Some(true));
        assert_eq!(latency_rate("100..300").met(9_000.0), None);
        assert_eq!(idle_memory_mib(3).met(89.0), Some(true));
    }
}
