//! CSV imports of clients and opt-outs, and the client export.
//!
//! An import first spools the request body to a temporary file while counting its bytes (over
//! the configured limit it is a 413), reads the header there (a bad header is a 422, and no job
//! is made), then makes the job and answers. A background task reads the rows on one thread
//! and writes them in batches on another, one transaction per batch, recording the job's
//! progress after each. Every replica can answer for a job: its state is in the database.

use crate::error::{ApiError, FieldError};
use crate::operations::input::QueryValue;
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::web::Bytes;
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use mailing_domain::import::{
    ATTRIBUTE_PREFIX, CLIENT_COLUMNS, ClientHeader, ClientImportRow, HeaderProblem, ImportId,
    ImportJob, ImportKind, ImportMode, ImportTally, NewImport, OptOutHeader, OptOutImportRow,
    RowOutcome, RowRejection, TAG_SEPARATOR,
};
use mailing_domain::store::{ApiStore, Client, ClientQuery, StoreError};
use mailing_domain::{AttributeKey, AttributeValue};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// The largest file an import takes, in bytes; kept in app data.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimit(pub u64);

/// Rows written in one transaction.
pub const BATCH_ROWS: usize = 5000;
/// Batches read ahead of those being written.
const BATCHES_AHEAD: usize = 2;
/// A running job whose progress has not moved for this long is taken for one whose process
/// stopped.
const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// What a job failed that way says.
const STALE_ERROR: &str = "the import stopped (its api process ended before it finished); \
                           importing the file again is safe: rows already imported are unchanged";

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `upsert` (default): a row for a stored phone number updates that client; `insert`: such a
    /// row is rejected. Opt-out imports take `upsert` only.
    pub mode: Option<String>,
    /// `true`: check every row and report what the import would do, storing nothing.
    pub dry_run: Option<QueryValue<bool>>,
    /// `true`: answer 200 with the finished job instead of 202 at once.
    pub wait: Option<QueryValue<bool>>,
}

/// What an import was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    pub mode: ImportMode,
    pub dry_run: bool,
    pub wait: bool,
}

fn boolean(field: &str, raw: Option<&QueryValue<bool>>, problems: &mut Problems) -> bool {
    match raw.map(|value| value.raw()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            problems.push(FieldError::new(
                field,
                "invalid_type",
                format!("must be true or false, not {other:?}"),
            ));
            false
        }
    }
}

impl ImportQuery {
    pub fn parse(self, kind: ImportKind) -> Result<ImportOptions, ApiError> {
        let mut problems = Problems::default();
        let mode = match self.mode.as_deref() {
            None => ImportMode::Upsert,
            Some(raw) => match (ImportMode::parse(raw), kind) {
                (Some(ImportMode::Insert), ImportKind::OptOuts) | (None, _) => {
                    let allowed = match kind {
                        ImportKind::Clients => "upsert or insert",
                        ImportKind::OptOuts => "upsert",
                    };
                    problems.push(FieldError::new(
                        "mode",
                        "unknown_mode",
                        format!("must be {allowed}, not {raw:?}"),
                    ));
                    ImportMode::Upsert
                }
                (Some(mode), _) => mode,
            },
        };
        let dry_run = boolean("dry_run", self.dry_run.as_ref(), &mut problems);
        let wait = boolean("wait", self.wait.as_ref(), &mut problems);
        problems.finish_query(|| ImportOptions {
            mode,
            dry_run,
            wait,
        })
    }
}

/// A file being imported, removed when dropped.
struct Spool {
    path: PathBuf,
    bytes: u64,
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn spool_failed(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("spooling an import: {error}"))
}

/// Writes the body to a temporary file, refusing it as soon as it passes `limit`.
async fn spool<S, E>(mut body: S, declared: Option<u64>, limit: u64) -> Result<Spool, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let too_large = ApiError::PayloadTooLarge {
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large);
    }
    let path = std::env::temp_dir().join(format!(
        "mailing-import-{}-{:016x}.csv",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut spool = Spool {
        path: path.clone(),
        bytes: 0,
    };
    let (chunks, mut received) = tokio::sync::mpsc::channel::<Bytes>(16);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(File::create(&path)?);
        while let Some(chunk) = received.blocking_recv() {
            file.write_all(&chunk)?;
        }
        file.flush()
    });
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| crate::extract::body_unreadable())?;
        spool.bytes += chunk.len() as u64;
        if spool.bytes > limit {
            drop(chunks);
            let _ = writer.await;
            return Err(too_large);
        }
        if chunks.send(chunk).await.is_err() {
            break;
        }
    }
    drop(chunks);
    writer.await.map_err(spool_failed)?.map_err(spool_failed)?;
    Ok(spool)
}

