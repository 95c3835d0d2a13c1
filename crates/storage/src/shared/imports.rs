use super::clients::{ClientRow, filtered, load_tags, tag_filter};
use super::dialect::{
    MAX_BIND_PARAMETERS, StoredAttributes, attributes_json, now, store_attributes,
};
use super::imports_dialect::{
    CONCURRENT_IMPORT_BATCHES, StoredJson, json_of, refresh_statistics, store_json,
};
use super::opt_outs::suppress_waiting;
use super::schema::{client_tags, clients, imports, operators, opt_outs, tags};
use super::tags::ensure_tags;
use super::{Backend, BackendStore, Conn, pipeline};
use crate::columns::{attributes_from_json, bounds, corrupt, total};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::import::{
    ClientChange, ClientFields, ClientImportRow, ImportId, ImportJob, ImportKind, ImportMode,
    ImportStatus, ImportTally, KEPT_REJECTIONS, NewImport, OptOutImportRow, RowOutcome,
    RowRejection,
};
use mailing_domain::store::{
    Client, ClientQuery, Entity, ImportStore, Page, PageRequest, Rejection, StoreError, StoreResult,
};
use mailing_domain::{AttributeKey, ClientId, OptOutSource};
use std::collections::{BTreeSet, HashMap};

#[derive(Queryable, Selectable)]
#[diesel(table_name = imports, check_for_backend(Backend))]
struct ImportRow {
    id: i64,
    kind: String,
    mode: String,
    dry_run: bool,
    status: String,
    bytes_total: Option<i64>,
    bytes_read: i64,
    rows: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    rejected: i64,
    rejections: StoredJson,
    error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl ImportRow {
    fn into_job(self) -> Result<ImportJob, Failure> {
        let id = self.id;
        let bad = |column: &str, value: &str| corrupt("imports", column, id, value);
        let rejections =
            json_of(self.rejections).map_err(|e| corrupt("imports", "rejections", id, e))?;
        let rejections: Vec<RowRejection> = serde_json::from_value(rejections)
            .map_err(|e| corrupt("imports", "rejections", id, e))?;
        Ok(ImportJob {
            id: ImportId(id),
            kind: ImportKind::parse(&self.kind).ok_or_else(|| bad("kind", &self.kind))?,
            mode: ImportMode::parse(&self.mode).ok_or_else(|| bad("mode", &self.mode))?,
            dry_run: self.dry_run,
            status: ImportStatus::parse(&self.status).ok_or_else(|| bad("status", &self.status))?,
            bytes_total: self.bytes_total.map(total),
            bytes_read: total(self.bytes_read),
            tally: ImportTally {
                rows: total(self.rows),
                created: total(self.created),
                updated: total(self.updated),
                unchanged: total(self.unchanged),
                rejected: total(self.rejected),
                rejections,
            },
            error: self.error,
            created_at: self.created_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
        })
    }
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Import);

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The stored clients with these phone numbers, by number.
fn stored_clients(conn: &mut Conn, phones: &[&str]) -> Result<HashMap<String, Client>, Failure> {
    let rows: Vec<ClientRow> = clients::table
        .filter(clients::phone_number.eq_any(phones))
        .select(ClientRow::as_select())
        .load(conn)?;
    records(conn, rows)?
        .into_iter()
        .map(|client| Ok((client.phone.as_str().to_owned(), client)))
        .collect()
}

/// The clients of `rows` with their tags.
fn records(conn: &mut Conn, rows: Vec<ClientRow>) -> Result<Vec<Client>, Failure> {
    let mut clients = rows
        .into_iter()
        .map(|row| row.into_record(Vec::new()))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<i64> = clients.iter().map(|client| client.id.0).collect();
    let mut tags = load_tags(conn, &ids)?;
    for client in &mut clients {
        client.tags = tags.remove(&client.id.0).unwrap_or_default();
    }
    Ok(clients)
}

/// Which of `codes` name an operator.
fn known_operators(conn: &mut Conn, codes: &BTreeSet<&str>) -> Result<BTreeSet<String>, Failure> {
    let codes: Vec<&str> = codes.iter().copied().collect();
    Ok(operators::table
        .filter(operators::code.eq_any(&codes))
        .select(operators::code)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// A client to write, with the id of the stored one for an update.
struct Write<'a> {
    stored: Option<i64>,
    phone: &'a str,
    fields: ClientFields,
    tags_changed: bool,
}

/// Gives every client in `writes` its tags, creating missing ones. The clients whose links
/// `replaced` lists (updated ones whose tags changed) lose their old links first; new clients
/// have none.
fn link_tags(
    conn: &mut Conn,
    writes: &[(i64, &ClientFields)],
    replaced: &[i64],
) -> Result<(), Failure> {
    for chunk in replaced.chunks(MAX_BIND_PARAMETERS / 2) {
        diesel::delete(client_tags::table.filter(client_tags::client_id.eq_any(chunk)))
            .execute(conn)?;
    }
    if writes.is_empty() {
        return Ok(());
    }
    // Sorted, so concurrent writers creating the same new tags take their locks in one order.
    let values: BTreeSet<&str> = writes
        .iter()
        .flat_map(|(_, fields)| fields.tags.iter().map(|tag| tag.as_str()))
        .collect();
    let values: Vec<&str> = values.into_iter().collect();
    let mut tag_ids: HashMap<String, i64> = HashMap::new();
    for chunk in values.chunks(MAX_BIND_PARAMETERS / 2) {
        ensure_tags(conn, chunk)?;
        let found: Vec<(String, i64)> = tags::table
            .filter(tags::value.eq_any(chunk))
            .select((tags::value, tags::id))
            .load(conn)?;
        tag_ids.extend(found);
    }
    let (clients, tags): (Vec<i64>, Vec<i64>) = writes
        .iter()
        .flat_map(|(client, fields)| {
            let tag_ids = &tag_ids;
            fields
                .tags
                .iter()
                .map(move |tag| (*client, tag_ids[tag.as_str()]))
        })
        .unzip();
    pipeline::insert_client_tags(conn, &clients, &tags)?;
    Ok(())
}

/// Writes the created and updated clients of a batch.
fn write_clients(conn: &mut Conn, writes: &[Write<'_>]) -> Result<(), Failure> {
    let mut tagged: Vec<(i64, &ClientFields)> = Vec::new();
    let created: Vec<&Write<'_>> = writes.iter().filter(|w| w.stored.is_none()).collect();
    if !created.is_empty() {
        let phones: Vec<&str> = created.iter().map(|write| write.phone).collect();
        let codes: Vec<&str> = created
            .iter()
            .map(|write| write.fields.operator_code.as_str())
            .collect();
        let zones: Vec<&str> = created
            .iter()
            .map(|write| write.fields.time_zone.name())
            .collect();
        let attributes: Vec<StoredAttributes> = created
            .iter()
            .map(|write| store_attributes(&write.fields.attributes))
            .collect();
        let ids = pipeline::insert_imported_clients(conn, &phones, &codes, &zones, &attributes)?;
        let by_phone: HashMap<String, i64> =
            ids.into_iter().map(|(id, phone)| (phone, id)).collect();
        tagged.extend(
            created
                .iter()
                .filter(|write| !write.fields.tags.is_empty())
                .map(|write| (by_phone[write.phone], &write.fields)),
        );
    }
    let updated: Vec<(i64, &Write<'_>)> = writes
        .iter()
        .filter_map(|write| write.stored.map(|id| (id, write)))
        .collect();
    let mut replaced = Vec::new();
    if !updated.is_empty() {
        let ids: Vec<i64> = updated.iter().map(|(id, _)| *id).collect();
        let codes: Vec<&str> = updated
            .iter()
            .map(|(_, write)| write.fields.operator_code.as_str())
            .collect();
        let zones: Vec<&str> = updated
            .iter()
            .map(|(_, write)| write.fields.time_zone.name())
            .collect();
        let attributes: Vec<StoredAttributes> = updated
            .iter()
            .map(|(_, write)| store_attributes(&write.fields.attributes))
            .collect();
        pipeline::update_imported_clients(conn, &ids, &codes, &zones, &attributes)?;
        for (id, write) in updated.iter().filter(|(_, write)| write.tags_changed) {
            replaced.push(*id);
            tagged.push((*id, &write.fields));
        }
    }
    link_tags(conn, &tagged, &replaced)
}

impl ImportStore for BackendStore {
    fn concurrent_import_batches(&self) -> usize {
        CONCURRENT_IMPORT_BATCHES
    }

    #[tracing::instrument(skip_all, fields(import_id = tracing::field::Empty))]
    fn create_import(&self, new: &NewImport) -> StoreResult<ImportJob> {
        self.write(|conn| {
            let row: ImportRow = diesel::insert_into(imports::table)
                .values((
                    imports::kind.eq(new.kind.as_str()),
                    imports::mode.eq(new.mode.as_str()),
                    imports::dry_run.eq(new.dry_run),
                    imports::bytes_total.eq(count(new.bytes_total)),
                    imports::rejections.eq(store_json(&serde_json::json!([]))),
                    imports::created_at.eq(now()),
                    imports::updated_at.eq(now()),
                ))
                .returning(ImportRow::as_returning())
                .get_result(conn)?;
            tracing::Span::current().record("import_id", row.id);
            row.into_job()
        })
    }

    fn get_import(&self, id: ImportId) -> StoreResult<ImportJob> {
        self.read(|conn| {
            imports::table
                .find(id.0)
                .select(ImportRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_job()
        })
    }

    fn list_imports(&self, kind: ImportKind, page: PageRequest) -> StoreResult<Page<ImportJob>> {
        let (offset, limit) = bounds(page);
        let of_kind = || imports::table.filter(imports::kind.eq(kind.as_str()));
        self.read(|conn| {
            let count: i64 = of_kind().count().get_result(conn)?;
            let items = of_kind()
                .select(ImportRow::as_select())
                .order(imports::id.desc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(ImportRow::into_job)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    #[tracing::instrument(skip_all, fields(import_id = id.0))]
    fn record_import_progress(
        &self,
        id: ImportId,
        batch: &ImportTally,
        bytes_read: u64,
    ) -> StoreResult<()> {
        self.write(|conn| {
            let running = imports::table
                .find(id.0)
                .filter(imports::status.eq(ImportStatus::Running.as_str()));
            let stored: Option<StoredJson> =
                running.select(imports::rejections).first(conn).optional()?;
            let stored = stored.ok_or(Failure::Store(NOT_FOUND))?;
            let mut rejections =
                match json_of(stored).map_err(|e| corrupt("imports", "rejections", id.0, e))? {
                    serde_json::Value::Array(kept) => kept,
                    other => return Err(corrupt("imports", "rejections", id.0, other)),
                };
            let room = KEPT_REJECTIONS.saturating_sub(rejections.len());
            rejections.extend(
                batch
                    .rejections
                    .iter()
                    .take(room)
                    .map(|rejection| serde_json::json!(rejection)),
            );
            diesel::update(running)
                .set((
                    imports::rows.eq(imports::rows + count(batch.rows)),
                    imports::created.eq(imports::created + count(batch.created)),
                    imports::updated.eq(imports::updated + count(batch.updated)),
                    imports::unchanged.eq(imports::unchanged + count(batch.unchanged)),
                    imports::rejected.eq(imports::rejected + count(batch.rejected)),
                    imports::rejections.eq(store_json(&serde_json::Value::Array(rejections))),
                    imports::bytes_read.eq(count(bytes_read)),
                    imports::updated_at.eq(now()),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    #[tracing::instrument(skip_all, fields(import_id = id.0))]
    fn finish_import(&self, id: ImportId, error: Option<&str>) -> StoreResult<()> {
        let status = match error {
            None => ImportStatus::Done,
            Some(_) => ImportStatus::Failed,
        };
        if status == ImportStatus::Done {
            // Before the job says done: whoever waits for it queries the new rows next.
            self.refresh_statistics_after(id);
        }
        self.write(|conn| {
            let finished = diesel::update(
                imports::table
                    .find(id.0)
                    .filter(imports::status.eq(ImportStatus::Running.as_str())),
            )
            .set((
                imports::status.eq(status.as_str()),
                imports::error.eq(error),
                imports::finished_at.eq(now()),
                imports::updated_at.eq(now()),
            ))
            .execute(conn)?;
            if finished == 0 {
                return Err(Failure::Store(NOT_FOUND));
            }
            Ok(())
        })
    }

    fn fail_stale_imports(&self, cutoff: DateTime<Utc>, error: &str) -> StoreResult<u64> {
        self.write(|conn| {
            let failed = diesel::update(
                imports::table
                    .filter(imports::status.eq(ImportStatus::Running.as_str()))
                    .filter(imports::updated_at.lt(cutoff)),
            )
            .set((
                imports::status.eq(ImportStatus::Failed.as_str()),
                imports::error.eq(error),
                imports::finished_at.eq(now()),
                imports::updated_at.eq(now()),
            ))
            .execute(conn)?;
            Ok(failed as u64)
        })
    }

    #[tracing::instrument(skip_all, fields(rows = rows.len(), dry_run))]
    fn import_clients(
        &self,
        rows: &[ClientImportRow],
        mode: ImportMode,
        dry_run: bool,
    ) -> StoreResult<Vec<RowOutcome>> {
        let attempt = || self.write(|conn| import_batch(conn, rows, mode, dry_run));
        match attempt() {
            // A client with one of these numbers was created (by the API, or another import)
            // after the batch read the stored ones. Read again, that row is now an update or
            // unchanged; whatever was created meanwhile is seen this time.
            Err(StoreError::Rejected(Rejection::DuplicatePhone)) => attempt(),
            outcome => outcome,
        }
    }

    #[tracing::instrument(skip_all, fields(rows = rows.len(), dry_run))]
    fn import_opt_outs(
        &self,
        rows: &[OptOutImportRow],
        dry_run: bool,
    ) -> StoreResult<Vec<RowOutcome>> {
        self.write(|conn| {
            let phones: Vec<&str> = rows.iter().map(|row| row.phone.as_str()).collect();
            let mut present: BTreeSet<String> = BTreeSet::new();
            for chunk in phones.chunks(MAX_BIND_PARAMETERS) {
                present.extend(
                    opt_outs::table
                        .filter(opt_outs::phone_number.eq_any(chunk))
                        .select(opt_outs::phone_number)
                        .load::<String>(conn)?,
                );
            }
            let new: Vec<&OptOutImportRow> = rows
                .iter()
                .filter(|row| !present.contains(row.phone.as_str()))
                .collect();
            if !dry_run && !new.is_empty() {
                // Four bind parameters a row.
                for chunk in new.chunks(MAX_BIND_PARAMETERS / 4) {
                    let values: Vec<_> = chunk
                        .iter()
                        .map(|row| {
                            (
                                opt_outs::phone_number.eq(row.phone.as_str()),
                                opt_outs::source.eq(OptOutSource::Import.as_str()),
                                opt_outs::reason.eq(row.reason.as_deref()),
                                opt_outs::created_at.eq(now()),
                            )
                        })
                        .collect();
                    diesel::insert_into(opt_outs::table)
                        .values(&values)
                        .on_conflict(opt_outs::phone_number)
                        .do_nothing()
                        .execute(conn)?;
                    let numbers: Vec<&str> = chunk.iter().map(|row| row.phone.as_str()).collect();
                    suppress_waiting(conn, &numbers)?;
                }
            }
            Ok(rows
                .iter()
                .map(|row| match present.contains(row.phone.as_str()) {
                    true => RowOutcome::Unchanged,
                    false => RowOutcome::Created,
                })
                .collect())
        })
    }

    fn clients_after(
        &self,
        query: &ClientQuery,
        after: Option<ClientId>,
        limit: u32,
    ) -> StoreResult<Vec<Client>> {
        self.read(|conn| {
            let tag = tag_filter(conn, query)?;
            let rows: Vec<ClientRow> = filtered(query, tag, None)
                .filter(clients::id.gt(after.map_or(0, |id| id.0)))
                .select(ClientRow::as_select())
                .order(clients::id.asc())
                .limit(i64::from(limit))
                .load(conn)?;
            records(conn, rows)
        })
    }

    fn client_attribute_keys(&self, query: &ClientQuery) -> StoreResult<BTreeSet<AttributeKey>> {
        // In keyset batches on one snapshot, so no batch holds more than a bounded share.
        const KEYS_BATCH: i64 = 20_000;
        self.read(|conn| {
            let mut keys = BTreeSet::new();
            let mut after = 0;
            let tag = tag_filter(conn, query)?;
            loop {
                let rows: Vec<(i64, StoredAttributes)> = filtered(query, tag, None)
                    .filter(clients::id.gt(after))
                    .select((clients::id, clients::attributes))
                    .order(clients::id.asc())
                    .limit(KEYS_BATCH)
                    .load(conn)?;
                let Some(&(last, _)) = rows.last() else {
                    return Ok(keys);
                };
                after = last;
                for (id, stored) in rows {
                    let attributes =
                        attributes_from_json("clients", "attributes", id, attributes_json(stored))?;
                    keys.extend(attributes.into_entries().into_keys());
                }
            }
        })
    }
}

impl BackendStore {
    /// Refreshes the planner's statistics of the tables import `id` wrote to, as far as it
    /// wrote. Best effort: stale statistics only slow queries down, so a failure is logged and
    /// the import still finishes.
    fn refresh_statistics_after(&self, id: ImportId) {
        let refreshed = self.write(|conn| {
            // Not the whole job: its rejections can be a thousand entries long.
            let (kind, dry_run, created, updated): (String, bool, i64, i64) = imports::table
                .find(id.0)
                .select((
                    imports::kind,
                    imports::dry_run,
                    imports::created,
                    imports::updated,
                ))
                .first(conn)?;
            if dry_run {
                return Ok(());
            }
            let written = u64::try_from(created + updated).unwrap_or(0);
            let tables: &[&str] = match ImportKind::parse(&kind) {
                Some(ImportKind::Clients) => &["clients", "client_tags", "tags"],
                Some(ImportKind::OptOuts) => &["opt_outs"],
                None => return Ok(()),
            };
            refresh_statistics(conn, tables, written)?;
            Ok(())
        });
        if let Err(error) = refreshed {
            tracing::warn!(import_id = id.0, %error, "cannot refresh the statistics after an import");
        }
    }
}

/// Classifies and (unless `dry_run`) writes one batch of imported clients, in one transaction.
fn import_batch(
    conn: &mut Conn,
    rows: &[ClientImportRow],
    mode: ImportMode,
    dry_run: bool,
) -> Result<Vec<RowOutcome>, Failure> {
    let phones: Vec<&str> = rows.iter().map(|row| row.phone.as_str()).collect();
    let mut stored = HashMap::new();
    for chunk in phones.chunks(MAX_BIND_PARAMETERS) {
        stored.extend(stored_clients(conn, chunk)?);
    }
    let codes: BTreeSet<&str> = rows
        .iter()
        .filter_map(|row| row.operator_code.as_ref().map(|code| code.as_str()))
        .collect();
    let operators = known_operators(conn, &codes)?;
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut writes = Vec::new();
    for row in rows {
        let client = stored.get(row.phone.as_str());
        let fields = client.map(|client: &Client| ClientFields {
            operator_code: client.operator_code.clone(),
            tags: client.tags.clone(),
            time_zone: client.time_zone,
            attributes: client.attributes.clone(),
        });
        let change =
            row.change(fields.as_ref(), mode)
                .and_then(|change| match &row.operator_code {
                    Some(code) if !operators.contains(code.as_str()) => Err(RowRejection::new(
                        row.line,
                        "operator_code",
                        "no operator has this code",
                    )
                    .with_value(code.as_str())),
                    _ => Ok(change),
                });
        let outcome = match change {
            Err(rejection) => RowOutcome::Rejected(rejection),
            Ok(ClientChange::Unchanged) => RowOutcome::Unchanged,
            Ok(ClientChange::Create(new)) => {
                writes.push(Write {
                    stored: None,
                    phone: row.phone.as_str(),
                    fields: new,
                    tags_changed: true,
                });
                RowOutcome::Created
            }
            Ok(ClientChange::Update(merged)) => {
                let before = fields.as_ref().expect("an update has a stored client");
                writes.push(Write {
                    stored: client.map(|client| client.id.0),
                    phone: row.phone.as_str(),
                    tags_changed: merged.tags != before.tags,
                    fields: merged,
                });
                RowOutcome::Updated
            }
        };
        outcomes.push(outcome);
    }
    if !dry_run {
        write_clients(conn, &writes)?;
    }
    Ok(outcomes)
}
