use super::dialect::{self, now};
use super::pipeline;
use super::schema::{client_tags, clients, tags};
use super::{Backend, BackendStore, Conn};
use crate::columns::{bounds, corrupt, total};
use crate::errors::{Failure, TAG_REFERENCE, violates};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    Entity, NewTag, Page, PageRequest, Rejection, StoreError, StoreResult, Tag, TagStore, TagUse,
};
use mailing_domain::{ClientFilterId, MailingId};
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

/// The ids of `values`, creating the tags that do not exist yet; held until the transaction
/// ends, so that a tag cannot be deleted before the caller's links to it commit.
///
/// `ON CONFLICT DO NOTHING` waits for a concurrent transaction inserting the same value and then
/// skips it, so two clients naming a new tag at once share one row instead of failing. The
/// read then takes a shared lock on each tag, which other writers linking the same tag share
/// but a delete waits for. A tag deleted between the insert and the read is missing from it and
/// is created again by the next round.
pub(super) fn ensure_tags(conn: &mut Conn, values: &[&str]) -> QueryResult<Vec<i64>> {
    let wanted = values
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if wanted == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = values
        .iter()
        .map(|&value| (tags::value.eq(value), tags::created_at.eq(now())))
        .collect();
    let mut rounds = 0;
    loop {
        diesel::insert_into(tags::table)
            .values(&rows)
            .on_conflict(tags::value)
            .do_nothing()
            .execute(conn)?;
        let ids: Vec<i64> = dialect::for_share!(
            tags::table
                .filter(tags::value.eq_any(values))
                .select(tags::id)
        )
        .load(conn)?;
        rounds += 1;
        // A round comes up short only when a delete committed between its insert and its read;
        // the next round's inserts are this transaction's own, which nobody else can see, let
        // alone delete, so it finds them all.
        if ids.len() == wanted || rounds == ENSURE_TAGS_ROUNDS {
            return Ok(ids);
        }
    }
}

/// A bound on [`ensure_tags`]' rounds, which by its reasoning never needs more than two.
const ENSURE_TAGS_ROUNDS: u32 = 5;

/// Marks the clients carrying a tag as changed, since the tag shows in them.
fn touch_clients_of(conn: &mut Conn, tag: i64) -> QueryResult<usize> {
    let carriers = client_tags::table
        .filter(client_tags::tag_id.eq(tag))
        .select(client_tags::client_id);
    diesel::update(clients::table.filter(clients::id.eq_any(carriers)))
        .set(clients::updated_at.eq(now()))
        .execute(conn)
}

/// How many clients carry a tag.
fn carriers(conn: &mut Conn, tag: i64) -> QueryResult<u64> {
    let count: i64 = client_tags::table
        .filter(client_tags::tag_id.eq(tag))
        .count()
        .get_result(conn)?;
    Ok(total(count))
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

    #[tracing::instrument(skip_all, fields(tag_id = id.0, detach))]
    fn delete_tag(&self, id: TagId, detach: bool) -> StoreResult<()> {
        self.write(|conn| {
            // Held, so that it keeps its value while the filters naming it are looked up.
            let value: String = dialect::for_update!(tags::table.find(id.0).select(tags::value))
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?;
            let (filters, mailings) = pipeline::filters_naming_tag(conn, &value)?;
            if !filters.is_empty() || !mailings.is_empty() {
                return Err(Rejection::TagInUse(TagUse {
                    clients: carriers(conn, id.0)?,
                    client_filters: filters.into_iter().map(ClientFilterId).collect(),
                    mailings: mailings.into_iter().map(MailingId).collect(),
                })
                .into());
            }
            if detach {
                touch_clients_of(conn, id.0)?;
                diesel::delete(client_tags::table.filter(client_tags::tag_id.eq(id.0)))
                    .execute(conn)?;
            }
            // The reference from client_tags refuses while any client carries the tag: then
            // the delete is undone to its savepoint and the carriers counted for the answer.
            match conn.transaction(|conn| diesel::delete(tags::table.find(id.0)).execute(conn)) {
                Ok(_) => Ok(()),
                Err(error) if violates(&error, TAG_REFERENCE) => Err(Rejection::TagInUse(TagUse {
                    clients: carriers(conn, id.0)?,
                    ..TagUse::default()
                })
                .into()),
                Err(error) => Err(error.into()),
            }
        })
    }
}