/// How a file's rows are read.
#[derive(Clone)]
pub(crate) enum Header {
    Clients(ClientHeader),
    OptOuts(OptOutHeader),
}

/// A row read, ready for its batch.
enum Row {
    Client(ClientImportRow),
    OptOut(OptOutImportRow),
}

impl Row {
    fn phone(&self) -> &mailing_domain::PhoneNumber {
        match self {
            Row::Client(row) => &row.phone,
            Row::OptOut(row) => &row.phone,
        }
    }
}

fn csv_reader(file: File) -> csv::Reader<BufReader<File>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file))
}

fn header_errors(problems: Vec<HeaderProblem>) -> ApiError {
    ApiError::Validation(
        problems
            .into_iter()
            .map(|problem| {
                FieldError::new(
                    format!("header[{}]", problem.position),
                    problem.code,
                    format!(
                        "column {} ({:?}) {}; e.g. phone_number,operator_code,tags,time_zone,\
                         attr.city",
                        problem.position, problem.name, problem.problem
                    ),
                )
            })
            .collect(),
    )
}

fn empty_file() -> ApiError {
    ApiError::Validation(vec![FieldError::new(
        "header",
        "missing_header",
        "the file is empty: its first line must name the columns, e.g. \
         phone_number,operator_code,tags,time_zone",
    )])
}

/// Reads the file's header row.
fn read_header(path: &PathBuf, kind: ImportKind) -> Result<Header, ApiError> {
    let mut reader = csv_reader(File::open(path).map_err(spool_failed)?);
    let mut record = csv::StringRecord::new();
    let found = reader.read_record(&mut record).map_err(|error| {
        ApiError::Validation(vec![FieldError::new(
            "header",
            "unreadable_header",
            format!("the header row cannot be read as UTF-8 CSV: {error}"),
        )])
    })?;
    let cells: Vec<&str> = record.iter().collect();
    if !found {
        return Err(empty_file());
    }
    parse_header(kind, &cells)
}

/// Reads a header row's cells; every problem is named.
pub(crate) fn parse_header(kind: ImportKind, cells: &[&str]) -> Result<Header, ApiError> {
    if cells.iter().all(|cell| cell.trim().is_empty()) {
        return Err(empty_file());
    }
    match kind {
        ImportKind::Clients => ClientHeader::parse(cells).map(Header::Clients),
        ImportKind::OptOuts => OptOutHeader::parse(cells).map(Header::OptOuts),
    }
    .map_err(header_errors)
}

/// Starts an import of `body`: the job as made, and the task that runs it.
pub async fn start<S, E>(
    state: &AppState,
    kind: ImportKind,
    options: ImportOptions,
    body: S,
    declared: Option<u64>,
    limit: ImportLimit,
) -> Result<(ImportJob, tokio::task::JoinHandle<()>), ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let spool = spool(body, declared, limit.0).await?;
    let path = spool.path.clone();
    let header = tokio::task::spawn_blocking(move || read_header(&path, kind))
        .await
        .map_err(spool_failed)??;
    let new = NewImport {
        kind,
        mode: options.mode,
        dry_run: options.dry_run,
        bytes_total: spool.bytes,
    };
    let job = state.run(move |s| s.create_import(&new)).await?;
    tracing::info!(
        import_id = job.id.0,
        kind = kind.as_str(),
        bytes = spool.bytes,
        "import started"
    );
    let store = state.store.clone();
    let id = job.id;
    let task = tokio::task::spawn_blocking(move || {
        let error = run(&store, id, &spool, header, options).err();
        if let Some(error) = &error {
            tracing::warn!(import_id = id.0, %error, "import failed");
        }
        match store.finish_import(id, error.as_deref()) {
            Ok(()) => tracing::info!(import_id = id.0, "import finished"),
            // Failed meanwhile as stale: nothing more to say.
            Err(StoreError::NotFound(_)) => {}
            Err(error) => tracing::error!(import_id = id.0, %error, "recording an import's end"),
        }
    });
    Ok((job, task))
}

