use super::dialect::{self, MAX_BIND_PARAMETERS, now};
use super::schema::{clients, mailings, message_counts, messages};
use super::{Backend, BackendStore, Conn};
use crate::columns::{
    add_count, add_segments, bounds, corrupt, message_status, starts_with, total,
};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::dsl::{self, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use mailing_domain::store::{
    Entity, Message, MessageQuery, MessageStore, MessageTotals, NewMessage, Page, PageRequest,
    StatusCounts, StoreError, StoreResult, storage_instant,
};
use mailing_domain::{
    ClientId, Encoding, MailingId, MessageId, MessageStatus, MessageText, PhoneNumber,
};
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages, check_for_backend(Backend))]
struct MessageRow {
    id: i64,
    mailing_id: i64,
    client_id: Option<i64>,
    phone_number: Option<String>,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[diesel(embed)]
    text: SentTextRow,
}

/// The text a message's first attempt sent, with its encoding and parts: all or none.
#[derive(Queryable, Selectable)]
#[diesel(table_name = messages, check_for_backend(Backend))]
pub(super) struct SentTextRow {
    text: Option<String>,
    encoding: Option<String>,
    segments: Option<i32>,
}

impl SentTextRow {
    pub(super) fn into_text(self, id: i64) -> Result<Option<MessageText>, Failure> {
        match (self.text, self.encoding, self.segments) {
            (Some(text), Some(encoding), Some(segments)) => Ok(Some(MessageText {
                text,
                encoding: Encoding::parse(&encoding)
                    .ok_or_else(|| corrupt("messages", "encoding", id, "not gsm7 or ucs2"))?,
                segments: u32::try_from(segments)
                    .map_err(|e| corrupt("messages", "segments", id, e))?,
            })),
            (None, None, None) => Ok(None),
            _ => Err(corrupt(
                "messages",
                "text",
                id,
                "text, encoding and segments are not set together",
            )),
        }
    }
}

