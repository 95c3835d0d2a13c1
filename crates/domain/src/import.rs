//! CSV imports: the columns a file may carry, how one row reads, how it changes a stored
//! client, and the job that reports on a whole file.
//!
//! A row is read cell by cell against the header; a bad cell rejects its row (naming the line
//! and column) and never the file. What a row does to a stored client is decided here, once,
//! for the real run and the dry run alike, so both report the same counts.

use crate::attributes::{AttributeKey, AttributeValue, Attributes};
use crate::client::{PhoneNumber, TimeZone};
use crate::operator::OperatorCode;
use crate::tag::TagValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// An import job's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ImportId(pub i64);

impl fmt::Display for ImportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Clients,
    OptOuts,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Clients => "clients",
            ImportKind::OptOuts => "opt_outs",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [ImportKind::Clients, ImportKind::OptOuts]
            .into_iter()
            .find(|kind| kind.as_str() == raw)
    }
}

/// Whether a row for a stored phone number updates that client or is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    #[default]
    Upsert,
    Insert,
}

impl ImportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Upsert => "upsert",
            ImportMode::Insert => "insert",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [ImportMode::Upsert, ImportMode::Insert]
            .into_iter()
            .find(|mode| mode.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Done,
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            ImportStatus::Running,
            ImportStatus::Done,
            ImportStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == raw)
    }
}

/// How many rejections a job keeps whole; the counts cover every row.
pub const KEPT_REJECTIONS: usize = 1000;

/// Cells longer than this are cut in a rejection's `value`, so a report stays small.
const VALUE_SHOWN: usize = 100;

/// Why one row was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RowRejection {
    /// The row's line in the file; the header is line 1.
    pub line: u64,
    /// The header column at fault; none when the row as a whole is (e.g. its cell count).
    pub column: Option<String>,
    pub reason: String,
    /// The cell as written (cut after 100 characters), when it helps.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
}

impl RowRejection {
    pub fn new(line: u64, column: &str, reason: impl Into<String>) -> Self {
        Self {
            line,
            column: Some(column.to_owned()),
            reason: reason.into(),
            value: None,
        }
    }

    pub fn with_value(mut self, value: &str) -> Self {
        self.value = Some(value.chars().take(VALUE_SHOWN).collect());
        self
    }
}

/// What one row did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
    Rejected(RowRejection),
}

/// The counts of a batch or a whole file, and its first rejections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportTally {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// At most [`KEPT_REJECTIONS`], in file order.
    pub rejections: Vec<RowRejection>,
}

impl ImportTally {
    pub fn add(&mut self, outcome: RowOutcome) {
        self.rows += 1;
        match outcome {
            RowOutcome::Created => self.created += 1,
            RowOutcome::Updated => self.updated += 1,
            RowOutcome::Unchanged => self.unchanged += 1,
            RowOutcome::Rejected(rejection) => {
                self.rejected += 1;
                if self.rejections.len() < KEPT_REJECTIONS {
                    self.rejections.push(rejection);
                }
            }
        }
    }
}

/// An import job as stored: its options, progress and report.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub id: ImportId,
    pub kind: ImportKind,
    pub mode: ImportMode,
    pub dry_run: bool,
    pub status: ImportStatus,
    pub bytes_total: Option<u64>,
    pub bytes_read: u64,
    pub tally: ImportTally,
    /// Why a failed import stopped.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl ImportJob {
    /// How much of the file was read, from 0 to 1; 1 once the job is over.
    pub fn progress(&self) -> f64 {
        match (self.status, self.bytes_total) {
            (ImportStatus::Done, _) => 1.0,
            (_, Some(total)) if total > 0 => (self.bytes_read as f64 / total as f64).min(1.0),
            _ => 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImport {
    pub kind: ImportKind,
    pub mode: ImportMode,
    pub dry_run: bool,
    pub bytes_total: u64,
}

/// The columns a client file may have, besides `attr.<key>`.
pub const CLIENT_COLUMNS: [&str; 4] = ["phone_number", "operator_code", "tags", "time_zone"];
/// The columns an opt-out file may have.
pub const OPT_OUT_COLUMNS: [&str; 2] = ["phone_number", "reason"];
/// What a header cell names an attribute column with.
pub const ATTRIBUTE_PREFIX: &str = "attr.";
/// What separates tags in the `tags` cell.
pub const TAG_SEPARATOR: char = ';';
/// The longest opt-out reason kept.
pub const MAX_REASON_LENGTH: usize = 500;

/// A header that cannot be read: the column (by position, from 1, and as written) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {position} ({name:?}): {problem}")]
pub struct HeaderProblem {
    pub position: usize,
    pub name: String,
    /// Stable machine-readable rule name: `unknown_column`, `repeated_column`,
    /// `missing_column` or `attribute_key_format`.
    pub code: &'static str,
    pub problem: String,
}

/// What each column of a client file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientColumn {
    Phone,
    Operator,
    Tags,
    Zone,
    Attribute(AttributeKey),
}

/// A client file's header, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHeader {
    columns: Vec<ClientColumn>,
    names: Vec<String>,
}