/// A batch read: its rows or their rejections in file order, and the bytes read so far.
struct Batch {
    rows: Vec<Result<Row, RowRejection>>,
    bytes_read: u64,
}

/// Reads the file after its header into batches, sent to `batches`; rejects repeated numbers.
fn read_rows(
    spool_path: PathBuf,
    header: Header,
    batches: std::sync::mpsc::SyncSender<(u64, Batch)>,
) -> Result<(), String> {
    let file = File::open(&spool_path).map_err(|e| format!("reading the file: {e}"))?;
    let mut reader = csv_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut first = true;
    let mut rows = Vec::with_capacity(BATCH_ROWS);
    let mut sequence = 0;
    loop {
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(error) => return Err(format!("the file is not CSV: {error}")),
        };
        if first {
            // The header, read already.
            first = false;
            continue;
        }
        if more {
            let line = record.position().map_or(0, |p| p.line());
            let empty = record.iter().all(<[u8]>::is_empty);
            if !empty {
                rows.push(read_row(&header, line, &record, &mut seen));
            }
        }
        if rows.len() >= BATCH_ROWS || (!more && !rows.is_empty()) {
            let batch = Batch {
                rows: std::mem::replace(&mut rows, Vec::with_capacity(BATCH_ROWS)),
                bytes_read: reader.position().byte(),
            };
            if batches.send((sequence, batch)).is_err() {
                // The writers stopped; they say why.
                return Ok(());
            }
            sequence += 1;
        }
        if !more {
            return Ok(());
        }
    }
}

fn read_row(
    header: &Header,
    line: u64,
    record: &csv::ByteRecord,
    seen: &mut HashMap<u64, u64>,
) -> Result<Row, RowRejection> {
    let mut cells = Vec::with_capacity(record.len());
    for cell in record {
        cells.push(std::str::from_utf8(cell).map_err(|_| RowRejection {
            line,
            column: None,
            reason: "the row is not UTF-8 text".to_owned(),
            value: None,
        })?);
    }
    let row = match header {
        Header::Clients(header) => Row::Client(header.row(line, &cells)?),
        Header::OptOuts(header) => Row::OptOut(header.row(line, &cells)?),
    };
    if let Some(first) = seen.insert(row.phone().as_u64(), line) {
        seen.insert(row.phone().as_u64(), first);
        return Err(RowRejection::new(
            line,
            "phone_number",
            format!("repeats the phone number of line {first}"),
        )
        .with_value(row.phone().as_str()));
    }
    Ok(row)
}

/// Runs an import to its end; `Err` says why it stopped. A reader thread parses the file
/// into numbered batches, as many threads as the store writes batches at once store them
/// (batches of one file never share a phone number, as repeats are rejected when read, so
/// they never wait on each other's rows), and this thread records each
/// batch's counts in file order, so the kept rejections are the file's first ones whatever
/// batch finished first.
fn run(
    store: &Arc<dyn ApiStore>,
    id: ImportId,
    spool: &Spool,
    header: Header,
    options: ImportOptions,
) -> Result<(), String> {
    let (batches, received) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
    let path = spool.path.clone();
    let reader = std::thread::Builder::new()
        .name(format!("import-{id}"))
        .spawn(move || read_rows(path, header, batches))
        .map_err(|e| format!("starting the reader: {e}"))?;
    let received = Arc::new(std::sync::Mutex::new(received));
    let (stored_tx, stored) = std::sync::mpsc::channel::<(u64, Result<Stored, String>)>();
    let concurrent = store.concurrent_import_batches().max(1);
    let mut writers = Vec::with_capacity(concurrent);
    for n in 0..concurrent {
        let (store, batches, stored_tx) = (store.clone(), received.clone(), stored_tx.clone());
        let writer = std::thread::Builder::new()
            .name(format!("import-{id}-writer-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held only to take the next batch.
                    let next = batches.lock().map(|batches| batches.recv());
                    let Ok(Ok((sequence, batch))) = next else {
                        return;
                    };
                    let result = store_batch(&store, batch, options);
                    let failed = result.is_err();
                    if stored_tx.send((sequence, result)).is_err() || failed {
                        return;
                    }
                }
            })
            // Writers started already stop once nothing takes what they stored.
            .map_err(|e| format!("starting a writer: {e}"))?;
        writers.push(writer);
    }
    drop(stored_tx);
    let mut written = Ok(());
    let mut waiting: BTreeMap<u64, Stored> = BTreeMap::new();
    let mut next = 0;
    for (sequence, result) in stored.iter() {
        let stored = match result {
            Ok(stored) => stored,
            Err(error) => {
                written = Err(error);
                break;
            }
        };
        waiting.insert(sequence, stored);
        while let Some(stored) = waiting.remove(&next) {
            if let Err(error) = record_progress(store, id, stored) {
                written = Err(error);
                break;
            }
            next += 1;
        }
        if written.is_err() {
            break;
        }
    }
    // On a failure, the reader and the writers find their channels closed and stop.
    drop(stored);
    drop(received);
    for writer in writers {
        if writer.join().is_err() && written.is_ok() {
            written = Err("a writer stopped unexpectedly".to_owned());
        }
    }
    if written.is_ok() && !waiting.is_empty() {
        written = Err("a batch was stored but an earlier one was not".to_owned());
    }
    let read = reader
        .join()
        .unwrap_or_else(|_| Err("the reader stopped unexpectedly".to_owned()));
    written.and(read)
}

