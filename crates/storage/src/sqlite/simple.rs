//! Operators, tags, users and the outbox on SQLite: the same statements as the PostgreSQL
//! modules, on this backend's schema, decoded by the same row types.

use super::SqliteStore;
use super::schema::{client_tags, clients, operators, outbox, tags, users};
use crate::errors::{Failure, OPERATOR_REFERENCE, refusing};
use crate::pg::operators::OperatorRow;
use crate::pg::outbox::{ClaimedRow, decode_claimed};
use crate::pg::tags::TagRow;
use crate::pg::users::UserRow;
use crate::pg::{bounds, total};
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, TimestamptzSqlite};
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;
use mailing_domain::events::{self, MailingEvent};
use mailing_domain::store::{
    Entity, NewOperator, NewTag, Operator, OperatorPatch, OperatorStore, OutboxEvent, OutboxStore,
    Page, PageRequest, Rejection, StoreError, StoreResult, Tag, TagStore, User, UserStore,
};
use mailing_domain::{OperatorCode, OperatorId, OperatorName, TagId};

/// The clock rows are stamped with: SQLite's own `CURRENT_TIMESTAMP` has another text format
/// than the bound instants it would be compared with.
pub(crate) fn db_now() -> DateTime<Utc> {
    mailing_domain::store::storage_instant(Utc::now())
}

const OPERATOR_NOT_FOUND: StoreError = StoreError::NotFound(Entity::Operator);
const TAG_NOT_FOUND: StoreError = StoreError::NotFound(Entity::Tag);

impl OperatorStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    fn create_operator(&self, new: &NewOperator) -> StoreResult<Operator> {
        self.write(|conn| {
            diesel::insert_into(operators::table)
                .values((
                    operators::code.eq(new.code.as_str()),
                    operators::name.eq(new.name.as_str()),
                    operators::created_at.eq(db_now()),
                    operators::updated_at.eq(db_now()),
                ))
                .returning(operators::all_columns)
                .get_result::<OperatorRow>(conn)?
                .into_record()
        })
    }

    fn get_operator(&self, id: OperatorId) -> StoreResult<Operator> {
        self.read(|conn| {
            operators::table
                .find(id.0)
                .select(operators::all_columns)
                .first::<OperatorRow>(conn)
                .optional()?
                .ok_or(Failure::Store(OPERATOR_NOT_FOUND))?
                .into_record()
        })
    }

    fn list_operators(&self, page: PageRequest) -> StoreResult<Page<Operator>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = operators::table.count().get_result(conn)?;
            let items = operators::table
                .select(operators::all_columns)
                .order(operators::id.asc())
                .offset(offset)
                .limit(limit)
                .load::<OperatorRow>(conn)?
                .into_iter()
                .map(OperatorRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    #[tracing::instrument(skip_all, fields(operator_id = %id))]
    fn update_operator(&self, id: OperatorId, patch: &OperatorPatch) -> StoreResult<Operator> {
        self.write(|conn| {
            let code = patch.code.as_ref().map(OperatorCode::as_str);
            let name = patch.name.as_ref().map(OperatorName::as_str);
            diesel::update(operators::table.find(id.0))
                .set((
                    code.map(|code| operators::code.eq(code)),
                    name.map(|name| operators::name.eq(name)),
                    operators::updated_at.eq(db_now()),
                ))
                .returning(operators::all_columns)
                .get_result::<OperatorRow>(conn)
                .optional()
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::OperatorInUse))?
                .ok_or(Failure::Store(OPERATOR_NOT_FOUND))?
                .into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(operator_id = %id))]
    fn delete_operator(&self, id: OperatorId) -> StoreResult<()> {
        self.write(|conn| {
            let deleted = diesel::delete(operators::table.find(id.0))
                .execute(conn)
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::OperatorInUse))?;
            if deleted == 0 {
                return Err(OPERATOR_NOT_FOUND.into());
            }
            Ok(())
        })
    }
}

/// The ids of tags with `values`, creating the missing ones.
pub(crate) fn ensure_tags(conn: &mut SqliteConnection, values: &[&str]) -> QueryResult<Vec<i64>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = values
        .iter()
        .map(|&value| (tags::value.eq(value), tags::created_at.eq(db_now())))
        .collect();
    diesel::insert_or_ignore_into(tags::table)
        .values(&rows)
        .execute(conn)?;
    tags::table
        .filter(tags::value.eq_any(values))
        .select(tags::id)
        .load(conn)
}

