//! Clients and saved client filters on SQLite: the PostgreSQL modules' statements on this
//! backend's schema, with the filter lists as JSON text.

use super::SqliteStore;
use super::messages::{Owner, cancel_unsent};
use super::schema::{client_filters, client_tags, clients, mailings, tags};
use super::simple::{db_now, ensure_tags};
use crate::errors::{Failure, OPERATOR_REFERENCE, refusing};
use crate::pg::client_filters::{filter_columns, filter_from_columns};
use crate::pg::clients::{ClientRow, starts_with};
use crate::pg::{bounds, corrupt, total};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};
use mailing_domain::store::{
    Client, ClientFilterStore, ClientPatch, ClientQuery, ClientStore, Entity, NewClient,
    NewSavedFilter, Page, PageRequest, Rejection, SavedFilter, SavedFilterPatch, StoreError,
    StoreResult,
};
use mailing_domain::{
    ClientFilter, ClientFilterId, ClientId, OperatorCode, PhoneNumber, TagValue, TimeZone,
};
use std::collections::{BTreeSet, HashMap};

const CLIENT_NOT_FOUND: StoreError = StoreError::NotFound(Entity::Client);
const FILTER_NOT_FOUND: StoreError = StoreError::NotFound(Entity::ClientFilter);

/// A list as the JSON text columns hold it.
pub(crate) fn to_json(values: &[&str]) -> String {
    serde_json::to_string(values).expect("a list of strings serialises")
}

/// A JSON text column back as a list; anything else is a corrupt row.
pub(crate) fn from_json(
    table: &str,
    column: &str,
    id: i64,
    raw: &str,
) -> Result<Vec<String>, Failure> {
    serde_json::from_str(raw).map_err(|e| corrupt(table, column, id, e))
}

/// The tags of several clients in one query, each client's sorted by value (byte order, as
/// the domain's `TagValue` compares, not the database's collation).
fn load_tags(
    conn: &mut SqliteConnection,
    client_ids: &[i64],
) -> Result<HashMap<i64, Vec<TagValue>>, Failure> {
    let rows: Vec<(i64, i64, String)> = client_tags::table
        .inner_join(tags::table)
        .filter(client_tags::client_id.eq_any(client_ids))
        .select((client_tags::client_id, tags::id, tags::value))
        .load(conn)?;
    let mut by_client: HashMap<i64, Vec<TagValue>> = HashMap::new();
    for (client, tag, value) in rows {
        let value = TagValue::parse(&value).map_err(|e| corrupt("tags", "value", tag, e))?;
        by_client.entry(client).or_default().push(value);
    }
    for values in by_client.values_mut() {
        values.sort();
    }
    Ok(by_client)
}

/// Gives a client exactly `values` as its tags, creating missing tags; returns them sorted.
fn replace_tags(
    conn: &mut SqliteConnection,
    client: i64,
    values: &[TagValue],
) -> Result<Vec<TagValue>, Failure> {
    diesel::delete(client_tags::table.filter(client_tags::client_id.eq(client))).execute(conn)?;
    let values: BTreeSet<&TagValue> = values.iter().collect();
    let names: Vec<&str> = values.iter().map(|value| value.as_str()).collect();
    let links: Vec<_> = ensure_tags(conn, &names)?
        .into_iter()
        .map(|tag_id| {
            (
                client_tags::client_id.eq(client),
                client_tags::tag_id.eq(tag_id),
            )
        })
        .collect();
    if !links.is_empty() {
        diesel::insert_into(client_tags::table)
            .values(&links)
            .execute(conn)?;
    }
    Ok(values.into_iter().cloned().collect())
}

/// `query`'s conditions on the clients table, for both the page and its total.
fn filtered(query: &ClientQuery) -> clients::BoxedQuery<'_, Sqlite> {
    let mut selected = clients::table.into_boxed();
    if let Some(code) = &query.operator_code {
        selected = selected.filter(clients::operator_code.eq(code.as_str()));
    }
    if let Some(tag) = &query.tag {
        let carriers = client_tags::table
            .inner_join(tags::table)
            .filter(tags::value.eq(tag.as_str()))
            .select(client_tags::client_id);
        selected = selected.filter(clients::id.eq_any(carriers));
    }
    if let Some(prefix) = &query.phone_prefix {
        // SQLite's LIKE has no escape character unless one is named.
        selected = selected.filter(clients::phone_number.like(starts_with(prefix)).escape('\\'));
    }
    selected
}

