use super::client_filters::find_filter;
use super::dialect::{self, StoredList, read_list, store_filter};
use super::messages::cancel_unsent;
use super::outbox;
use super::schema::mailings;
use super::{Backend, BackendStore, Conn};
use crate::columns::{bounds, corrupt, filter_from_lists, total};
use crate::errors::{CLIENT_FILTER_REFERENCE, Failure, refusing};
use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use mailing_domain::events::MailingEvent;
use mailing_domain::store::{
    Entity, FilterSource, Mailing, MailingDraft, MailingPatch, MailingStore, Page, PageRequest,
    Rejection, StoreError, StoreResult, storage_instant,
};
use mailing_domain::{
    ClientFilter, ClientFilterId, MailingId, MailingSchedule, MailingStatus, MailingText,
    SendWindow,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = mailings, check_for_backend(Backend))]
pub(super) struct MailingRow {
    id: i64,
    text: String,
    #[diesel(embed)]
    schedule: ScheduleRow,
    filter_operator_codes: StoredList,
    filter_tags: StoredList,
    client_filter_id: Option<i64>,
    cancelled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl MailingRow {
    pub(super) fn into_record(self) -> Result<Mailing, Failure> {
        let id = self.id;
        let list =
            |column, stored| read_list(stored).map_err(|e| corrupt("mailings", column, id, e));
        Ok(Mailing {
            id: MailingId(id),
            text: MailingText::parse(&self.text).map_err(|e| corrupt("mailings", "text", id, e))?,
            schedule: self.schedule.into_schedule(id)?,
            filter: filter_from_lists(
                "mailings",
                (
                    "filter_operator_codes",
                    list("filter_operator_codes", self.filter_operator_codes)?,
                ),
                ("filter_tags", list("filter_tags", self.filter_tags)?),
                id,
            )?,
            client_filter_id: self.client_filter_id.map(ClientFilterId),
            cancelled_at: self.cancelled_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A mailing's schedule, wherever a mailing is read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = mailings, check_for_backend(Backend))]
pub(super) struct ScheduleRow {
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    local_time: bool,
    send_window_start: Option<NaiveTime>,
    send_window_end: Option<NaiveTime>,
}

impl ScheduleRow {
    /// The schedule of mailing `id`.
    pub(super) fn into_schedule(self, id: i64) -> Result<MailingSchedule, Failure> {
        let send_window = match (self.send_window_start, self.send_window_end) {
            (Some(start), Some(end)) => Some(
                SendWindow::new(start, end)
                    .map_err(|e| corrupt("mailings", "send_window_start", id, e))?,
            ),
            (None, None) => None,
            _ => {
                return Err(corrupt(
                    "mailings",
                    "send_window_end",
                    id,
                    "only one bound of the send window is set",
                ));
            }
        };
        MailingSchedule::new(self.start_at, self.end_at, self.local_time, send_window)
            .map_err(|e| corrupt("mailings", "end_at", id, e))
    }
}

/// Everything a mailing's author decides, for an insert or a full rewrite: a `None` window or
/// filter link is written as NULL.
#[derive(Insertable, AsChangeset)]
#[diesel(
    table_name = mailings,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
struct MailingColumns<'a> {
    text: &'a str,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    local_time: bool,
    send_window_start: Option<NaiveTime>,
    send_window_end: Option<NaiveTime>,
    filter_operator_codes: StoredList,
    filter_tags: StoredList,
    client_filter_id: Option<i64>,
}

impl<'a> MailingColumns<'a> {
    fn new(
        text: &'a MailingText,
        schedule: &MailingSchedule,
        filter: &ClientFilter,
        client_filter_id: Option<ClientFilterId>,
    ) -> Self {
        let window = schedule.send_window();
        let (filter_operator_codes, filter_tags) = store_filter(filter);
        Self {
            text: text.as_str(),
            start_at: storage_instant(schedule.start_at()),
            end_at: storage_instant(schedule.end_at()),
            local_time: schedule.local_time(),
            send_window_start: window.map(|w| w.start()),
            send_window_end: window.map(|w| w.end()),
            filter_operator_codes,
            filter_tags,
            client_filter_id: client_filter_id.map(|id| id.0),
        }
    }
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Mailing);

/// Mailings that were not deleted.
fn visible() -> mailings::BoxedQuery<'static, Backend> {
    mailings::table
        .filter(mailings::deleted_at.is_null())
        .into_boxed()
}

/// One page of the mailings `query` selects, oldest first, and how many it selects in all.
fn list_page(
    conn: &mut Conn,
    query: impl Fn() -> mailings::BoxedQuery<'static, Backend>,
    page: PageRequest,
) -> Result<Page<Mailing>, Failure> {
    let (offset, limit) = bounds(page);
    let count: i64 = query().count().get_result(conn)?;
    let items = query()
        .select(MailingRow::as_select())
        .order(mailings::id.asc())
        .offset(offset)
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(MailingRow::into_record)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        total: total(count),
    })
}

/// Reads a visible mailing and holds it until the transaction ends, so concurrent updates,
/// cancellations and deletions of one mailing apply one after another.
fn lock(conn: &mut Conn, id: MailingId) -> Result<Mailing, Failure> {
    // Not `visible()`: diesel cannot lock rows of a boxed query.
    dialect::for_update!(
        mailings::table
            .filter(mailings::deleted_at.is_null())
            .filter(mailings::id.eq(id.0))
            .select(MailingRow::as_select())
    )
    .first(conn)
    .optional()?
    .ok_or(Failure::Store(NOT_FOUND))?
    .into_record()
}

/// The filter a mailing gets from `source` and the saved filter it came from, if any. An inline
/// filter unlinks the mailing from any saved one.
fn resolve(
    conn: &mut Conn,
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

impl MailingStore for BackendStore {
    #[tracing::instrument(skip_all, fields(mailing_id = tracing::field::Empty))]
    fn create_mailing(&self, draft: &MailingDraft) -> StoreResult<Mailing> {
        self.write(|conn| {
            let (filter, saved) = resolve(conn, &draft.filter)?;
            let row: MailingRow = diesel::insert_into(mailings::table)
                .values((
                    MailingColumns::new(&draft.text, &draft.schedule, &filter, saved),
                    mailings::created_at.eq(dialect::now()),
                    mailings::updated_at.eq(dialect::now()),
                ))
                .returning(MailingRow::as_returning())
                .get_result(conn)
                .map_err(refusing(
                    CLIENT_FILTER_REFERENCE,
                    Rejection::UnknownClientFilter,
                ))?;
            tracing::Span::current().record("mailing_id", row.id);
            outbox::append(
                conn,
                &MailingEvent::MailingCreated {
                    mailing_id: MailingId(row.id),
                },
            )?;
            row.into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn get_mailing(&self, id: MailingId) -> StoreResult<Mailing> {
        self.read(|conn| {
            visible()
                .filter(mailings::id.eq(id.0))
                .select(MailingRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn list_mailings(&self, page: PageRequest) -> StoreResult<Page<Mailing>> {
        self.read(|conn| list_page(conn, visible, page))
    }

    fn list_mailings_in_status(
        &self,
        status: MailingStatus,
        now: DateTime<Utc>,
        page: PageRequest,
    ) -> StoreResult<Page<Mailing>> {
        let bounds = MailingStatus::clock_bounds(now);
        let (now, east, west) = (
            storage_instant(bounds.now),
            storage_instant(bounds.local_now_east),
            storage_instant(bounds.local_now_west),
        );
        let in_status = move || {
            let query = visible();
            let live = query.filter(mailings::cancelled_at.is_null());
            // Started somewhere: on the server's clock, or on the easternmost client's.
            let started = mailings::local_time
                .eq(false)
                .and(mailings::start_at.le(now))
                .or(mailings::local_time
                    .eq(true)
                    .and(mailings::start_at.le(east)));
            // Ended everywhere: on the server's clock, or on the westernmost client's.
            let ended = mailings::local_time
                .eq(false)
                .and(mailings::end_at.le(now))
                .or(mailings::local_time.eq(true).and(mailings::end_at.le(west)));
            match status {
                MailingStatus::Cancelled => visible().filter(mailings::cancelled_at.is_not_null()),
                MailingStatus::Scheduled => live.filter(started.eq(false)),
                MailingStatus::Running => live.filter(started).filter(ended.eq(false)),
                MailingStatus::Finished => live.filter(started).filter(ended),
            }
        };
        self.read(|conn| list_page(conn, in_status, page))
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn update_mailing(
        &self,
        id: MailingId,
        patch: &MailingPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Mailing> {
        self.write(|conn| {
            let current = lock(conn, id)?;
            let filter = patch
                .filter
                .as_ref()
                .map(|source| resolve(conn, source))
                .transpose()?;
            let next = current.patched(patch, filter, now)?;
            outbox::append(conn, &MailingEvent::MailingUpdated { mailing_id: id })?;
            diesel::update(mailings::table.find(id.0))
                .set((
                    MailingColumns::new(
                        &next.text,
                        &next.schedule,
                        &next.filter,
                        next.client_filter_id,
                    ),
                    mailings::updated_at.eq(dialect::now()),
                ))
                .returning(MailingRow::as_returning())
                .get_result(conn)
                .map_err(refusing(
                    CLIENT_FILTER_REFERENCE,
                    Rejection::UnknownClientFilter,
                ))?
                .into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn cancel_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Mailing> {
        self.write(|conn| {
            let current = lock(conn, id)?;
            if current.cancelled_at.is_some() {
                return Ok(current);
            }
            if current.status(now) == MailingStatus::Finished {
                return Err(Rejection::MailingFinished.into());
            }
            let row: MailingRow = diesel::update(mailings::table.find(id.0))
                .set((
                    mailings::cancelled_at.eq(storage_instant(now)),
                    mailings::updated_at.eq(dialect::now()),
                ))
                .returning(MailingRow::as_returning())
                .get_result(conn)?;
            cancel_unsent(conn, id.0)?;
            outbox::append(conn, &MailingEvent::MailingCancelled { mailing_id: id })?;
            row.into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<()> {
        self.write(|conn| {
            lock(conn, id)?;
            diesel::update(mailings::table.find(id.0))
                .set((
                    mailings::deleted_at.eq(storage_instant(now)),
                    mailings::updated_at.eq(dialect::now()),
                ))
                .execute(conn)?;
            cancel_unsent(conn, id.0)?;
            outbox::append(conn, &MailingEvent::MailingDeleted { mailing_id: id })?;
            Ok(())
        })
    }
}
