use super::dialect::{
    self, StoredAttributes, StoredList, attributes_json, now, read_list, store_attributes,
    store_filter,
};
use super::schema::{client_filters, mailings};
use super::{Backend, BackendStore, Conn};
use crate::columns::{attributes_from_json, bounds, corrupt, filter_from_lists, total};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    ClientFilterStore, Entity, NewSavedFilter, Page, PageRequest, SavedFilter, SavedFilterPatch,
    StoreError, StoreResult,
};
use mailing_domain::{ClientFilter, ClientFilterId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = client_filters, check_for_backend(Backend))]
struct ClientFilterRow {
    id: i64,
    name: Option<String>,
    operator_codes: StoredList,
    tags: StoredList,
    attributes: StoredAttributes,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ClientFilterRow {
    fn into_record(self) -> Result<SavedFilter, Failure> {
        let id = self.id;
        let list = |column, stored| {
            read_list(stored).map_err(|e| corrupt("client_filters", column, id, e))
        };
        Ok(SavedFilter {
            id: ClientFilterId(id),
            filter: filter_from_lists(
                "client_filters",
                (
                    "operator_codes",
                    list("operator_codes", self.operator_codes)?,
                ),
                ("tags", list("tags", self.tags)?),
                id,
            )?
            .with_attributes(attributes_from_json(
                "client_filters",
                "attributes",
                id,
                attributes_json(self.attributes),
            )?),
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A saved filter's content, for a mailing to copy; `None` if it does not exist.
///
/// Read `FOR SHARE`, so the filter cannot change or vanish before the mailing that copies it
/// commits.
pub(super) fn find_filter(
    conn: &mut Conn,
    id: ClientFilterId,
) -> Result<Option<ClientFilter>, Failure> {
    dialect::for_share!(
        client_filters::table
            .find(id.0)
            .select(ClientFilterRow::as_select())
    )
    .first(conn)
    .optional()?
    .map(|row| row.into_record().map(|saved| saved.filter))
    .transpose()
}

#[derive(AsChangeset)]
#[diesel(table_name = client_filters)]
struct ClientFilterChanges<'a> {
    name: Option<Option<&'a str>>,
    operator_codes: Option<StoredList>,
    tags: Option<StoredList>,
    attributes: Option<StoredAttributes>,
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::ClientFilter);

impl ClientFilterStore for BackendStore {
    fn create_client_filter(&self, new: &NewSavedFilter) -> StoreResult<SavedFilter> {
        self.write(|conn| {
            let (operator_codes, tags) = store_filter(&new.filter);
            diesel::insert_into(client_filters::table)
                .values((
                    client_filters::name.eq(new.name.as_deref()),
                    client_filters::operator_codes.eq(operator_codes),
                    client_filters::tags.eq(tags),
                    client_filters::attributes.eq(store_attributes(new.filter.attributes())),
                    client_filters::created_at.eq(now()),
                    client_filters::updated_at.eq(now()),
                ))
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
            let (operator_codes, tags) = patch.filter.as_ref().map(store_filter).unzip();
            let changes = ClientFilterChanges {
                name: patch.name.as_ref().map(Option::as_deref),
                operator_codes,
                tags,
                attributes: patch
                    .filter
                    .as_ref()
                    .map(|filter| store_attributes(filter.attributes())),
            };
            diesel::update(client_filters::table.find(id.0))
                .set((changes, client_filters::updated_at.eq(now())))
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
                .set(mailings::updated_at.eq(now()))
                .execute(conn)?;
            let deleted = diesel::delete(client_filters::table.find(id.0)).execute(conn)?;
            if deleted == 0 {
                return Err(NOT_FOUND.into());
            }
            Ok(())
        })
    }
}