impl ClientStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(client_id = tracing::field::Empty))]
    fn create_client(&self, new: &NewClient) -> StoreResult<Client> {
        self.write(|conn| {
            let row: ClientRow = diesel::insert_into(clients::table)
                .values((
                    clients::phone_number.eq(new.phone.as_str()),
                    clients::operator_code.eq(new.operator_code.as_str()),
                    clients::time_zone.eq(new.time_zone.name()),
                    clients::created_at.eq(db_now()),
                    clients::updated_at.eq(db_now()),
                ))
                .returning(clients::all_columns)
                .get_result(conn)
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::UnknownOperator))?;
            tracing::Span::current().record("client_id", row.id);
            let tags = replace_tags(conn, row.id, &new.tags)?;
            row.into_record(tags)
        })
    }

    #[tracing::instrument(skip_all, fields(client_id = %id))]
    fn get_client(&self, id: ClientId) -> StoreResult<Client> {
        self.read(|conn| {
            let row: ClientRow = clients::table
                .find(id.0)
                .select(clients::all_columns)
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(CLIENT_NOT_FOUND))?;
            let tags = load_tags(conn, &[row.id])?.remove(&row.id);
            row.into_record(tags.unwrap_or_default())
        })
    }

    fn list_clients(&self, query: &ClientQuery, page: PageRequest) -> StoreResult<Page<Client>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = filtered(query).count().get_result(conn)?;
            let rows: Vec<ClientRow> = filtered(query)
                .select(clients::all_columns)
                .order(clients::id.asc())
                .offset(offset)
                .limit(limit)
                .load(conn)?;
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            let mut tags = load_tags(conn, &ids)?;
            let items = rows
                .into_iter()
                .map(|row| {
                    let own = tags.remove(&row.id).unwrap_or_default();
                    row.into_record(own)
                })
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    #[tracing::instrument(skip_all, fields(client_id = %id))]
    fn update_client(&self, id: ClientId, patch: &ClientPatch) -> StoreResult<Client> {
        self.write(|conn| {
            let phone = patch.phone.as_ref().map(PhoneNumber::as_str);
            let code = patch.operator_code.as_ref().map(OperatorCode::as_str);
            let zone = patch.time_zone.as_ref().map(TimeZone::name);
            let row: ClientRow = diesel::update(clients::table.find(id.0))
                .set((
                    phone.map(|phone| clients::phone_number.eq(phone)),
                    code.map(|code| clients::operator_code.eq(code)),
                    zone.map(|zone| clients::time_zone.eq(zone)),
                    clients::updated_at.eq(db_now()),
                ))
                .returning(clients::all_columns)
                .get_result(conn)
                .optional()
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::UnknownOperator))?
                .ok_or(Failure::Store(CLIENT_NOT_FOUND))?;
            let tags = match &patch.tags {
                Some(values) => replace_tags(conn, row.id, values)?,
                None => load_tags(conn, &[row.id])?
                    .remove(&row.id)
                    .unwrap_or_default(),
            };
            row.into_record(tags)
        })
    }

    #[tracing::instrument(skip_all, fields(client_id = %id))]
    fn delete_client(&self, id: ClientId) -> StoreResult<()> {
        // The IMMEDIATE transaction holds the write lock throughout, so no message for this
        // client can be inserted between the cancellation and the delete.
        self.write(|conn| {
            clients::table
                .find(id.0)
                .select(clients::id)
                .first::<i64>(conn)
                .optional()?
                .ok_or(Failure::Store(CLIENT_NOT_FOUND))?;
            cancel_unsent(conn, Owner::Client(id.0))?;
            // Its tag links go with it; its messages stay with client_id set to NULL.
            diesel::delete(clients::table.find(id.0)).execute(conn)?;
            Ok(())
        })
    }
}