/// A tag's clients change when it does, so their `updated_at` moves.
fn touch_clients_of(conn: &mut SqliteConnection, tag: i64) -> QueryResult<usize> {
    let carriers = client_tags::table
        .filter(client_tags::tag_id.eq(tag))
        .select(client_tags::client_id);
    diesel::update(clients::table.filter(clients::id.eq_any(carriers)))
        .set(clients::updated_at.eq(db_now()))
        .execute(conn)
}

impl TagStore for SqliteStore {
    fn create_tag(&self, new: &NewTag) -> StoreResult<Tag> {
        self.write(|conn| {
            diesel::insert_into(tags::table)
                .values((
                    tags::value.eq(new.value.as_str()),
                    tags::created_at.eq(db_now()),
                ))
                .returning(tags::all_columns)
                .get_result::<TagRow>(conn)?
                .into_record()
        })
    }

    fn get_tag(&self, id: TagId) -> StoreResult<Tag> {
        self.read(|conn| {
            tags::table
                .find(id.0)
                .select(tags::all_columns)
                .first::<TagRow>(conn)
                .optional()?
                .ok_or(Failure::Store(TAG_NOT_FOUND))?
                .into_record()
        })
    }

    fn list_tags(&self, page: PageRequest) -> StoreResult<Page<Tag>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = tags::table.count().get_result(conn)?;
            let items = tags::table
                .select(tags::all_columns)
                .order(tags::id.asc())
                .offset(offset)
                .limit(limit)
                .load::<TagRow>(conn)?
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
                .returning(tags::all_columns)
                .get_result::<TagRow>(conn)
                .optional()?
                .ok_or(Failure::Store(TAG_NOT_FOUND))?;
            touch_clients_of(conn, tag.id)?;
            tag.into_record()
        })
    }

    fn delete_tag(&self, id: TagId) -> StoreResult<()> {
        self.write(|conn| {
            touch_clients_of(conn, id.0)?;
            let deleted = diesel::delete(tags::table.find(id.0)).execute(conn)?;
            if deleted == 0 {
                return Err(TAG_NOT_FOUND.into());
            }
            Ok(())
        })
    }
}

impl UserStore for SqliteStore {
    fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|conn| {
            let row = users::table
                .filter(users::username.eq(username))
                .select((users::id, users::username, users::password_hash))
                .first::<UserRow>(conn)
                .optional()?;
            Ok(row.map(User::from))
        })
    }

    fn save_user(&self, username: &str, password_hash: &str) -> StoreResult<User> {
        self.write(|conn| {
            let row = diesel::insert_into(users::table)
                .values((
                    users::username.eq(username),
                    users::password_hash.eq(password_hash),
                    users::created_at.eq(db_now()),
                    users::updated_at.eq(db_now()),
                ))
                .on_conflict(users::username)
                .do_update()
                .set((
                    users::password_hash.eq(excluded(users::password_hash)),
                    users::updated_at.eq(db_now()),
                ))
                .returning((users::id, users::username, users::password_hash))
                .get_result::<UserRow>(conn)?;
            Ok(User::from(row))
        })
    }
}

/// Records `event` for the relay, in the caller's transaction.
pub(crate) fn append(conn: &mut SqliteConnection, event: &MailingEvent) -> QueryResult<()> {
    let payload = String::from_utf8(events::encode(event)).expect("JSON is UTF-8");
    diesel::insert_into(outbox::table)
        .values((outbox::payload.eq(payload), outbox::created_at.eq(db_now())))
        .execute(conn)
        .map(drop)
}

impl OutboxStore for SqliteStore {
    fn claim_outbox(
        &self,
        limit: u32,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxEvent>> {
        let until = now
            + chrono::Duration::from_std(lease)
                .map_err(|_| StoreError::Internal("outbox lease out of range".to_owned()))?;
        // One writer at a time: the IMMEDIATE transaction is the lock SKIP LOCKED avoids.
        self.write(|conn| {
            let rows: Vec<ClaimedRow> = diesel::sql_query(
                "UPDATE outbox SET claimed_until = ?1
                 WHERE id IN (
                     SELECT id FROM outbox
                     WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?2)
                     ORDER BY id LIMIT ?3)
                 RETURNING id, payload",
            )
            .bind::<TimestamptzSqlite, _>(until)
            .bind::<TimestamptzSqlite, _>(now)
            .bind::<BigInt, _>(i64::from(limit))
            .load(conn)?;
            decode_claimed(rows)
        })
    }

    fn mark_published(&self, ids: &[i64], now: DateTime<Utc>) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
                .set(outbox::published_at.eq(now))
                .execute(conn)?;
            Ok(())
        })
    }

    fn unpublished_count(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let count: i64 = outbox::table
                .filter(outbox::published_at.is_null())
                .select(count_star())
                .first(conn)?;
            Ok(total(count))
        })
    }
}