/// An opt-out file's header, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutHeader {
    phone: usize,
    reason: Option<usize>,
    width: usize,
}

/// A header cell's name: spreadsheets may start the file with a byte order mark, and pad.
fn header_name(cell: &str) -> &str {
    cell.trim_start_matches('\u{feff}').trim()
}

/// Checks the header's names: each known, none twice, `phone_number` present.
fn check_names<T>(
    cells: &[&str],
    column: impl Fn(&str) -> Result<T, (&'static str, String)>,
) -> Result<Vec<T>, Vec<HeaderProblem>> {
    let mut problems = Vec::new();
    let mut columns = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, raw) in cells.iter().enumerate() {
        let name = header_name(raw);
        let problem = |code: &'static str, problem: String| HeaderProblem {
            position: index + 1,
            name: name.to_owned(),
            code,
            problem,
        };
        if let Some(first) = seen.insert(name, index + 1) {
            problems.push(problem(
                "repeated_column",
                format!("repeats column {first}"),
            ));
            continue;
        }
        match column(name) {
            Ok(column) => columns.push(column),
            Err((code, reason)) => problems.push(problem(code, reason)),
        }
    }
    if !seen.contains_key("phone_number") {
        problems.push(HeaderProblem {
            position: cells.len() + 1,
            name: "phone_number".to_owned(),
            code: "missing_column",
            problem: "the required column is missing".to_owned(),
        });
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(problems)
    }
}

fn unknown_column(known: &[&str], more: &str) -> (&'static str, String) {
    (
        "unknown_column",
        format!("is not a known column (known: {}{more})", known.join(", ")),
    )
}

impl ClientHeader {
    /// Reads the header row; every problem is listed.
    pub fn parse(cells: &[&str]) -> Result<Self, Vec<HeaderProblem>> {
        let columns = check_names(cells, |name| match name {
            "phone_number" => Ok(ClientColumn::Phone),
            "operator_code" => Ok(ClientColumn::Operator),
            "tags" => Ok(ClientColumn::Tags),
            "time_zone" => Ok(ClientColumn::Zone),
            _ => match name.strip_prefix(ATTRIBUTE_PREFIX) {
                Some(key) => AttributeKey::parse(key)
                    .map(ClientColumn::Attribute)
                    .map_err(|rule| ("attribute_key_format", format!("attribute key {rule}"))),
                None => Err(unknown_column(&CLIENT_COLUMNS, ", attr.<key>")),
            },
        })?;
        Ok(Self {
            columns,
            names: cells
                .iter()
                .map(|cell| header_name(cell).to_owned())
                .collect(),
        })
    }

    /// Reads one row (`line` counts from the header's 1); a bad cell rejects the row, naming
    /// the first bad column.
    pub fn row(&self, line: u64, cells: &[&str]) -> Result<ClientImportRow, RowRejection> {
        check_width(line, cells.len(), self.columns.len())?;
        let mut row = ClientImportRow {
            line,
            phone: PhoneNumber::normalise("79000000000").expect("a well-formed number"),
            operator_code: None,
            tags: None,
            time_zone: None,
            attributes: Vec::new(),
        };
        for ((column, name), cell) in self.columns.iter().zip(&self.names).zip(cells) {
            let reject = |rule: &dyn fmt::Display| {
                RowRejection::new(line, name, rule.to_string()).with_value(cell)
            };
            let trimmed = cell.trim();
            match column {
                ClientColumn::Phone => {
                    row.phone = PhoneNumber::normalise(cell).map_err(|rule| reject(&rule))?
                }
                ClientColumn::Operator if trimmed.is_empty() => {}
                ClientColumn::Operator => {
                    row.operator_code =
                        Some(OperatorCode::parse(trimmed).map_err(|rule| reject(&rule))?)
                }
                ClientColumn::Tags => {
                    let mut tags = trimmed
                        .split(TAG_SEPARATOR)
                        .map(str::trim)
                        .filter(|tag| !tag.is_empty())
                        .map(TagValue::parse)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|rule| reject(&rule))?;
                    tags.sort();
                    tags.dedup();
                    row.tags = Some(tags);
                }
                ClientColumn::Zone if trimmed.is_empty() => {}
                ClientColumn::Zone => {
                    row.time_zone = Some(TimeZone::parse(trimmed).map_err(|rule| reject(&rule))?)
                }
                ClientColumn::Attribute(key) => row
                    .attributes
                    .push((key.clone(), AttributeValue::from_cell(cell))),
            }
        }
        Ok(row)
    }
}

