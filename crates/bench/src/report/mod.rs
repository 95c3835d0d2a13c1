//! The results: a table per setup with each measure beside its target, and the whole
//! record as JSON. `rows` turns runs into table rows, `render` prints them, `format` writes
//! numbers.

mod format;
mod render;
mod rows;

pub use format::thousands;
pub use render::render;
pub use rows::tabulate;

use crate::cli::Options;
use crate::machine::Machine;
use crate::procfs::CpuShare;
use crate::scenarios::api::ApiRun;
use crate::scenarios::contacts::ContactsRun;
use crate::scenarios::drain::DrainRun;
use crate::scenarios::expansion::ExpansionRun;
use crate::scenarios::{Failure, MemoryRecord};
use crate::stats::Spread;
use crate::targets::Target;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use mailing_e2e::Setup;
use serde::Serialize;
use std::path::Path;

/// Everything one invocation measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub wall_seconds: f64,
    pub arguments: Vec<String>,
    pub options: Options,
    pub machine: Machine,
    pub setups: Vec<SetupResult>,
}

/// One setup's runs, and the rows of its table.
#[derive(Debug, Serialize)]
pub struct SetupResult {
    #[serde(serialize_with = "setup_name")]
    pub setup: Setup,
    /// The database and bus servers' versions, as they report them.
    pub database: Option<String>,
    pub bus: Option<String>,
    pub drain: Vec<DrainRun>,
    pub latency: Vec<DrainRun>,
    pub expansion: Vec<ExpansionRun>,
    pub api: Vec<ApiRun>,
    pub contacts: Vec<ContactsRun>,
    pub memory: Vec<MemoryRecord>,
    pub failures: Vec<Failure>,
    /// The table as printed.
    pub rows: Vec<Row>,
    /// Median CPU share of each process during each measurement, in the order they ran.
    pub cpu: Vec<CpuDuring>,
}

/// The CPU shares of the processes during one measurement.
#[derive(Debug, Clone, Serialize)]
pub struct CpuDuring {
    pub measurement: String,
    pub shares: Vec<CpuShare>,
}

fn setup_name<S: serde::Serializer>(setup: &Setup, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(setup)
}

impl SetupResult {
    pub fn new(setup: Setup) -> SetupResult {
        SetupResult {
            setup,
            database: None,
            bus: None,
            drain: Vec::new(),
            latency: Vec::new(),
            expansion: Vec::new(),
            api: Vec::new(),
            contacts: Vec::new(),
            memory: Vec::new(),
            failures: Vec::new(),
            rows: Vec::new(),
            cpu: Vec::new(),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub measure: String,
    pub unit: &'static str,
    /// Over the runs that produced the measure.
    pub value: Option<Spread>,
    /// The result column as printed.
    pub shown: String,
    pub target: Option<Target>,
    /// Whether the median meets the target; `None` without an applicable target.
    pub met: Option<bool>,
}

impl Row {
    fn new(scenario: &str, measure: String, unit: &'static str, values: &[f64]) -> Row {
        let value = Spread::of(values);
        Row {
            scenario: scenario.to_owned(),
            measure,
            unit,
            value,
            shown: value.map_or_else(|| "–".to_owned(), |v| format::spread(v, unit)),
            target: None,
            met: None,
        }
    }

    fn target(mut self, target: Target) -> Row {
        self.met = match self.value {
            Some(value) => target.met(value.median),
            // Nothing finished: a target that applies is missed.
            None => target.applies.then_some(false),
        };
        self.target = Some(target);
        self
    }

    fn shown(mut self, shown: String) -> Row {
        self.shown = shown;
        self
    }

    /// Adds a note to the result column, or puts it there when there is no value.
    fn annotate(self, note: &str) -> Row {
        let shown = if self.value.is_some() {
            format!("{} ({note})", self.shown)
        } else {
            note.to_owned()
        };
        self.shown(shown)
    }
}

/// Writes the report as pretty JSON, creating the directory if needed.
pub fn write_json(path: &Path, report: &Report) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(report).context("encoding the results")?;
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
}
