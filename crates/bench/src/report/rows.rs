//! From runs to table rows: one row per measure, with its median over runs and its target.

use super::format::{mib, millis, thousands};
use super::{CpuDuring, Row, SetupResult};
use crate::cli::{Options, Scenario};
use crate::load::LoadResult;
use crate::procfs::CpuShare;
use crate::scenarios::MemoryRecord;
use crate::scenarios::drain::DrainRun;
use crate::stats::{Spread, median};
use crate::targets;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Fills in the rows and the CPU medians of a setup's results.
pub fn tabulate(result: &mut SetupResult, options: &Options) {
    let mut rows = Vec::new();
    drain_rows(&mut rows, result, options);
    latency_rows(&mut rows, result, options);
    expansion_rows(&mut rows, result);
    api_rows(&mut rows, result);
    contacts_rows(&mut rows, result);
    if options.selected(Scenario::Memory) {
        memory_rows(&mut rows, &result.memory);
    }
    result.rows = rows;

    let mut cpu: Vec<(String, Vec<Vec<CpuShare>>)> = Vec::new();
    let mut add = |measurement: String, shares: &[CpuShare]| match cpu
        .iter_mut()
        .find(|(m, _)| *m == measurement)
    {
        Some((_, runs)) => runs.push(shares.to_vec()),
        None => cpu.push((measurement, vec![shares.to_vec()])),
    };
    for run in &result.drain {
        add("drain".to_owned(), &run.cpu);
    }
    for run in &result.latency {
        add("latency".to_owned(), &run.cpu);
    }
    for run in &result.expansion {
        add("expansion".to_owned(), &run.cpu);
    }
    for run in &result.api {
        for phase in &run.phases {
            add(format!("api {}", phase.name), &phase.cpu);
        }
    }
    result.cpu = cpu
        .into_iter()
        .map(|(measurement, runs)| CpuDuring {
            measurement,
            shares: median_shares(&runs),
        })
        .collect();
}

/// Each process's median share over runs, busiest first.
fn median_shares(runs: &[Vec<CpuShare>]) -> Vec<CpuShare> {
    let mut by_process: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for run in runs {
        for share in run {
            by_process
                .entry(&share.process)
                .or_default()
                .push(share.percent);
        }
    }
    let mut shares: Vec<CpuShare> = by_process
        .into_iter()
        .map(|(process, mut values)| {
            // A process under 1 % in some runs was left out there: count it as zero.
            values.resize(runs.len(), 0.0);
            CpuShare {
                process: process.to_owned(),
                percent: median(&values).unwrap_or(0.0),
            }
        })
        .filter(|share| share.percent >= 1.0)
        .collect();
    shares.sort_by(|a, b| b.percent.total_cmp(&a.percent));
    shares
}

fn finished_values(runs: &[DrainRun], value: impl Fn(&DrainRun) -> Option<f64>) -> Vec<f64> {
    runs.iter()
        .filter(|run| run.finished)
        .filter_map(value)
        .collect()
}

/// "(2 of 3 runs unfinished)", or what the only runs reached.
fn unfinished_note(runs: &[DrainRun], timeout: u64) -> Option<String> {
    let unfinished: Vec<&DrainRun> = runs.iter().filter(|run| !run.finished).collect();
    match (unfinished.len(), runs.len()) {
        (0, _) => None,
        (u, n) if u == n => {
            let best = unfinished.iter().map(|run| run.sent).max().unwrap_or(0);
            Some(format!(
                "unfinished: {} of {} sent in {timeout} s",
                thousands(best as f64),
                thousands(unfinished[0].clients as f64)
            ))
        }
        (u, n) => Some(format!("{u} of {n} runs unfinished")),
    }
}

