use super::campaign::{self, CampaignRow, RuleColumns};
use super::client_filters::find_filter;
use super::dialect::{
    self, StoredAttributes, StoredList, attributes_json, read_list, store_attributes, store_filter,
};
use super::messages::{cancel_unsent, forget_sent_texts};
use super::outbox;
use super::schema::mailings;
use super::{Backend, BackendStore, Conn};
use crate::columns::{attributes_from_json, bounds, corrupt, filter_from_lists, total};
use crate::errors::{CLIENT_FILTER_REFERENCE, Failure, refusing};
use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use mailing_domain::campaign::{AutoPauseOverride, FrequencyCap, Pause, PauseReason};
use mailing_domain::events::MailingEvent;
use mailing_domain::store::{
    Entity, FilterSource, Mailing, MailingDraft, MailingPatch, MailingStore, Page, PageRequest,
    Rejection, ResendDraft, StoreError, StoreResult, storage_instant,
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
    filter_attributes: StoredAttributes,
    client_filter_id: Option<i64>,
    cancelled_at: Option<DateTime<Utc>>,
    #[diesel(embed)]
    campaign: CampaignRow,
    paused_ms: i64,
    auto_pauses: i32,
    cap_deferrals: i64,
    resend_of: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl MailingRow {
    pub(super) fn id(&self) -> i64 {
        self.id
    }

    pub(super) fn into_record(self) -> Result<Mailing, Failure> {
        let id = self.id;
        let list =
            |column, stored| read_list(stored).map_err(|e| corrupt("mailings", column, id, e));
        let campaign = self.campaign.into_campaign(id)?;
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
            )?
            .with_attributes(attributes_from_json(
                "mailings",
                "filter_attributes",
                id,
                attributes_json(self.filter_attributes),
            )?),
            client_filter_id: self.client_filter_id.map(ClientFilterId),
            cancelled_at: self.cancelled_at,
            paused: campaign.paused,
            paused_before: chrono::Duration::milliseconds(self.paused_ms),
            auto_pauses: u32::try_from(self.auto_pauses)
                .map_err(|e| corrupt("mailings", "auto_pauses", id, e))?,
            cap_deferrals: u64::try_from(self.cap_deferrals)
                .map_err(|e| corrupt("mailings", "cap_deferrals", id, e))?,
            resend_of: self.resend_of.map(MailingId),
            frequency_cap: campaign.frequency_cap,
            auto_pause: campaign.auto_pause,
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
    filter_attributes: StoredAttributes,
    client_filter_id: Option<i64>,
    frequency_cap_max: Option<i32>,
    frequency_cap_hours: Option<i32>,
    auto_pause_enabled: Option<bool>,
    auto_pause_attempts: Option<i32>,
    auto_pause_failure_share: Option<f64>,
}

impl<'a> MailingColumns<'a> {
    fn new(
        text: &'a MailingText,
        schedule: &MailingSchedule,
        filter: &ClientFilter,
        client_filter_id: Option<ClientFilterId>,
        rules: (Option<FrequencyCap>, AutoPauseOverride),
    ) -> Self {
        let window = schedule.send_window();
        let (filter_operator_codes, filter_tags) = store_filter(filter);
        let rules = RuleColumns::new(rules.0, rules.1);
        Self {
            frequency_cap_max: rules.frequency_cap_max,
            frequency_cap_hours: rules.frequency_cap_hours,
            auto_pause_enabled: rules.auto_pause_enabled,
            auto_pause_attempts: rules.auto_pause_attempts,
            auto_pause_failure_share: rules.auto_pause_failure_share,
            text: text.as_str(),
            start_at: storage_instant(schedule.start_at()),
            end_at: storage_instant(schedule.end_at()),
            local_time: schedule.local_time(),
            send_window_start: window.map(|w| w.start()),
            send_window_end: window.map(|w| w.end()),
            filter_operator_codes,
            filter_tags,
            filter_attributes: store_attributes(filter.attributes()),
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
                    MailingColumns::new(
                        &draft.text,
                        &draft.schedule,
                        &filter,
                        saved,
                        (draft.frequency_cap, draft.auto_pause),
                    ),
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
            // A pause lasts until the mailing's end, when it is finished like any other.
            let paused = mailings::paused_at.is_not_null();
            match status {
                MailingStatus::Cancelled => visible().filter(mailings::cancelled_at.is_not_null()),
                MailingStatus::Scheduled => live.filter(paused.eq(false)).filter(started.eq(false)),
                MailingStatus::Running => live
                    .filter(paused.eq(false))
                    .filter(started)
                    .filter(ended.eq(false)),
                MailingStatus::Paused => live.filter(paused).filter(ended.eq(false)),
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
            if next.text != current.text {
                forget_sent_texts(conn, id.0)?;
            }
            outbox::append(conn, &MailingEvent::MailingUpdated { mailing_id: id })?;
            diesel::update(mailings::table.find(id.0))
                .set((
                    MailingColumns::new(
                        &next.text,
                        &next.schedule,
                        &next.filter,
                        next.client_filter_id,
                        (next.frequency_cap, next.auto_pause),
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
        again_after_deadlock(|| {
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
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<()> {
        again_after_deadlock(|| {
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
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn pause_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Mailing> {
        self.write(|conn| {
            let current = lock(conn, id)?;
            refuse_if_over(&current, now)?;
            if campaign::pause(conn, id.0, PauseReason::Manual, None, now)? {
                outbox::append(conn, &MailingEvent::MailingPaused { mailing_id: id })?;
            }
            reread(conn, id)
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn resume_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Mailing> {
        self.write(|conn| {
            let current = lock(conn, id)?;
            refuse_if_over(&current, now)?;
            if let Some(paused) = &current.paused {
                campaign::resume(conn, id.0, paused.since, now)?;
                outbox::append(conn, &MailingEvent::MailingResumed { mailing_id: id })?;
            }
            reread(conn, id)
        })
    }

    fn mailing_pauses(&self, id: MailingId) -> StoreResult<Vec<Pause>> {
        self.read(|conn| {
            let exists: i64 = visible()
                .filter(mailings::id.eq(id.0))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(Failure::Store(NOT_FOUND));
            }
            campaign::pauses(conn, id.0)
        })
    }

    #[tracing::instrument(skip_all, fields(original = draft.original.0, mailing_id = tracing::field::Empty))]
    fn resend_mailing(&self, draft: &ResendDraft, now: DateTime<Utc>) -> StoreResult<Mailing> {
        self.write(|conn| {
            let original = lock(conn, draft.original)?;
            let old = &original.schedule;
            let local_time = old.local_time();
            let stored = |field: &'static str, written| {
                MailingSchedule::stored_instant(written, local_time)
                    .map_err(|rule| Rejection::Invalid { field, rule })
            };
            let schedule = MailingSchedule::new(
                stored("start_at", draft.start_at)?,
                stored("end_at", draft.end_at)?,
                local_time,
                old.send_window(),
            )
            .map_err(|rule| Rejection::Invalid {
                field: "end_at",
                rule,
            })?;
            if schedule.latest_end() <= now {
                return Err(Rejection::Invalid {
                    field: "end_at",
                    rule: mailing_domain::Invalid::InPast,
                }
                .into());
            }
            let row: MailingRow = diesel::insert_into(mailings::table)
                .values((
                    MailingColumns::new(
                        &original.text,
                        &schedule,
                        &original.filter,
                        None,
                        (original.frequency_cap, original.auto_pause),
                    ),
                    mailings::resend_of.eq(original.id.0),
                    mailings::created_at.eq(dialect::now()),
                    mailings::updated_at.eq(dialect::now()),
                ))
                .returning(MailingRow::as_returning())
                .get_result(conn)?;
            tracing::Span::current().record("mailing_id", row.id);
            campaign::fix_recipients(conn, row.id, original.id.0, &draft.statuses)?;
            outbox::append(
                conn,
                &MailingEvent::MailingCreated {
                    mailing_id: MailingId(row.id),
                },
            )?;
            row.into_record()
        })
    }
}

/// Refuses to pause or resume a mailing that is over.
fn refuse_if_over(mailing: &Mailing, now: DateTime<Utc>) -> Result<(), Failure> {
    match mailing.status(now) {
        status @ (MailingStatus::Finished | MailingStatus::Cancelled) => {
            Err(Rejection::MailingOver(status).into())
        }
        _ => Ok(()),
    }
}

/// The mailing as it is now, within the transaction that changed it.
fn reread(conn: &mut Conn, id: MailingId) -> Result<Mailing, Failure> {
    mailings::table
        .find(id.0)
        .select(MailingRow::as_select())
        .first(conn)?
        .into_record()
}

/// Runs `attempt` again, twice at most, while PostgreSQL picks it as the victim of a deadlock.
/// Cancelling or deleting a mailing updates its unsent messages in one statement while a
/// sender may be settling some of them in another order; the database then rolls one of the
/// two back whole, so the request runs again instead of failing.
fn again_after_deadlock<T>(attempt: impl Fn() -> StoreResult<T>) -> StoreResult<T> {
    let mut retries = 0;
    loop {
        match attempt() {
            Err(error) if retries < 2 && crate::errors::is_deadlock(&error) => {
                tracing::info!(%error, "running the transaction again after a deadlock");
                retries += 1;
            }
            outcome => return outcome,
        }
    }
}