impl MessageRow {
    fn into_record(self) -> Result<Message, Failure> {
        Ok(Message {
            id: MessageId(self.id),
            mailing_id: MailingId(self.mailing_id),
            client_id: self.client_id.map(ClientId),
            phone: self
                .phone_number
                .map(|raw| PhoneNumber::parse(&raw))
                .transpose()
                .map_err(|e| corrupt("messages", "phone_number", self.id, e))?,
            status: message_status(&self.status, self.id)?,
            attempts: u32::try_from(self.attempts)
                .map_err(|e| corrupt("messages", "attempts", self.id, e))?,
            last_error: self.last_error,
            next_attempt_at: self.next_attempt_at,
            sent_at: self.sent_at,
            text: self.text.into_text(self.id)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A message to insert, before its mailing was checked.
struct NewMessageRow {
    mailing_id: i64,
    client_id: i64,
    status: &'static str,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    queued_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// Rows per INSERT: each binds at most eleven parameters (the timestamps may be bound values
/// too), and a statement stays under the backend's limit.
const INSERT_CHUNK: usize = MAX_BIND_PARAMETERS / 11;

/// Ids per statement where a list of ids is bound: PostgreSQL binds the list as one array, but
/// SQLite binds each id as a parameter of its own.
pub(super) const ID_SLICE: usize = MAX_BIND_PARAMETERS - 16;

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Message);

/// Cancels the messages of `mailing` that may still reach the probe; sent and otherwise finished
/// ones keep their outcome. (A deleted client's messages are cancelled by the database.)
pub(super) fn cancel_unsent(conn: &mut Conn, mailing: i64) -> QueryResult<usize> {
    let unsent = MessageStatus::UNSENT.map(MessageStatus::as_str);
    diesel::update(
        messages::table
            .filter(messages::status.eq_any(unsent))
            .filter(messages::mailing_id.eq(mailing)),
    )
    .set((
        messages::status.eq(MessageStatus::Cancelled.as_str()),
        messages::queued_at.eq(None::<DateTime<Utc>>),
        messages::claim_renewed_at.eq(None::<DateTime<Utc>>),
        messages::updated_at.eq(now()),
    ))
    .execute(conn)
}

/// Lets the mailing's messages that are still waiting to be sent again (a retry, or a message
/// deferred after its attempt) send its new text: they forget the text their earlier attempt
/// sent. A message in a sender's hands keeps its text, as does each one sent or failed.
pub(super) fn forget_sent_texts(conn: &mut Conn, mailing: i64) -> QueryResult<usize> {
    diesel::update(
        messages::table
            .filter(messages::mailing_id.eq(mailing))
            .filter(messages::status.eq_any([
                MessageStatus::Scheduled.as_str(),
                MessageStatus::Retrying.as_str(),
            ]))
            .filter(messages::text.is_not_null()),
    )
    .set((
        messages::text.eq(None::<String>),
        messages::encoding.eq(None::<String>),
        messages::segments.eq(None::<i32>),
        messages::updated_at.eq(dialect::now()),
    ))
    .execute(conn)
}

/// Which of the mailings `rows` belong to may still get messages (they exist and are neither
/// cancelled nor deleted), holding them until the transaction ends.
///
/// The share lock orders this insert with a concurrent cancellation or deletion, which locks
/// the mailing for update: either the cancellation comes first and these rows are skipped, or
/// it waits for them to commit and then cancels them with the rest. Without it, messages could
/// be created for a mailing cancelled a moment earlier, and sent.
fn lock_open_mailings(conn: &mut Conn, rows: &[NewMessageRow]) -> QueryResult<HashSet<i64>> {
    let ids: BTreeSet<i64> = rows.iter().map(|row| row.mailing_id).collect();
    let ids: Vec<i64> = ids.into_iter().collect();
    let open: Vec<i64> = dialect::for_share!(
        mailings::table
            .filter(mailings::id.eq_any(&ids))
            .filter(mailings::cancelled_at.is_null())
            .filter(mailings::deleted_at.is_null())
            .select(mailings::id)
            .order(mailings::id.asc())
    )
    .load(conn)?;
    Ok(open.into_iter().collect())
}

/// The ids of deleted mailings, whose messages no read shows.
#[dsl::auto_type]
fn deleted_mailings() -> _ {
    mailings::table
        .filter(mailings::deleted_at.is_not_null())
        .select(mailings::id)
}

/// Messages whose mailing was not deleted.
#[dsl::auto_type(no_type_alias)]
fn of_visible_mailings() -> _ {
    dsl::not(messages::mailing_id.eq_any(deleted_mailings()))
}

/// Counts whose mailing was not deleted.
#[dsl::auto_type(no_type_alias)]
fn counts_of_visible_mailings() -> _ {
    dsl::not(message_counts::mailing_id.eq_any(deleted_mailings()))
}

/// `query`'s conditions on the messages table, for both the page and its total.
fn filtered(query: &MessageQuery) -> messages::BoxedQuery<'static, Backend> {
    let mut selected = messages::table.filter(of_visible_mailings()).into_boxed();
    if let Some(mailing) = query.mailing_id {
        selected = selected.filter(messages::mailing_id.eq(mailing.0));
    }
    if let Some(client) = query.client_id {
        selected = selected.filter(messages::client_id.eq(client.0));
    }
    if let Some(status) = query.status {
        selected = selected.filter(messages::status.eq(status.as_str()));
    }
    if let Some(prefix) = &query.phone_prefix {
        selected = selected.filter(
            messages::phone_number
                .like(starts_with(prefix))
                .escape('\\'),
        );
    }
    selected
}

/// `status = 'sent'` with the status written into the statement rather than bound: only then
/// can the planner tell the query reads sent messages alone and use the partial index
/// `messages_sent_idx` (SQLite never matches a bound value against an index's WHERE, nor does
/// a generic PostgreSQL plan).
fn is_sent() -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>("messages.status = 'sent'")
}

/// A group's count: the sum of its `message_counts` rows. As a 64-bit integer on both backends
/// (PostgreSQL would sum to `numeric`).
fn summed() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>("CAST(SUM(message_counts.messages) AS BIGINT)")
}

/// A group's parts: the sum of its `message_counts` rows' segments.
fn summed_segments() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>("CAST(SUM(message_counts.segments) AS BIGINT)")
}