/// A stored batch: its rows' outcomes, and how far into the file it reaches.
struct Stored {
    tally: ImportTally,
    bytes_read: u64,
}

/// Stores (or, in a dry run, classifies) one batch; its rejected rows are counted as such.
fn store_batch(
    store: &Arc<dyn ApiStore>,
    batch: Batch,
    options: ImportOptions,
) -> Result<Stored, String> {
    let bytes_read = batch.bytes_read;
    let rows = batch.rows.len();
    let mut clients = Vec::new();
    let mut opt_outs = Vec::new();
    // The rows are moved to the store, not copied; their rejections wait with their places.
    let mut rejected = Vec::new();
    for (place, row) in batch.rows.into_iter().enumerate() {
        match row {
            Ok(Row::Client(row)) => clients.push(row),
            Ok(Row::OptOut(row)) => opt_outs.push(row),
            Err(rejection) => rejected.push((place, rejection)),
        }
    }
    let mut outcomes = if !clients.is_empty() {
        store
            .import_clients(&clients, options.mode, options.dry_run)
            .map_err(storage_failed)?
    } else if !opt_outs.is_empty() {
        store
            .import_opt_outs(&opt_outs, options.dry_run)
            .map_err(storage_failed)?
    } else {
        Vec::new()
    }
    .into_iter();
    let mut rejected = rejected.into_iter().peekable();
    let mut tally = ImportTally::default();
    for place in 0..rows {
        let outcome = match rejected.next_if(|(at, _)| *at == place) {
            Some((_, rejection)) => RowOutcome::Rejected(rejection),
            None => outcomes
                .next()
                .ok_or("storage answered fewer outcomes than rows")?,
        };
        tally.add(outcome);
    }
    Ok(Stored { tally, bytes_read })
}

fn storage_failed(error: StoreError) -> String {
    format!("storage failed: {error}; importing the file again is safe")
}

/// Adds a stored batch's counts to the job.
fn record_progress(store: &Arc<dyn ApiStore>, id: ImportId, stored: Stored) -> Result<(), String> {
    match store.record_import_progress(id, &stored.tally, stored.bytes_read) {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound(_)) => Err("the job was failed as stale meanwhile".to_owned()),
        Err(error) => Err(storage_failed(error)),
    }
}

/// Fails the jobs whose process stopped before they finished.
pub async fn fail_stale(state: &AppState) -> Result<(), ApiError> {
    fail_stale_in(state.store.clone()).await
}

async fn fail_stale_in(store: Arc<dyn ApiStore>) -> Result<(), ApiError> {
    let cutoff = Utc::now() - STALE_AFTER;
    let failed =
        mailing_runtime::blocking::call(&store, move |s| s.fail_stale_imports(cutoff, STALE_ERROR))
            .await?;
    if failed > 0 {
        tracing::warn!(
            failed,
            "imports left running by a stopped process marked failed"
        );
    }
    Ok(())
}