fn drain_rows(rows: &mut Vec<Row>, result: &SetupResult, options: &Options) {
    let runs = &result.drain;
    let Some(first) = runs.first() else { return };
    let n = first.clients;
    let mut time = Row::new(
        "drain",
        format!("{} messages: api call → last sent_at", thousands(n as f64)),
        "s",
        &finished_values(runs, |r| r.seconds),
    )
    .target(targets::drain_seconds(result.setup, n));
    if let Some(note) = unfinished_note(runs, options.timeout) {
        time = time.annotate(&note);
    }
    rows.push(time);
    rows.push(Row::new(
        "drain",
        "rate".to_owned(),
        "msg/s",
        &finished_values(runs, |r| r.messages_per_second),
    ));
    rows.push(Row::new(
        "drain",
        "api call → first sent_at".to_owned(),
        "s",
        &runs
            .iter()
            .filter_map(|r| r.first_sent_seconds)
            .collect::<Vec<_>>(),
    ));
}

fn latency_rows(rows: &mut Vec<Row>, result: &SetupResult, options: &Options) {
    let runs = &result.latency;
    let Some(first) = runs.first() else { return };
    let n = first.clients;
    let mut rate = Row::new(
        "latency",
        format!(
            "{} messages, probe {} ms, {} in flight: rate",
            thousands(n as f64),
            options.latency_ms,
            options.sender_concurrency
        ),
        "msg/s",
        &finished_values(runs, |r| r.messages_per_second),
    )
    .target(targets::latency_rate(&options.latency_ms));
    if let Some(note) = unfinished_note(runs, options.timeout) {
        rate = rate.annotate(&note);
    }
    rows.push(rate);
    rows.push(Row::new(
        "latency",
        "api call → last sent_at".to_owned(),
        "s",
        &finished_values(runs, |r| r.seconds),
    ));
    rows.push(Row::new(
        "latency",
        "probe requests in flight, at most".to_owned(),
        "",
        &runs
            .iter()
            .map(|r| r.probe_max_in_flight as f64)
            .collect::<Vec<_>>(),
    ));
}

fn expansion_rows(rows: &mut Vec<Row>, result: &SetupResult) {
    let runs = &result.expansion;
    let Some(first) = runs.first() else { return };
    let n = first.clients;
    let seconds: Vec<f64> = runs.iter().filter_map(|r| r.seconds).collect();
    let mut time = Row::new(
        "expansion",
        format!("{} messages: api call → expanded", thousands(n as f64)),
        "s",
        &seconds,
    )
    .target(targets::expansion_seconds(n));
    let unfinished = runs.iter().filter(|r| !r.finished).count();
    let short = runs
        .iter()
        .filter(|r| r.finished && r.messages != n as i64)
        .count();
    if short > 0 {
        time = time.annotate(&format!(
            "{short} run(s) created a number of messages other than {}",
            thousands(n as f64)
        ));
    }
    if unfinished > 0 {
        time = time.annotate(&format!("{unfinished} of {} runs unfinished", runs.len()));
    }
    rows.push(time);
    rows.push(Row::new(
        "expansion",
        "rate".to_owned(),
        "msg/s",
        &runs
            .iter()
            .filter_map(|r| Some(r.messages as f64 / r.seconds?))
            .collect::<Vec<_>>(),
    ));
}

fn api_rows(rows: &mut Vec<Row>, result: &SetupResult) {
    let Some(first) = result.api.first() else {
        return;
    };
    for (index, phase) in first.phases.iter().enumerate() {
        let runs: Vec<&LoadResult> = result
            .api
            .iter()
            .filter_map(|run| run.phases.get(index))
            .map(|p| &p.result)
            .collect();
        // The median over runs in its unit, with the bare range when there are several.
        let spread = |value: fn(&LoadResult) -> Option<f64>, format: fn(f64) -> String| {
            let values: Vec<f64> = runs.iter().filter_map(|r| value(r)).collect();
            let bare = |v: f64| format(v).split(' ').next().unwrap_or_default().to_owned();
            match Spread::of(&values) {
                None => "–".to_owned(),
                Some(s) if s.runs > 1 => {
                    format!("{} ({}–{})", format(s.median), bare(s.min), bare(s.max))
                }
                Some(s) => format(s.median),
            }
        };
        let errors: u64 = runs.iter().map(|r| r.errors).sum();
        let mut shown = format!(
            "{} · p50 {} · p99 {}",
            spread(
                |r| Some(r.requests_per_second),
                |v| format!("{} req/s", thousands(v))
            ),
            spread(|r| r.p50_ms, millis),
            spread(|r| r.p99_ms, millis),
        );
        if errors > 0 {
            let _ = write!(shown, " · {errors} errors");
        }
        let measure = format!("{}, {} conn", phase.request, phase.result.connections);
        let p50s: Vec<f64> = runs.iter().filter_map(|r| r.p50_ms).collect();
        let mut row = Row::new("api", measure, "ms", &p50s).shown(shown);
        if phase.name == "stats_big_1" {
            row = row.target(targets::stats_millis(first.big_mailing_messages));
        }
        if phase.name.starts_with("list_") && phase.name.ends_with("_1") {
            row = row.target(targets::list_millis(first.big_mailing_messages));
        }
        rows.push(row);
    }
}