/// The messages of each of the mailings `ids` (not deleted) by status; a mailing with none is
/// absent.
pub(super) fn counts_by_mailing(
    conn: &mut Conn,
    ids: &[i64],
) -> Result<HashMap<MailingId, StatusCounts>, Failure> {
    let rows: Vec<(i64, String, i64, i64)> = message_counts::table
        .filter(message_counts::mailing_id.eq_any(ids))
        .filter(counts_of_visible_mailings())
        .group_by((message_counts::mailing_id, message_counts::status))
        .select((
            message_counts::mailing_id,
            message_counts::status,
            summed(),
            summed_segments(),
        ))
        .load(conn)?;
    let mut by_mailing: HashMap<MailingId, StatusCounts> = HashMap::new();
    // A count that went back to zero leaves its row; a mailing with no messages stays absent.
    for (mailing, status, count, segments) in rows.into_iter().filter(|row| row.2 != 0) {
        let counts = by_mailing.entry(MailingId(mailing)).or_default();
        add_count(counts, &status, count)?;
        add_segments(counts, &status, segments)?;
    }
    Ok(by_mailing)
}

/// Status counts from `(status, count, segments)` rows.
fn by_status(rows: Vec<(String, i64, i64)>) -> Result<StatusCounts, Failure> {
    let mut counts = StatusCounts::default();
    for (status, count, segments) in rows {
        add_count(&mut counts, &status, count)?;
        add_segments(&mut counts, &status, segments)?;
    }
    Ok(counts)
}

/// How many of a mailing's messages `query` matches, from the counts the database keeps: what
/// counting the messages themselves would take a scan of the whole mailing for.
fn counted(conn: &mut Conn, mailing: MailingId, query: &MessageQuery) -> Result<i64, Failure> {
    let mut selected = message_counts::table
        .filter(message_counts::mailing_id.eq(mailing.0))
        .filter(counts_of_visible_mailings())
        .into_boxed();
    if let Some(status) = query.status {
        selected = selected.filter(message_counts::status.eq(status.as_str()));
    }
    Ok(selected
        .select(sql::<BigInt>(
            "CAST(COALESCE(SUM(message_counts.messages), 0) AS BIGINT)",
        ))
        .get_result(conn)?)
}

/// The one mailing all of `new` belong to, if there is one, for the span.
fn common_mailing(new: &[NewMessage]) -> Option<i64> {
    let first = new.first()?.mailing_id;
    new.iter()
        .all(|message| message.mailing_id == first)
        .then_some(first.0)
}