fn check_width(line: u64, found: usize, expected: usize) -> Result<(), RowRejection> {
    if found == expected {
        return Ok(());
    }
    Err(RowRejection {
        line,
        column: None,
        reason: format!("the row has {found} cells, the header {expected}"),
        value: None,
    })
}

impl OptOutHeader {
    pub fn parse(cells: &[&str]) -> Result<Self, Vec<HeaderProblem>> {
        let columns = check_names(cells, |name| {
            if OPT_OUT_COLUMNS.contains(&name) {
                Ok(name.to_owned())
            } else {
                Err(unknown_column(&OPT_OUT_COLUMNS, ""))
            }
        })?;
        let position = |wanted: &str| columns.iter().position(|name| name == wanted);
        Ok(Self {
            phone: position("phone_number").expect("checked present"),
            reason: position("reason"),
            width: columns.len(),
        })
    }

    pub fn row(&self, line: u64, cells: &[&str]) -> Result<OptOutImportRow, RowRejection> {
        check_width(line, cells.len(), self.width)?;
        let phone_cell = cells[self.phone];
        let phone = PhoneNumber::normalise(phone_cell).map_err(|rule| {
            RowRejection::new(line, "phone_number", rule.to_string()).with_value(phone_cell)
        })?;
        let reason = self
            .reason
            .map(|index| cells[index].trim())
            .filter(|reason| !reason.is_empty());
        if let Some(reason) = reason
            && reason.chars().count() > MAX_REASON_LENGTH
        {
            return Err(RowRejection::new(
                line,
                "reason",
                format!("must be at most {MAX_REASON_LENGTH} characters"),
            ));
        }
        Ok(OptOutImportRow {
            line,
            phone,
            reason: reason.map(str::to_owned),
        })
    }
}

/// One row of a client file: the phone number and the fields its columns give. A field whose
/// column is absent (or, for operator and zone, whose cell is empty) is `None`, and leaves a
/// stored client's value alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientImportRow {
    pub line: u64,
    pub phone: PhoneNumber,
    pub operator_code: Option<OperatorCode>,
    /// Replaces the whole set when given; sorted, without repeats.
    pub tags: Option<Vec<TagValue>>,
    pub time_zone: Option<TimeZone>,
    /// Each `attr.<key>` column: its value, or `None` (an empty cell) to remove the key.
    pub attributes: Vec<(AttributeKey, Option<AttributeValue>)>,
}

/// One row of an opt-out file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutImportRow {
    pub line: u64,
    pub phone: PhoneNumber,
    pub reason: Option<String>,
}

/// The fields of a stored client an import may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFields {
    pub operator_code: OperatorCode,
    /// Sorted, without repeats.
    pub tags: Vec<TagValue>,
    pub time_zone: TimeZone,
    pub attributes: Attributes,
}

/// What a row does to the client with its phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientChange {
    Create(ClientFields),
    Update(ClientFields),
    Unchanged,
}

