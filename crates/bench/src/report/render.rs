//! The printed form of a setup's results: the table, the targets missed, the CPU each process
//! used, notes on how each number was taken, and failures.

use super::format::thousands;
use super::{CpuDuring, Row, SetupResult};
use crate::cli::{Options, Scenario};
use crate::procfs;
use crate::scenarios::expansion;
use mailing_e2e::Setup;
use std::fmt::Write as _;

/// The table and notes of one setup, as printed.
pub fn render(result: &SetupResult, options: &Options) -> String {
    let mut out = heading(result, options);
    out.push_str(&table(&result.rows));
    out.push_str(&targets_line(&result.rows));
    out.push_str(&cpu_section(&result.cpu));
    out.push_str("\n Notes:\n");
    for note in notes(result, options) {
        let _ = writeln!(out, "  - {note}");
    }
    if !result.failures.is_empty() {
        out.push_str("\n Failed:\n");
        for failure in &result.failures {
            let first_line = failure.message.lines().next().unwrap_or("");
            let _ = writeln!(
                out,
                "  - {} run {}: {first_line}",
                failure.scenario, failure.run
            );
        }
    }
    out
}

fn heading(result: &SetupResult, options: &Options) -> String {
    let database = result.database.as_deref().map_or("", short_version);
    let bus = match (result.setup, &result.bus) {
        (Setup::Distributed, Some(version)) => version.as_str(),
        (Setup::Distributed, None) => "RabbitMQ",
        (Setup::Embedded, _) => "the in-process bus",
    };
    let layout = match result.setup {
        Setup::Distributed => "mailing-api, mailing-scheduler, mailing-sender",
        Setup::Embedded => "mailing (api, scheduler and sender in one process)",
    };
    let runs = match options.runs {
        1 => "1 run per scenario".to_owned(),
        n => format!("median (min–max) of {n} runs"),
    };
    format!(
        "\n== {}: {layout} on {database} and {bus}; {runs} ==\n\n",
        result.setup
    )
}

