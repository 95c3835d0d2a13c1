use super::{PgStore, bounds, corrupt, total};
use crate::errors::Failure;
use crate::schema::{client_filters, mailings};
use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use mailing_domain::store::{
    ClientFilterStore, Entity, NewSavedFilter, Page, PageRequest, SavedFilter, SavedFilterPatch,
    StoreError, StoreResult,
};
use mailing_domain::{ClientFilter, ClientFilterId, OperatorCode, TagValue};

#[derive(Queryable, Selectable)]
#[diesel(table_name = client_filters, check_for_backend(diesel::pg::Pg))]
struct ClientFilterRow {
    id: i64,
    name: Option<String>,
    operator_codes: Vec<String>,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ClientFilterRow {
    fn into_record(self) -> Result<SavedFilter, Failure> {
        Ok(SavedFilter {
            id: ClientFilterId(self.id),
            filter: filter_from_columns(
                "client_filters",
                ("operator_codes", &self.operator_codes),
                ("tags", &self.tags),
                self.id,
            )?,
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Rebuilds a filter from its two array columns, which `client_filters` and `mailings` share
/// under different names.
pub(crate) fn filter_from_columns(
    table: &str,
    (codes_column, codes): (&str, &[String]),
    (tags_column, tags): (&str, &[String]),
    id: i64,
) -> Result<ClientFilter, Failure> {
    let codes = codes
        .iter()
        .map(|code| OperatorCode::parse(code).map_err(|e| corrupt(table, codes_column, id, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = tags
        .iter()
        .map(|tag| TagValue::parse(tag).map_err(|e| corrupt(table, tags_column, id, e)))
        .collect::<Result<Vec<_>, _>>()?;
    ClientFilter::new(codes, tags).map_err(|e| corrupt(table, "filter", id, e))
}

/// A filter's lists as the array columns store them, in the filter's (sorted) order.
pub(crate) fn filter_columns(filter: &ClientFilter) -> (Vec<&str>, Vec<&str>) {
    (
        filter.operator_codes().map(OperatorCode::as_str).collect(),
        filter.tags().map(TagValue::as_str).collect(),
    )
}

/// A saved filter's content, for a mailing to copy; `None` if it does not exist.
///
/// Read `FOR SHARE`, so the filter cannot change or vanish before the mailing that copies it
/// commits.
pub(super) fn find_filter(
    conn: &mut PgConnection,
    id: ClientFilterId,
) -> Result<Option<ClientFilter>, Failure> {
    client_filters::table
        .find(id.0)
        .select(ClientFilterRow::as_select())
        .for_share()
        .first(conn)
        .optional()?
        .map(|row| row.into_record().map(|saved| saved.filter))
        .transpose()
}

#[derive(Insertable)]
#[diesel(table_name = client_filters)]
struct NewClientFilterRow<'a> {
    name: Option<&'a str>,
    operator_codes: Vec<&'a str>,
    tags: Vec<&'a str>,
}

#[derive(AsChangeset)]
#[diesel(table_name = client_filters)]
struct ClientFilterChanges<'a> {
    name: Option<Option<&'a str>>,
    operator_codes: Option<Vec<&'a str>>,
    tags: Option<Vec<&'a str>>,
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::ClientFilter);

impl ClientFilterStore for PgStore {
    fn create_client_filter(&self, new: &NewSavedFilter) -> StoreResult<SavedFilter> {
        self.write(|conn| {
            let (operator_codes, tags) = filter_columns(&new.filter);
            diesel::insert_into(client_filters::table)
                .values(NewClientFilterRow {
                    name: new.name.as_deref(),
                    operator_codes,
                    tags,
                })
                .returning(ClientFilterRow::as_returning())
                .get_result(conn)?
                .into_record()
        })
    }

    fn get_client_filter(&self, id: ClientFilterId) -> StoreResult<SavedFilter> {
        self.read(|conn| {
            client_filters::table
                .find(id.0)
                .select(ClientFilterRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn list_client_filters(&self, page: PageRequest) -> StoreResult<Page<SavedFilter>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = client_filters::table.count().get_result(conn)?;
            let items = client_filters::table
                .select(ClientFilterRow::as_select())
                .order(client_filters::id.asc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
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
                    let (codes, tags) = filter_columns(filter);
                    (Some(codes), Some(tags))
                }
                None => (None, None),
            };
            let changes = ClientFilterChanges {
                name: patch.name.as_ref().map(Option::as_deref),
                operator_codes,
                tags,
            };
            diesel::update(client_filters::table.find(id.0))
                .set((changes, client_filters::updated_at.eq(now)))
                .returning(ClientFilterRow::as_returning())
                .get_result(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn delete_client_filter(&self, id: ClientFilterId) -> StoreResult<()> {
        self.write(|conn| {
            // The mailings that copied it lose their link (ON DELETE SET NULL) and keep the
            // copy; they changed, so they say so.
            diesel::update(mailings::table.filter(mailings::client_filter_id.eq(id.0)))
                .set(mailings::updated_at.eq(now))
                .execute(conn)?;
            let deleted = diesel::delete(client_filters::table.find(id.0)).execute(conn)?;
            if deleted == 0 {
                return Err(NOT_FOUND.into());
            }
            Ok(())
        })
    }
}