impl ClientImportRow {
    /// Applies the row to `stored`, the client with its phone number if there is one.
    /// The operator's existence is the caller's to check (against the database).
    pub fn change(
        &self,
        stored: Option<&ClientFields>,
        mode: ImportMode,
    ) -> Result<ClientChange, RowRejection> {
        let reject = |column: &str, reason: String| RowRejection::new(self.line, column, reason);
        if stored.is_some() && mode == ImportMode::Insert {
            return Err(reject(
                "phone_number",
                "a client with this phone number already exists (mode insert adds new clients only)"
                    .to_owned(),
            ));
        }
        let mut entries = stored
            .map(|fields| fields.attributes.clone().into_entries())
            .unwrap_or_default();
        for (key, value) in &self.attributes {
            match value {
                Some(value) => entries.insert(key.clone(), value.clone()),
                None => entries.remove(key),
            };
        }
        let attributes = Attributes::from_entries(entries).map_err(|problem| {
            let column = self
                .attributes
                .last()
                .map(|(key, _)| format!("{ATTRIBUTE_PREFIX}{key}"))
                .unwrap_or_else(|| "attributes".to_owned());
            reject(&column, format!("the client's attributes {problem}"))
        })?;
        match stored {
            None => {
                let Some(operator_code) = self.operator_code.clone() else {
                    return Err(reject(
                        "operator_code",
                        "is required for a new client".to_owned(),
                    ));
                };
                Ok(ClientChange::Create(ClientFields {
                    operator_code,
                    tags: self.tags.clone().unwrap_or_default(),
                    time_zone: self.time_zone.unwrap_or_else(TimeZone::utc),
                    attributes,
                }))
            }
            Some(stored) => {
                let merged = ClientFields {
                    operator_code: self
                        .operator_code
                        .clone()
                        .unwrap_or_else(|| stored.operator_code.clone()),
                    tags: self.tags.clone().unwrap_or_else(|| stored.tags.clone()),
                    time_zone: self.time_zone.unwrap_or(stored.time_zone),
                    attributes,
                };
                if &merged == stored {
                    Ok(ClientChange::Unchanged)
                } else {
                    Ok(ClientChange::Update(merged))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cells: &[&str]) -> ClientHeader {
        ClientHeader::parse(cells).expect("a good header")
    }

    #[test]
    fn a_header_lists_every_problem() {
        let problems = ClientHeader::parse(&["phone", "tags", "tags", "attr.Bad"]).unwrap_err();
        let described: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(described.len(), 4, "{described:?}");
        assert!(described[0].starts_with("column 1 (\"phone\"): is not a known column"));
        assert_eq!(described[1], "column 3 (\"tags\"): repeats column 2");
        assert!(described[2].starts_with("column 4 (\"attr.Bad\"): attribute key"));
        assert_eq!(
            described[3],
            "column 5 (\"phone_number\"): the required column is missing"
        );
    }

    #[test]
    fn a_row_reads_every_column() {
        let header = header(&[
            "phone_number",
            "operator_code",
            "tags",
            "time_zone",
            "attr.city",
        ]);
        let row = header
            .row(
                2,
                &[
                    "8 900 123-45-67",
                    "900",
                    "b; a;;a",
                    "Europe/Moscow",
                    "Kazan",
                ],
            )
            .unwrap();
        assert_eq!(row.phone.as_str(), "79001234567");
        assert_eq!(row.operator_code.unwrap().as_str(), "900");
        let tags: Vec<&str> = row
            .tags
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(tags, ["a", "b"]);
        assert_eq!(row.time_zone.unwrap().name(), "Europe/Moscow");
        assert_eq!(
            row.attributes,
            [(
                AttributeKey::parse("city").unwrap(),
                Some(AttributeValue::Text("Kazan".into()))
            )]
        );
    }

    #[test]
    fn a_bad_cell_names_its_line_and_column() {
        let header = header(&["phone_number", "time_zone"]);
        let rejection = header.row(7, &["79001234567", "Mars/Base"]).unwrap_err();
        assert_eq!(rejection.line, 7);
        assert_eq!(rejection.column.as_deref(), Some("time_zone"));
        assert_eq!(rejection.value.as_deref(), Some("Mars/Base"));
        let short = header.row(8, &["79001234567"]).unwrap_err();
        assert_eq!(short.column, None);
        assert_eq!(short.reason, "the row has 1 cells, the header 2");
    }

    #[test]
    fn a_row_changes_only_its_columns() {
        let header = header(&["phone_number", "attr.city", "attr.age"]);
        let stored = ClientFields {
            operator_code: OperatorCode::parse("900").unwrap(),
            tags: vec![TagValue::parse("vip").unwrap()],
            time_zone: TimeZone::utc(),
            attributes: Attributes::from_json(&serde_json::json!({"city": "Kazan", "age": 30}))
                .unwrap(),
        };
        let same = header.row(2, &["79001234567", "Kazan", "30"]).unwrap();
        assert_eq!(
            same.change(Some(&stored), ImportMode::Upsert),
            Ok(ClientChange::Unchanged)
        );
        let removed = header.row(3, &["79001234567", "Kazan", ""]).unwrap();
        let Ok(ClientChange::Update(fields)) = removed.change(Some(&stored), ImportMode::Upsert)
        else {
            panic!("an update");
        };
        assert_eq!(
            fields.attributes.to_json(),
            serde_json::json!({"city": "Kazan"})
        );
        assert_eq!(fields.tags, stored.tags);
        let inserted = same.change(Some(&stored), ImportMode::Insert).unwrap_err();
        assert_eq!(inserted.column.as_deref(), Some("phone_number"));
        let new = same.change(None, ImportMode::Upsert).unwrap_err();
        assert_eq!(new.column.as_deref(), Some("operator_code"));
        assert_eq!(new.reason, "is required for a new client");
    }
}