/// The rows in aligned columns, the last one ✓ or ✗ where a target applies.
fn table(rows: &[Row]) -> String {
    let header = ["scenario", "measure", "result", "target", ""].map(str::to_owned);
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            [
                row.scenario.clone(),
                row.measure.clone(),
                row.shown.clone(),
                row.target
                    .as_ref()
                    .map_or(String::new(), |t| t.text.clone()),
                match row.met {
                    Some(true) => "✓".to_owned(),
                    Some(false) => "✗".to_owned(),
                    None => String::new(),
                },
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            cells
                .iter()
                .chain([&header])
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule: [String; 5] = std::array::from_fn(|column| "-".repeat(widths[column]));
    let mut out = String::new();
    for row in [&header, &rule].into_iter().chain(&cells) {
        let mut line = String::from(" ");
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(width - cell.chars().count() + 2));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// "Targets: 2 met, 3 missed (drain ≤ 10 s; ...)".
fn targets_line(rows: &[Row]) -> String {
    let met = rows.iter().filter(|r| r.met == Some(true)).count();
    let missed: Vec<String> = rows
        .iter()
        .filter(|r| r.met == Some(false))
        .map(|r| {
            let what = match r.scenario.as_str() {
                "memory" => r.measure.split(':').next().unwrap_or("memory"),
                // The request, without its connection count: stats or which client list.
                "api" => r.measure.split(", ").next().unwrap_or("api"),
                other => other,
            };
            format!("{what} {}", r.target.as_ref().map_or("", |t| &t.text))
        })
        .collect();
    let list = if missed.is_empty() {
        String::new()
    } else {
        format!(" ({})", missed.join("; "))
    };
    format!("\n Targets: {met} met, {} missed{list}\n", missed.len())
}

fn cpu_section(cpu: &[CpuDuring]) -> String {
    if cpu.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n CPU per process, % of one core ({} cores):\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let width = cpu
        .iter()
        .map(|c| c.measurement.chars().count())
        .max()
        .unwrap_or(0);
    for during in cpu {
        let shares: Vec<String> = during
            .shares
            .iter()
            .map(|s| format!("{} {:.0}", s.process, s.percent))
            .collect();
        let shares = if shares.is_empty() {
            "(all idle)".to_owned()
        } else {
            shares.join(" · ")
        };
        let _ = writeln!(out, "  {:<width$}  {shares}", during.measurement);
    }
    out
}

/// "PostgreSQL 15.20 (Debian ...) on x86_64 ..." → "PostgreSQL 15.20".
fn short_version(version: &str) -> &str {
    let mut words = version.match_indices(' ');
    match (words.next(), words.next()) {
        (Some(_), Some((second, _))) => &version[..second],
        _ => version,
    }
}

fn notes(result: &SetupResult, options: &Options) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(run) = result.drain.first() {
        notes.push(format!(
            "drain: probe-sim answers at once; sender concurrency at the binary's default; \
             probe-sim workers {}; {} clients inserted in {:.1} s (setup, not measured)",
            run.sim_workers,
            thousands(run.clients as f64),
            run.insert_seconds
        ));
    }
    if let Some(run) = result.latency.first() {
        notes.push(format!(
            "latency: PROBE_SIM_LATENCY_MS={}, MAILING_SENDER_CONCURRENCY={}, PROBE_SIM_WORKERS={}",
            options.latency_ms, options.sender_concurrency, run.sim_workers
        ));
    }
    if let Some(run) = result.expansion.first() {
        notes.push(format!(
            "expansion: {}; the end is seen by polling every 20 ms; {} clients inserted in {:.1} s \
             (setup, not measured)",
            expansion::QUIET,
            thousands(run.clients as f64),
            run.insert_seconds
        ));
    }
    if let Some(run) = result.api.first() {
        notes.push(format!(
            "api: each row loads one request for {} s after a 1 s warm-up, on the expansion \
             deployment ({} clients, {} messages), vacuumed and analysed first on PostgreSQL as \
             autovacuum would be a minute after the expansion; the 50 ms target is checked on one \
             connection, so queueing behind other requests does not count; the load client \
             shares the machine's cores (see CPU)",
            options.api_seconds,
            thousands(options.expansion_clients as f64),
            thousands(run.big_mailing_messages as f64)
        ));
    }
    if options.selected(Scenario::Memory) && !result.memory.is_empty() {
        notes.push(format!(
            "memory: idle is VmRSS 1 s after a deployment was ready (after the harness's login), \
             median over the setup's {} deployments; peak is the highest VmHWM at the end of a \
             scenario; probe-sim is the provider's stand-in, not a product service",
            result.memory.len()
        ));
    }
    let disturbed: Vec<String> = result
        .cpu
        .iter()
        .filter_map(|during| {
            let foreign: f64 = during
                .shares
                .iter()
                .filter(|s| s.process == procfs::OTHER || s.process == procfs::POSTGRES_OTHERS)
                .map(|s| s.percent)
                .sum();
            (foreign >= crate::run::BUSY).then(|| format!("{} {foreign:.0} %", during.measurement))
        })
        .collect();
    if !disturbed.is_empty() {
        notes.push(format!(
            "WARNING: work outside the deployment (\"other\", \"postgres (other databases)\") \
             took CPU during: {}; those numbers understate an idle machine",
            disturbed.join(", ")
        ));
    }
    if !options.env.is_empty() {
        let settings: Vec<String> = options.env.iter().map(ToString::to_string).collect();
        notes.push(format!("extra settings (--env): {}", settings.join(", ")));
    }
    notes.push(format!(
        "service logs: target/e2e-logs/bench-<scenario>-<run>-{}/",
        result.setup
    ));
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{Bound, Target};

    fn missed(scenario: &str, measure: &str, target: &str) -> Row {
        Row {
            scenario: scenario.to_owned(),
            measure: measure.to_owned(),
            unit: "ms",
            value: None,
            shown: String::new(),
            target: Some(Target {
                text: target.to_owned(),
                bound: Bound::AtMost(10.0),
                applies: true,
            }),
            met: Some(false),
        }
    }

    #[test]
    fn a_missed_api_target_names_its_request() {
        let rows = [
            missed(
                "api",
                "GET /api/v1/clients?page_size=50&phone_prefix=790005, 1 conn",
                "p50 ≤ 10 ms",
            ),
            missed("contacts", "1,000,000 CSV rows", "≤ 10 s"),
        ];
        assert_eq!(
            targets_line(&rows),
            "\n Targets: 0 met, 2 missed (GET /api/v1/clients?page_size=50&phone_prefix=790005 \
             p50 ≤ 10 ms; contacts ≤ 10 s)\n"
        );
    }
}
