//! Messages on SQLite.

use super::SqliteStore;
use super::schema::{mailings, messages};
use super::simple::db_now;
use crate::errors::Failure;
use crate::pg::messages::{MessageRow, add_counts};
use crate::pg::{bounds, total};
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};
use mailing_domain::store::{
    Entity, Message, MessageQuery, MessageStore, NewMessage, Page, PageRequest, StatusCounts,
    StoreError, StoreResult, storage_instant,
};
use mailing_domain::{MailingId, MessageId, MessageStatus};
use std::collections::{HashMap, HashSet};

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Message);

/// Rows per INSERT: nine bind parameters each keeps a statement under SQLite's limit of
/// 32,766 parameters.
const INSERT_CHUNK: usize = 3_000;

/// The columns `MessageRow` reads, in its order.
type MessageColumns = (
    messages::id,
    messages::mailing_id,
    messages::client_id,
    messages::status,
    messages::attempts,
    messages::last_error,
    messages::next_attempt_at,
    messages::sent_at,
    messages::created_at,
    messages::updated_at,
);

const MESSAGE_COLUMNS: MessageColumns = (
    messages::id,
    messages::mailing_id,
    messages::client_id,
    messages::status,
    messages::attempts,
    messages::last_error,
    messages::next_attempt_at,
    messages::sent_at,
    messages::created_at,
    messages::updated_at,
);

/// Whose messages to cancel.
#[derive(Clone, Copy)]
pub(crate) enum Owner {
    Mailing(i64),
    Client(i64),
}

/// Cancels the messages of `owner` that may still reach the probe; sent and otherwise finished
/// ones keep their outcome.
pub(crate) fn cancel_unsent(conn: &mut SqliteConnection, owner: Owner) -> QueryResult<usize> {
    let unsent = MessageStatus::UNSENT.map(MessageStatus::as_str);
    let cancelled = (
        messages::status.eq(MessageStatus::Cancelled.as_str()),
        messages::queued_at.eq(None::<DateTime<Utc>>),
        messages::claim_renewed_at.eq(None::<DateTime<Utc>>),
        messages::updated_at.eq(db_now()),
    );
    let unsent_messages = messages::table.filter(messages::status.eq_any(unsent));
    match owner {
        Owner::Mailing(id) => diesel::update(unsent_messages.filter(messages::mailing_id.eq(id)))
            .set(cancelled)
            .execute(conn),
        Owner::Client(id) => diesel::update(unsent_messages.filter(messages::client_id.eq(id)))
            .set(cancelled)
            .execute(conn),
    }
}

/// `query`'s conditions on the messages table, for both the page and its total.
fn filtered(query: &MessageQuery) -> messages::BoxedQuery<'static, Sqlite> {
    let mut selected = messages::table.into_boxed();
    if let Some(mailing) = query.mailing_id {
        selected = selected.filter(messages::mailing_id.eq(mailing.0));
    }
    if let Some(client) = query.client_id {
        selected = selected.filter(messages::client_id.eq(client.0));
    }
    if let Some(status) = query.status {
        selected = selected.filter(messages::status.eq(status.as_str()));
    }
    selected
}

type NewMessageRow = (
    i64,
    Option<i64>,
    &'static str,
    i32,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

impl MessageStore for SqliteStore {
    fn get_message(&self, id: MessageId) -> StoreResult<Message> {
        self.read(|conn| {
            messages::table
                .find(id.0)
                .select(MESSAGE_COLUMNS)
                .first::<MessageRow>(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn list_messages(&self, query: &MessageQuery, page: PageRequest) -> StoreResult<Page<Message>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = filtered(query).count().get_result(conn)?;
            let items = filtered(query)
                .select(MESSAGE_COLUMNS)
                .order(messages::id.asc())
                .offset(offset)
                .limit(limit)
                .load::<MessageRow>(conn)?
                .into_iter()
                .map(MessageRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    fn count_messages(&self, mailing: MailingId) -> StoreResult<StatusCounts> {
        self.read(|conn| {
            let rows: Vec<(String, i64)> = messages::table
                .filter(messages::mailing_id.eq(mailing.0))
                .group_by(messages::status)
                .select((messages::status, count_star()))
                .load(conn)?;
            let mut counts = StatusCounts::default();
            for (status, count) in rows {
                add_counts(&mut counts, &status, count)?;
            }
            Ok(counts)
        })
    }

    fn count_messages_of(
        &self,
        mailings: &[MailingId],
    ) -> StoreResult<HashMap<MailingId, StatusCounts>> {
        if mailings.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = mailings.iter().map(|id| id.0).collect();
        self.read(|conn| {
            let rows: Vec<(i64, String, i64)> = messages::table
                .filter(messages::mailing_id.eq_any(&ids))
                .group_by((messages::mailing_id, messages::status))
                .select((messages::mailing_id, messages::status, count_star()))
                .load(conn)?;
            let mut by_mailing: HashMap<MailingId, StatusCounts> = HashMap::new();
            for (mailing, status, count) in rows {
                add_counts(
                    by_mailing.entry(MailingId(mailing)).or_default(),
                    &status,
                    count,
                )?;
            }
            Ok(by_mailing)
        })
    }

    /// Messages of mailings that are cancelled, deleted or missing are skipped as well, and
    /// not counted.
    fn insert_messages(&self, new: &[NewMessage]) -> StoreResult<u64> {
        if new.is_empty() {
            return Ok(0);
        }
        let rows = new
            .iter()
            .map(|message| {
                let attempts = i32::try_from(message.attempts).map_err(|_| {
                    StoreError::Internal(format!(
                        "a new message of mailing {} has {} attempts, more than the database holds",
                        message.mailing_id, message.attempts
                    ))
                })?;
                Ok((
                    message.mailing_id.0,
                    Some(message.client_id.0),
                    message.status.as_str(),
                    attempts,
                    message.next_attempt_at.map(storage_instant),
                    message.sent_at.map(storage_instant),
                    // A claimed message carries its claim time (the schema insists).
                    (message.status == MessageStatus::Queued).then(db_now),
                ))
            })
            .collect::<StoreResult<Vec<NewMessageRow>>>()?;
        // The IMMEDIATE transaction orders this insert with a cancellation or deletion: one of
        // them runs entirely first.
        self.write(move |conn| {
            let mut ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
            ids.sort_unstable();
            ids.dedup();
            let open: HashSet<i64> = mailings::table
                .filter(mailings::id.eq_any(&ids))
                .filter(mailings::cancelled_at.is_null())
                .filter(mailings::deleted_at.is_null())
                .select(mailings::id)
                .load::<i64>(conn)?
                .into_iter()
                .collect();
            let now = db_now();
            let values: Vec<_> = rows
                .into_iter()
                .filter(|row| open.contains(&row.0))
                .map(|(mailing, client, status, attempts, next, sent, queued)| {
                    (
                        messages::mailing_id.eq(mailing),
                        messages::client_id.eq(client),
                        messages::status.eq(status),
                        messages::attempts.eq(attempts),
                        messages::next_attempt_at.eq(next),
                        messages::sent_at.eq(sent),
                        messages::queued_at.eq(queued),
                        messages::created_at.eq(now),
                        messages::updated_at.eq(now),
                    )
                })
                .collect();
            let mut inserted = 0;
            for chunk in values.chunks(INSERT_CHUNK) {
                inserted += diesel::insert_into(messages::table)
                    .values(chunk)
                    .on_conflict((messages::mailing_id, messages::client_id))
                    .do_nothing()
                    .execute(conn)?;
            }
            Ok(inserted as u64)
        })
    }
}