impl MessageStore for BackendStore {
    #[tracing::instrument(skip_all, fields(message_id = id.0))]
    fn get_message(&self, id: MessageId) -> StoreResult<Message> {
        self.read(|conn| {
            messages::table
                .find(id.0)
                .filter(of_visible_mailings())
                .select(MessageRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    #[tracing::instrument(
        skip_all,
        fields(
            mailing_id = query.mailing_id.map(|id| id.0),
            client_id = query.client_id.map(|id| id.0),
        )
    )]
    fn list_messages(&self, query: &MessageQuery, page: PageRequest) -> StoreResult<Page<Message>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count = match (query.mailing_id, query.client_id, &query.phone_prefix) {
                (Some(mailing), None, None) => counted(conn, mailing, query)?,
                _ => filtered(query).count().get_result(conn)?,
            };
            let items = filtered(query)
                .select(MessageRow::as_select())
                .order(messages::id.asc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(MessageRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = mailing.0))]
    fn count_messages(&self, mailing: MailingId) -> StoreResult<StatusCounts> {
        self.read(|conn| {
            let rows = message_counts::table
                .filter(message_counts::mailing_id.eq(mailing.0))
                .filter(counts_of_visible_mailings())
                .group_by(message_counts::status)
                .select((message_counts::status, summed(), summed_segments()))
                .load(conn)?;
            by_status(rows)
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
        self.read(|conn| counts_by_mailing(conn, &ids))
    }

    /// Messages of mailings that are cancelled, deleted or missing are skipped as well, and
    /// not counted.
    #[tracing::instrument(skip_all, fields(mailing_id = common_mailing(new), count = new.len()))]
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
                Ok(NewMessageRow {
                    mailing_id: message.mailing_id.0,
                    client_id: message.client_id.0,
                    status: message.status.as_str(),
                    attempts,
                    next_attempt_at: message.next_attempt_at.map(storage_instant),
                    sent_at: message.sent_at.map(storage_instant),
                    // A claimed message carries its claim time (the schema insists).
                    queued_at: (message.status == MessageStatus::Queued)
                        .then(|| storage_instant(Utc::now())),
                    last_error: message.last_error.clone(),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.write(move |conn| {
            let open = lock_open_mailings(conn, &rows)?;
            // Each message is addressed to its client's number as it is now. A client missing
            // here leaves its message without one, and the database refuses the insert.
            let clients: BTreeSet<i64> = rows.iter().map(|row| row.client_id).collect();
            let clients: Vec<i64> = clients.into_iter().collect();
            let mut phones: HashMap<i64, String> = HashMap::with_capacity(clients.len());
            for slice in clients.chunks(ID_SLICE) {
                let found: Vec<(i64, String)> = clients::table
                    .filter(clients::id.eq_any(slice))
                    .select((clients::id, clients::phone_number))
                    .load(conn)?;
                phones.extend(found);
            }
            let values: Vec<_> = rows
                .into_iter()
                .filter(|row| open.contains(&row.mailing_id))
                .map(|row| {
                    (
                        messages::mailing_id.eq(row.mailing_id),
                        messages::client_id.eq(Some(row.client_id)),
                        messages::phone_number.eq(phones.get(&row.client_id).cloned()),
                        messages::last_error.eq(row.last_error),
                        messages::status.eq(row.status),
                        messages::attempts.eq(row.attempts),
                        messages::next_attempt_at.eq(row.next_attempt_at),
                        messages::sent_at.eq(row.sent_at),
                        messages::queued_at.eq(row.queued_at),
                        messages::created_at.eq(now()),
                        messages::updated_at.eq(now()),
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

    fn sent_since(
        &self,
        mailings: &[MailingId],
        since: DateTime<Utc>,
    ) -> StoreResult<HashMap<MailingId, u64>> {
        if mailings.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = mailings.iter().map(|id| id.0).collect();
        let since = storage_instant(since);
        self.read(|conn| {
            let mut sent = HashMap::new();
            for slice in ids.chunks(ID_SLICE) {
                // A range of `messages_sent_idx` per mailing.
                let rows: Vec<(i64, i64)> = messages::table
                    .filter(messages::mailing_id.eq_any(slice))
                    .filter(of_visible_mailings())
                    .filter(is_sent())
                    .filter(messages::sent_at.ge(since))
                    .group_by(messages::mailing_id)
                    .select((messages::mailing_id, dsl::count_star()))
                    .load(conn)?;
                sent.extend(
                    rows.into_iter()
                        .map(|(mailing, count)| (MailingId(mailing), total(count))),
                );
            }
            Ok(sent)
        })
    }
}

impl MessageTotals for BackendStore {
    fn message_totals(&self) -> StoreResult<StatusCounts> {
        self.read(|conn| {
            let rows = message_counts::table
                .filter(counts_of_visible_mailings())
                .group_by(message_counts::status)
                .select((message_counts::status, summed(), summed_segments()))
                .load(conn)?;
            by_status(rows)
        })
    }
}