fn contacts_rows(rows: &mut Vec<Row>, result: &SetupResult) {
    let runs = &result.contacts;
    let Some(first) = runs.first() else { return };
    let n = first.rows;
    let import: Vec<f64> = runs.iter().filter_map(|r| r.import_seconds).collect();
    let mut row = Row::new(
        "contacts",
        format!(
            "{} CSV rows, mixed phone formats: POST /api/v1/clients/import?wait=true",
            thousands(n as f64)
        ),
        "s",
        &import,
    )
    .target(targets::import_seconds(result.setup, n));
    for run in runs {
        if let Some(error) = &run.import_error {
            row = row.annotate(&format!("run {} failed: {error}", run.run));
        } else if run.created != Some(run.rows) {
            row = row.annotate(&format!(
                "run {} created {} clients, not {}",
                run.run,
                run.created.map_or("?".to_owned(), |c| c.to_string()),
                run.rows
            ));
        }
    }
    rows.push(row);
    rows.push(Row::new(
        "contacts",
        "import rate".to_owned(),
        "rows/s",
        &runs
            .iter()
            .filter_map(|r| Some(r.rows as f64 / r.import_seconds?))
            .collect::<Vec<_>>(),
    ));
    let export: Vec<f64> = runs.iter().filter_map(|r| r.export_seconds).collect();
    let mut row = Row::new(
        "contacts",
        format!(
            "{} clients: GET /api/v1/clients/export to the last byte",
            thousands(n as f64)
        ),
        "s",
        &export,
    )
    .target(targets::export_seconds(n));
    for run in runs {
        if let Some(error) = &run.export_error {
            row = row.annotate(&format!("run {} failed: {error}", run.run));
        } else if run.exported.is_some_and(|e| e < run.rows) {
            row = row.annotate(&format!(
                "run {} exported {} clients",
                run.run,
                run.exported.unwrap_or_default()
            ));
        }
    }
    rows.push(row);
}

fn memory_rows(rows: &mut Vec<Row>, records: &[MemoryRecord]) {
    let mut idle: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut peak: BTreeMap<&str, (f64, String)> = BTreeMap::new();
    for record in records {
        for process in &record.processes {
            if let Some(kib) = process.idle_kib {
                idle.entry(&process.process).or_default().push(mib(kib));
            }
            if let Some(kib) = process.peak_kib {
                let entry = peak.entry(&process.process).or_insert((0.0, String::new()));
                if mib(kib) > entry.0 {
                    *entry = (mib(kib), record.scenario.clone());
                }
            }
        }
    }
    for (process, values) in &idle {
        let mut row = Row::new("memory", format!("{process}: idle (VmRSS)"), "MiB", values);
        if let Some(services) = services_of(process) {
            row = row.target(targets::idle_memory_mib(services));
        }
        rows.push(row);
    }
    for (process, (value, scenario)) in &peak {
        rows.push(
            Row::new(
                "memory",
                format!("{process}: peak (VmHWM)"),
                "MiB",
                &[*value],
            )
            .shown(format!("{value:.1} MiB in {scenario}")),
        );
    }
}

/// How many product services a process runs; `None` for the simulator, which is not one.
fn services_of(process: &str) -> Option<usize> {
    match process {
        "mailing" => Some(3),
        "mailing-api" | "mailing-scheduler" | "mailing-sender" => Some(1),
        _ => None,
    }
}
