use super::client_filters::{filter_columns, filter_from_columns, find_filter};
use super::messages::{Owner, cancel_unsent};
use super::outbox;
use super::{PgStore, bounds, corrupt, total};
use crate::errors::{CLIENT_FILTER_REFERENCE, Failure, refusing};
use crate::schema::mailings;
use chrono::{DateTime, NaiveTime, Utc};
use diesel::dsl::now as db_now;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use mailing_domain::events::MailingEvent;
use mailing_domain::store::{
    Entity, FilterSource, Mailing, MailingDraft, MailingPatch, MailingStore, Page, PageRequest,
    Rejection, StoreError, StoreResult,
};
use mailing_domain::{
    ClientFilter, ClientFilterId, MailingId, MailingSchedule, MailingStatus, MailingText,
    SendWindow,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = mailings, check_for_backend(diesel::pg::Pg))]
pub(crate) struct MailingRow {
    pub(crate) id: i64,
    pub(crate) text: String,
    pub(crate) start_at: DateTime<Utc>,
    pub(crate) end_at: DateTime<Utc>,
    pub(crate) local_time: bool,
    pub(crate) send_window_start: Option<NaiveTime>,
    pub(crate) send_window_end: Option<NaiveTime>,
    pub(crate) filter_operator_codes: Vec<String>,
    pub(crate) filter_tags: Vec<String>,
    pub(crate) client_filter_id: Option<i64>,
    pub(crate) cancelled_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl MailingRow {
    pub(crate) fn into_record(self) -> Result<Mailing, Failure> {
        let id = self.id;
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
        let schedule =
            MailingSchedule::new(self.start_at, self.end_at, self.local_time, send_window)
                .map_err(|e| corrupt("mailings", "end_at", id, e))?;
        Ok(Mailing {
            id: MailingId(id),
            text: MailingText::parse(&self.text).map_err(|e| corrupt("mailings", "text", id, e))?,
            schedule,
            filter: filter_from_columns(
                "mailings",
                ("filter_operator_codes", &self.filter_operator_codes),
                ("filter_tags", &self.filter_tags),
                id,
            )?,
            client_filter_id: self.client_filter_id.map(ClientFilterId),
            cancelled_at: self.cancelled_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Everything a mailing's author decides, for an insert or a full rewrite.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = mailings, treat_none_as_null = true)]
struct MailingColumns<'a> {
    text: &'a str,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    local_time: bool,
    send_window_start: Option<NaiveTime>,
    send_window_end: Option<NaiveTime>,
    filter_operator_codes: Vec<&'a str>,
    filter_tags: Vec<&'a str>,
    client_filter_id: Option<i64>,
}

impl<'a> MailingColumns<'a> {
    fn new(
        text: &'a MailingText,
        schedule: &MailingSchedule,
        filter: &'a ClientFilter,
        client_filter_id: Option<ClientFilterId>,
    ) -> Self {
        let window = schedule.send_window();
        let (filter_operator_codes, filter_tags) = filter_columns(filter);
        Self {
            text: text.as_str(),
            start_at: schedule.start_at(),
            end_at: schedule.end_at(),
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
fn visible() -> mailings::BoxedQuery<'static, diesel::pg::Pg> {
    mailings::table
        .filter(mailings::deleted_at.is_null())
        .into_boxed()
}

/// Reads a visible mailing and holds it until the transaction ends, so concurrent updates,
/// cancellations and deletions of one mailing apply one after another.
fn lock(conn: &mut PgConnection, id: MailingId) -> Result<Mailing, Failure> {
    // Not `visible()`: diesel cannot lock rows of a boxed query.
    mailings::table
        .filter(mailings::deleted_at.is_null())
        .filter(mailings::id.eq(id.0))
        .select(MailingRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(Failure::Store(NOT_FOUND))?
        .into_record()
}

/// The filter a mailing gets from `source` and the saved filter it came from, if any. An inline
/// filter unlinks the mailing from any saved one.
fn resolve(
    conn: &mut PgConnection,
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

impl MailingStore for PgStore {
    #[tracing::instrument(skip_all, fields(mailing_id = tracing::field::Empty))]
    fn create_mailing(&self, draft: &MailingDraft) -> StoreResult<Mailing> {
        self.write(|conn| {
            let (filter, saved) = resolve(conn, &draft.filter)?;
            let row: MailingRow = diesel::insert_into(mailings::table)
                .values(MailingColumns::new(
                    &draft.text,
                    &draft.schedule,
                    &filter,
                    saved,
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

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
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
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = visible().count().get_result(conn)?;
            let items = visible()
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
                    mailings::updated_at.eq(db_now),
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

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
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
                    mailings::cancelled_at.eq(now),
                    mailings::updated_at.eq(db_now),
                ))
                .returning(MailingRow::as_returning())
                .get_result(conn)?;
            cancel_unsent(conn, Owner::Mailing(id.0))?;
            outbox::append(conn, &MailingEvent::MailingCancelled { mailing_id: id })?;
            row.into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = %id))]
    fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<()> {
        self.write(|conn| {
            lock(conn, id)?;
            diesel::update(mailings::table.find(id.0))
                .set((
                    mailings::deleted_at.eq(now),
                    mailings::updated_at.eq(db_now),
                ))
                .execute(conn)?;
            cancel_unsent(conn, Owner::Mailing(id.0))?;
            outbox::append(conn, &MailingEvent::MailingDeleted { mailing_id: id })?;
            Ok(())
        })
    }
}