/// At start, once the database is ready: fails the jobs a stopped process left running.
pub async fn fail_stale_at_start(
    store: Arc<dyn ApiStore>,
    prepared: Arc<crate::prepare::Prepared>,
) {
    prepared.wait().await;
    if let Err(error) = fail_stale_in(store).await {
        tracing::warn!(%error, "looking for imports left running");
    }
}

/// Fails the stale jobs, then reads one.
pub async fn get(state: &AppState, id: ImportId) -> Result<ImportJob, ApiError> {
    fail_stale(state).await?;
    state.run(move |s| s.get_import(id)).await
}

/// Clients read per export query.
const EXPORT_BATCH: u32 = 5000;
/// Batches of an export read ahead of the response.
const EXPORT_AHEAD: usize = 2;

/// The export's columns: the import's, then `attr.<key>` for every key in `keys`.
fn export_header(keys: &BTreeSet<AttributeKey>) -> Vec<String> {
    let mut columns: Vec<String> = CLIENT_COLUMNS.iter().map(|&name| name.to_owned()).collect();
    columns.extend(keys.iter().map(|key| format!("{ATTRIBUTE_PREFIX}{key}")));
    columns
}

fn csv_failed(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("writing CSV: {error}"))
}

/// Writes clients as CSV rows, in the columns of [`export_header`].
fn export_rows(
    clients: &[Client],
    keys: &BTreeSet<AttributeKey>,
    header: Option<&[String]>,
) -> Result<Bytes, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(clients.len() * 64));
    if let Some(header) = header {
        writer.write_record(header).map_err(csv_failed)?;
    }
    let mut tags = String::new();
    for client in clients {
        tags.clear();
        for (index, tag) in client.tags.iter().enumerate() {
            if index > 0 {
                tags.push(TAG_SEPARATOR);
            }
            tags.push_str(tag.as_str());
        }
        writer
            .write_field(client.phone.as_str())
            .and_then(|()| writer.write_field(client.operator_code.as_str()))
            .and_then(|()| writer.write_field(&tags))
            .and_then(|()| writer.write_field(client.time_zone.name()))
            .map_err(csv_failed)?;
        for key in keys {
            let cell = client
                .attributes
                .get(key)
                .map(AttributeValue::to_cell)
                .unwrap_or_default();
            writer.write_field(cell).map_err(csv_failed)?;
        }
        writer.write_record(None::<&[u8]>).map_err(csv_failed)?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|error| csv_failed(error.error()))
}

/// The clients matching `query` as CSV, read in batches by id as the stream is consumed. The
/// header's attribute columns are every key the matching clients have, sorted.
pub async fn export(
    state: actix_web::web::Data<AppState>,
    query: ClientQuery,
) -> Result<impl Stream<Item = Result<Bytes, ApiError>>, ApiError> {
    let query = Arc::new(query);
    let keys = {
        let query = query.clone();
        Arc::new(state.run(move |s| s.client_attribute_keys(&query)).await?)
    };
    let header = export_header(&keys);
    let first = export_rows(&[], &keys, Some(&header))?;
    // Batches are read and written out ahead of the response, up to EXPORT_AHEAD of them, so
    // the database reads the next batch while the last one travels to the client.
    let (ready, batches) = tokio::sync::mpsc::channel::<Result<Bytes, ApiError>>(EXPORT_AHEAD);
    actix_web::rt::spawn(async move {
        let mut after = None;
        loop {
            let batch = {
                let query = query.clone();
                state
                    .run(move |s| s.clients_after(&query, after, EXPORT_BATCH))
                    .await
            };
            let (rows, next) = match batch {
                Ok(clients) => {
                    let next = match clients.last() {
                        Some(last) if clients.len() == EXPORT_BATCH as usize => Some(last.id),
                        _ => None,
                    };
                    (export_rows(&clients, &keys, None), next)
                }
                Err(error) => (Err(error), None),
            };
            let failed = rows.is_err();
            // The client went away: nobody reads further.
            if ready.send(rows).await.is_err() || failed {
                return;
            }
            match next {
                Some(last) => after = Some(last),
                None => return,
            }
        }
    });
    let batches = futures_util::stream::unfold(batches, |mut batches| async move {
        batches.recv().await.map(|batch| (batch, batches))
    });
    Ok(futures_util::stream::once(async move { Ok(first) }).chain(batches))
}
