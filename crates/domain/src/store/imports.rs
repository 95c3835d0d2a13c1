//! CSV import jobs and the batched writes they make.

use crate::attributes::AttributeKey;
use crate::ids::ClientId;
use crate::import::{
    ClientImportRow, ImportId, ImportJob, ImportKind, ImportMode, ImportTally, NewImport,
    OptOutImportRow, RowOutcome,
};
use crate::store::{ClientQuery, Page, PageRequest, StoreResult, records::Client};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Import jobs, the batches they write and the export's reads.
pub trait ImportStore {
    /// How many batches of one import may be written at once, each in its own transaction:
    /// more than one only where the database takes concurrent writers.
    fn concurrent_import_batches(&self) -> usize;
    fn create_import(&self, new: &NewImport) -> StoreResult<ImportJob>;
    fn get_import(&self, id: ImportId) -> StoreResult<ImportJob>;
    /// The jobs of one kind, newest first.
    fn list_imports(&self, kind: ImportKind, page: PageRequest) -> StoreResult<Page<ImportJob>>;
    /// Adds a batch's counts (and its rejections, up to the kept number) to a running job and
    /// records how far the file was read.
    fn record_import_progress(
        &self,
        id: ImportId,
        batch: &ImportTally,
        bytes_read: u64,
    ) -> StoreResult<()>;
    /// Ends a running job: done, or failed with `error`.
    fn finish_import(&self, id: ImportId, error: Option<&str>) -> StoreResult<()>;
    /// Fails the running jobs whose progress was last recorded before `cutoff` (their process
    /// stopped); returns how many.
    fn fail_stale_imports(&self, cutoff: DateTime<Utc>, error: &str) -> StoreResult<u64>;
    /// Applies client rows (distinct phone numbers) in one transaction, creating missing tags;
    /// a dry run decides the same outcomes and writes nothing. One outcome per row, in order.
    fn import_clients(
        &self,
        rows: &[ClientImportRow],
        mode: ImportMode,
        dry_run: bool,
    ) -> StoreResult<Vec<RowOutcome>>;
    /// Opts the rows' numbers (distinct) out with source `import`, and suppresses their
    /// waiting messages, in one transaction; a number already opted out is unchanged.
    fn import_opt_outs(
        &self,
        rows: &[OptOutImportRow],
        dry_run: bool,
    ) -> StoreResult<Vec<RowOutcome>>;
    /// Up to `limit` clients matching `query` with ids above `after`, by id: the export's
    /// keyset batches.
    fn clients_after(
        &self,
        query: &ClientQuery,
        after: Option<ClientId>,
        limit: u32,
    ) -> StoreResult<Vec<Client>>;
    /// Every attribute key some client matching `query` has: the export's columns.
    fn client_attribute_keys(&self, query: &ClientQuery) -> StoreResult<BTreeSet<AttributeKey>>;
}