#[derive(Queryable)]
struct ClientFilterRow {
    id: i64,
    name: Option<String>,
    operator_codes: String,
    tags: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ClientFilterRow {
    fn into_record(self) -> Result<SavedFilter, Failure> {
        let codes = from_json(
            "client_filters",
            "operator_codes",
            self.id,
            &self.operator_codes,
        )?;
        let tags = from_json("client_filters", "tags", self.id, &self.tags)?;
        Ok(SavedFilter {
            id: ClientFilterId(self.id),
            filter: filter_from_columns(
                "client_filters",
                ("operator_codes", &codes),
                ("tags", &tags),
                self.id,
            )?,
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A filter's two lists as the JSON columns store them.
pub(crate) fn filter_json(filter: &ClientFilter) -> (String, String) {
    let (codes, tags) = filter_columns(filter);
    (to_json(&codes), to_json(&tags))
}

/// A saved filter's content, for a mailing to copy; `None` if it does not exist. The caller's
/// IMMEDIATE transaction keeps it from changing before the mailing commits.
pub(crate) fn find_filter(
    conn: &mut SqliteConnection,
    id: ClientFilterId,
) -> Result<Option<ClientFilter>, Failure> {
    client_filters::table
        .find(id.0)
        .select(client_filters::all_columns)
        .first::<ClientFilterRow>(conn)
        .optional()?
        .map(|row| row.into_record().map(|saved| saved.filter))
        .transpose()
}

impl ClientFilterStore for SqliteStore {
    fn create_client_filter(&self, new: &NewSavedFilter) -> StoreResult<SavedFilter> {
        self.write(|conn| {
            let (operator_codes, tags) = filter_json(&new.filter);
            diesel::insert_into(client_filters::table)
                .values((
                    client_filters::name.eq(new.name.as_deref()),
                    client_filters::operator_codes.eq(operator_codes),
                    client_filters::tags.eq(tags),
                    client_filters::created_at.eq(db_now()),
                    client_filters::updated_at.eq(db_now()),
                ))
                .returning(client_filters::all_columns)
                .get_result::<ClientFilterRow>(conn)?
                .into_record()
        })
    }

    fn get_client_filter(&self, id: ClientFilterId) -> StoreResult<SavedFilter> {
        self.read(|conn| {
            client_filters::table
                .find(id.0)
                .select(client_filters::all_columns)
                .first::<ClientFilterRow>(conn)
                .optional()?
                .ok_or(Failure::Store(FILTER_NOT_FOUND))?
                .into_record()
        })
    }

    fn list_client_filters(&self, page: PageRequest) -> StoreResult<Page<SavedFilter>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = client_filters::table.count().get_result(conn)?;
            let items = client_filters::table
                .select(client_filters::all_columns)
                .order(client_filters::id.asc())
                .offset(offset)
                .limit(limit)
                .load::<ClientFilterRow>(conn)?
                .into_iter()
                .map(ClientFilterRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    fn update_client_filter(
        &self,
        id: ClientFilterId,
        patch: &SavedFilterPatch,
    ) -> StoreResult<SavedFilter> {
        self.write(|conn| {
            let (operator_codes, tags) = match &patch.filter {
                Some(filter) => {
                    let (codes, tags) = filter_json(filter);
                    (Some(codes), Some(tags))
                }
                None => (None, None),
            };
            let name = patch.name.as_ref().map(Option::as_deref);
            diesel::update(client_filters::table.find(id.0))
                .set((
                    name.map(|name| client_filters::name.eq(name)),
                    operator_codes.map(|codes| client_filters::operator_codes.eq(codes)),
                    tags.map(|tags| client_filters::tags.eq(tags)),
                    client_filters::updated_at.eq(db_now()),
                ))
                .returning(client_filters::all_columns)
                .get_result::<ClientFilterRow>(conn)
                .optional()?
                .ok_or(Failure::Store(FILTER_NOT_FOUND))?
                .into_record()
        })
    }

    fn delete_client_filter(&self, id: ClientFilterId) -> StoreResult<()> {
        self.write(|conn| {
            // The mailings that copied it lose their link (ON DELETE SET NULL) and keep the
            // copy; they changed, so they say so.
            diesel::update(mailings::table.filter(mailings::client_filter_id.eq(id.0)))
                .set(mailings::updated_at.eq(db_now()))
                .execute(conn)?;
            let deleted = diesel::delete(client_filters::table.find(id.0)).execute(conn)?;
            if deleted == 0 {
                return Err(FILTER_NOT_FOUND.into());
            }
            Ok(())
        })
    }
}
