//! Mailings on SQLite: the filter copy is JSON text, and every change appends its outbox event
//! in the same transaction.

use super::SqliteStore;
use super::clients::{filter_json, find_filter, from_json};
use super::messages::{Owner, cancel_unsent};
use super::schema::mailings;
use super::simple::{append, db_now};
use crate::errors::{CLIENT_FILTER_REFERENCE, Failure, refusing};
use crate::pg::mailings::MailingRow as PgMailingRow;
use crate::pg::{bounds, total};
use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};
use mailing_domain::events::MailingEvent;
use mailing_domain::store::{
    Entity, FilterSource, Mailing, MailingDraft, MailingPatch, MailingStore, Page, PageRequest,
    Rejection, StoreError, StoreResult, storage_instant,
};
use mailing_domain::{
    ClientFilter, ClientFilterId, MailingId, MailingSchedule, MailingStatus, MailingText,
};

/// A mailing as SQLite stores it: the PostgreSQL row with the filter lists as JSON text.
#[derive(Queryable)]
pub(crate) struct MailingRow {
    id: i64,
    text: String,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    local_time: bool,
    send_window_start: Option<NaiveTime>,
    send_window_end: Option<NaiveTime>,
    filter_operator_codes: String,
    filter_tags: String,
    client_filter_id: Option<i64>,
    cancelled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The columns [`MailingRow`] reads, in its order.
pub(crate) type MailingColumns = (
    mailings::id,
    mailings::text,
    mailings::start_at,
    mailings::end_at,
    mailings::local_time,
    mailings::send_window_start,
    mailings::send_window_end,
    mailings::filter_operator_codes,
    mailings::filter_tags,
    mailings::client_filter_id,
    mailings::cancelled_at,
    mailings::created_at,
    mailings::updated_at,
);

pub(crate) const MAILING_COLUMNS: MailingColumns = (
    mailings::id,
    mailings::text,
    mailings::start_at,
    mailings::end_at,
    mailings::local_time,
    mailings::send_window_start,
    mailings::send_window_end,
    mailings::filter_operator_codes,
    mailings::filter_tags,
    mailings::client_filter_id,
    mailings::cancelled_at,
    mailings::created_at,
    mailings::updated_at,
);

impl MailingRow {
    pub(crate) fn into_record(self) -> Result<Mailing, Failure> {
        let codes = from_json(
            "mailings",
            "filter_operator_codes",
            self.id,
            &self.filter_operator_codes,
        )?;
        let tags = from_json("mailings", "filter_tags", self.id, &self.filter_tags)?;
        PgMailingRow {
            id: self.id,
            text: self.text,
            start_at: self.start_at,
            end_at: self.end_at,
            local_time: self.local_time,
            send_window_start: self.send_window_start,
            send_window_end: self.send_window_end,
            filter_operator_codes: codes,
            filter_tags: tags,
            client_filter_id: self.client_filter_id,
            cancelled_at: self.cancelled_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
        .into_record()
    }
}

/// Everything a mailing's author decides, as column values for an insert or a full rewrite
/// (a `None` window or filter link is written as NULL).
#[allow(clippy::type_complexity)]
fn mailing_values(
    text: &MailingText,
    schedule: &MailingSchedule,
    filter: &ClientFilter,
    client_filter_id: Option<ClientFilterId>,
) -> (
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    bool,
    Option<NaiveTime>,
    Option<NaiveTime>,
    String,
    String,
    Option<i64>,
) {
    let window = schedule.send_window();
    let (codes, tags) = filter_json(filter);
    (
        text.as_str().to_owned(),
        storage_instant(schedule.start_at()),
        storage_instant(schedule.end_at()),
        schedule.local_time(),
        window.map(|w| w.start()),
        window.map(|w| w.end()),
        codes,
        tags,
        client_filter_id.map(|id| id.0),
    )
}

macro_rules! mailing_columns {
    ($values:expr) => {{
        let (text, start_at, end_at, local_time, window_start, window_end, codes, tags, saved) =
            $values;
        (
            mailings::text.eq(text),
            mailings::start_at.eq(start_at),
            mailings::end_at.eq(end_at),
            mailings::local_time.eq(local_time),
            mailings::send_window_start.eq(window_start),
            mailings::send_window_end.eq(window_end),
            mailings::filter_operator_codes.eq(codes),
            mailings::filter_tags.eq(tags),
            mailings::client_filter_id.eq(saved),
        )
    }};
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Mailing);

/// Mailings that were not deleted.
fn visible() -> mailings::BoxedQuery<'static, Sqlite> {
    mailings::table
        .filter(mailings::deleted_at.is_null())
        .into_boxed()
}

/// Reads a visible mailing; the caller's IMMEDIATE transaction keeps others from changing it.
fn current(conn: &mut SqliteConnection, id: MailingId) -> Result<Mailing, Failure> {
    visible()
        .filter(mailings::id.eq(id.0))
        .select(MAILING_COLUMNS)
        .first::<MailingRow>(conn)
        .optional()?
        .ok_or(Failure::Store(NOT_FOUND))?
        .into_record()
}

/// The filter a mailing gets from `source` and the saved filter it came from, if any.
fn resolve(
    conn: &mut SqliteConnection,
    source: &FilterSource,
) -> Result<(ClientFilter, Option<ClientFilterId>), Failure> {
    match source {
        FilterSource::Inline(filter) => Ok((filter.clone(), None)),
        FilterSource::Saved(id) => match find_filter(conn, *id)? {
            Some(filter) => Ok((filter, Some(*id))),
            None => Err(Rejection::UnknownClientFilter.into()),
        },
    }
}

impl MailingStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(mailing_id = tracing::field::Empty))]
    fn create_mailing(&self, draft: &MailingDraft) -> StoreResult<Mailing> {
        self.write(|conn| {
            let (filter, saved) = resolve(conn, &draft.filter)?;
            let values = mailing_values(&draft.text, &draft.schedule, &filter, saved);
            let row: MailingRow = diesel::insert_into(mailings::table)
                .values((
                    mailing_columns!(values),
                    mailings::created_at.eq(db_now()),
                    mailings::updated_at.eq(db_now()),
                ))
                .returning(MAILING_COLUMNS)
                .get_result(conn)
                .map_err(refusing(
                    CLIENT_FILTER_REFERENCE,
                    Rejection::UnknownClientFilter,
                ))?;
            tracing::Span::current().record("mailing_id", row.id);
            append(
                conn,
                &MailingEvent::MailingCreated {
                    mailing_id: MailingId(row.id),
                },
            )?;
            row.into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn get_mailing(&self, id: MailingId) -> StoreResult<Mailing> {
        self.read(|conn| current(conn, id))
    }

    fn list_mailings(&self, page: PageRequest) -> StoreResult<Page<Mailing>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = visible().count().get_result(conn)?;
            let items = visible()
                .select(MAILING_COLUMNS)
                .order(mailings::id.asc())
                .offset(offset)
                .limit(limit)
                .load::<MailingRow>(conn)?
                .into_iter()
                .map(MailingRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn update_mailing(
        &self,
        id: MailingId,
        patch: &MailingPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Mailing> {
        self.write(|conn| {
            let current = current(conn, id)?;
            let filter = patch
                .filter
                .as_ref()
                .map(|source| resolve(conn, source))
                .transpose()?;
            let next = current.patched(patch, filter, now)?;
            append(conn, &MailingEvent::MailingUpdated { mailing_id: id })?;
            let values = mailing_values(
                &next.text,
                &next.schedule,
                &next.filter,
                next.client_filter_id,
            );
            diesel::update(mailings::table.find(id.0))
                .set((mailing_columns!(values), mailings::updated_at.eq(db_now())))
                .returning(MAILING_COLUMNS)
                .get_result::<MailingRow>(conn)
                .map_err(refusing(
                    CLIENT_FILTER_REFERENCE,
                    Rejection::UnknownClientFilter,
                ))?
                .into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn cancel_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Mailing> {
        self.write(|conn| {
            let current = current(conn, id)?;
            if current.cancelled_at.is_some() {
                return Ok(current);
            }
            if current.status(now) == MailingStatus::Finished {
                return Err(Rejection::MailingFinished.into());
            }
            let row: MailingRow = diesel::update(mailings::table.find(id.0))
                .set((
                    mailings::cancelled_at.eq(storage_instant(now)),
                    mailings::updated_at.eq(db_now()),
                ))
                .returning(MAILING_COLUMNS)
                .get_result(conn)?;
            cancel_unsent(conn, Owner::Mailing(id.0))?;
            append(conn, &MailingEvent::MailingCancelled { mailing_id: id })?;
            row.into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<()> {
        self.write(|conn| {
            current(conn, id)?;
            diesel::update(mailings::table.find(id.0))
                .set((
                    mailings::deleted_at.eq(storage_instant(now)),
                    mailings::updated_at.eq(db_now()),
                ))
                .execute(conn)?;
            cancel_unsent(conn, Owner::Mailing(id.0))?;
            append(conn, &MailingEvent::MailingDeleted { mailing_id: id })?;
            Ok(())
        })
    }
}
