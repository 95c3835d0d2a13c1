use super::dialect::now;
use super::schema::{client_tags, clients, tags};
use super::{Backend, BackendStore, Conn};
use crate::columns::{bounds, corrupt, total};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    Entity, NewTag, Page, PageRequest, StoreError, StoreResult, Tag, TagStore,
};
use mailing_domain::{TagId, TagValue};

#[derive(Queryable, Selectable)]
#[diesel(table_name = tags, check_for_backend(Backend))]
struct TagRow {
    id: i64,
    value: String,
    created_at: DateTime<Utc>,
}

impl TagRow {
    fn into_record(self) -> Result<Tag, Failure> {
        Ok(Tag {
            id: TagId(self.id),
            value: TagValue::parse(&self.value)
                .map_err(|e| corrupt("tags", "value", self.id, e))?,
            created_at: self.created_at,
        })
    }
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Tag);

/// The ids of `values`, creating the tags that do not exist yet.
///
/// `ON CONFLICT DO NOTHING` waits for a concurrent transaction inserting the same value and then
/// skips it, so two clients naming a new tag at once share one row instead of failing.
pub(super) fn ensure_tags(conn: &mut Conn, values: &[&str]) -> QueryResult<Vec<i64>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = values
        .iter()
        .map(|&value| (tags::value.eq(value), tags::created_at.eq(now())))
        .collect();
    diesel::insert_into(tags::table)
        .values(&rows)
        .on_conflict(tags::value)
        .do_nothing()
        .execute(conn)?;
    tags::table
        .filter(tags::value.eq_any(values))
        .select(tags::id)
        .load(conn)
}

/// Marks the clients carrying a tag as changed, since the tag shows in them.
fn touch_clients_of(conn: &mut Conn, tag: i64) -> QueryResult<usize> {
    let carriers = client_tags::table
        .filter(client_tags::tag_id.eq(tag))
        .select(client_tags::client_id);
    diesel::update(clients::table.filter(clients::id.eq_any(carriers)))
        .set(clients::updated_at.eq(now()))
        .execute(conn)
}

impl TagStore for BackendStore {
    fn create_tag(&self, new: &NewTag) -> StoreResult<Tag> {
        self.write(|conn| {
            diesel::insert_into(tags::table)
                .values((
                    tags::value.eq(new.value.as_str()),
                    tags::created_at.eq(now()),
                ))
                .returning(TagRow::as_returning())
                .get_result(conn)?
                .into_record()
        })
    }

    fn get_tag(&self, id: TagId) -> StoreResult<Tag> {
        self.read(|conn| {
            tags::table
                .find(id.0)
                .select(TagRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn list_tags(&self, page: PageRequest) -> StoreResult<Page<Tag>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = tags::table.count().get_result(conn)?;
            let items = tags::table
                .select(TagRow::as_select())
                .order(tags::id.asc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(TagRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    fn update_tag(&self, id: TagId, new: &NewTag) -> StoreResult<Tag> {
        self.write(|conn| {
            let tag = diesel::update(tags::table.find(id.0))
                .set(tags::value.eq(new.value.as_str()))
                .returning(TagRow::as_returning())
                .get_result(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?;
            touch_clients_of(conn, tag.id)?;
            tag.into_record()
        })
    }

    fn delete_tag(&self, id: TagId) -> StoreResult<()> {
        self.write(|conn| {
            touch_clients_of(conn, id.0)?;
            // client_tags rows go with the tag (ON DELETE CASCADE).
            let deleted = diesel::delete(tags::table.find(id.0)).execute(conn)?;
            if deleted == 0 {
                return Err(NOT_FOUND.into());
            }
            Ok(())
        })
    }
}
