//! The storage interface: the records the services read and write, one repository trait per
//! resource, and the narrow view each service takes ([`ApiStore`], [`SchedulerStore`],
//! [`SenderStore`]). Backends (PostgreSQL and SQLite) implement them all as [`Store`]; a process
//! opens one and each service holds only its view, never the database library.
//!
//! Methods are synchronous and each runs as one transaction; async callers run them on a
//! blocking pool. Rules the database enforces (uniqueness, references) come back as
//! [`Rejection`]s, so a caller learns why a write was refused without checking first.

mod access;
mod heartbeats;
mod idempotency;
mod imports;
mod opt_outs;
mod pipeline;
mod records;
mod reports;

pub use access::*;
pub use heartbeats::*;
pub use idempotency::*;
pub use imports::*;
pub use opt_outs::*;
pub use pipeline::*;
pub use records::*;
pub use reports::*;

use crate::attributes::AttributeKey;
use crate::campaign::{FrequencyCap, Pause};
use crate::client::TimeZone;
use crate::filter::ClientFilter;
use crate::ids::{ClientFilterId, ClientId, MailingId, MessageId, OperatorId, TagId};
use crate::invalid::Invalid;
use crate::mailing::{MailingStatus, UpdateRefused};
use crate::operator::OperatorCode;
use crate::tag::TagValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::fmt;

pub type StoreResult<T> = Result<T, StoreError>;

/// Why a storage call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(Entity),
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The database could not be reached or no connection was free in time; worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Internal(String),
}

/// The kinds of record, for messages about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Operator,
    Tag,
    Client,
    ClientFilter,
    Mailing,
    Message,
    Import,
    OptOut,
    User,
    ApiKey,
}

impl Entity {
    pub fn name(self) -> &'static str {
        match self {
            Entity::Operator => "operator",
            Entity::Tag => "tag",
            Entity::Client => "client",
            Entity::ClientFilter => "client filter",
            Entity::Mailing => "mailing",
            Entity::Message => "message",
            Entity::Import => "import",
            Entity::OptOut => "opt-out",
            Entity::User => "user",
            Entity::ApiKey => "API key",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A write refused because of the data already stored, or because the merged result of a
/// partial update breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("a client with this phone number already exists")]
    DuplicatePhone,
    #[error("a tag with this value already exists")]
    DuplicateTag,
    #[error("an account with this username already exists")]
    DuplicateUsername,
    #[error("an API key with this name already exists")]
    DuplicateApiKeyName,
    #[error("an operator with this code already exists")]
    DuplicateOperatorCode,
    #[error("no operator has this code")]
    UnknownOperator,
    #[error("the operator is used by clients")]
    OperatorInUse,
    /// Clients carry the tag, or filters name it.
    #[error("{0}")]
    TagInUse(TagUse),
    #[error("no client filter has this id")]
    UnknownClientFilter,
    #[error(transparent)]
    MailingLocked(#[from] UpdateRefused),
    #[error("a finished mailing cannot be cancelled")]
    MailingFinished,
    /// Pausing or resuming a mailing that is over.
    #[error("a {0} mailing cannot be paused or resumed")]
    MailingOver(MailingStatus),
    /// A resend found nobody to reach.
    #[error(
        "no message of the mailing ended in the statuses given, so a resend would reach nobody"
    )]
    NoResendRecipients,
    /// The merged fields of an update break a rule, e.g. a new `end_at` before the stored
    /// `start_at`.
    #[error("{field} {rule}")]
    Invalid { field: &'static str, rule: Invalid },
}

/// What keeps a tag from being deleted: the clients that carry it (which deleting with
/// `detach` takes it off) and the filters that name it (which must drop it first: they name
/// tags by value, and a filter naming a tag that is gone silently matches fewer clients).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagUse {
    /// How many clients carry the tag.
    pub clients: u64,
    /// Saved client filters that name it.
    pub client_filters: Vec<ClientFilterId>,
    /// Mailings whose filter names it and that have yet to pick their clients (neither
    /// cancelled nor deleted, and not started).
    pub mailings: Vec<MailingId>,
}

impl TagUse {
    /// Whether only clients hold the tag, so that taking it off them lets it go.
    pub fn detachable(&self) -> bool {
        self.client_filters.is_empty() && self.mailings.is_empty()
    }
}

impl fmt::Display for TagUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut holders = Vec::new();
        if self.clients > 0 {
            holders.push(format!(
                "carried by {} client{}",
                self.clients,
                plural(self.clients as usize)
            ));
        }
        let mut named = Vec::new();
        if !self.client_filters.is_empty() {
            named.push(format!(
                "client filter{} {}",
                plural(self.client_filters.len()),
                id_list(&self.client_filters)
            ));
        }
        if !self.mailings.is_empty() {
            let one = self.mailings.len() == 1;
            named.push(format!(
                "the filter of mailing{} {}, which {} not started",
                plural(self.mailings.len()),
                id_list(&self.mailings),
                if one { "has" } else { "have" }
            ));
        }
        if !named.is_empty() {
            holders.push(format!("named in {}", named.join(" and in ")));
        }
        if holders.is_empty() {
            return f.write_str("the tag is in use");
        }
        write!(f, "the tag is {}", holders.join(" and "))
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Ids for a message, at most ten of them: "3, 5, 8" or "1, 2, …, 10 and 4 more".
fn id_list<T: fmt::Display>(ids: &[T]) -> String {
    const SHOWN: usize = 10;
    let listed: Vec<String> = ids.iter().take(SHOWN).map(ToString::to_string).collect();
    match ids.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} and {more} more", listed.join(", ")),
        _ => listed.join(", "),
    }
}

/// Which slice of a list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u32,
}

/// One page of a list and how many items the whole list holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

pub trait OperatorStore {
    fn create_operator(&self, new: &NewOperator) -> StoreResult<Operator>;
    fn get_operator(&self, id: OperatorId) -> StoreResult<Operator>;
    fn list_operators(&self, page: PageRequest) -> StoreResult<Page<Operator>>;
    fn update_operator(&self, id: OperatorId, patch: &OperatorPatch) -> StoreResult<Operator>;
    fn delete_operator(&self, id: OperatorId) -> StoreResult<()>;
}

pub trait TagStore {
    fn create_tag(&self, new: &NewTag) -> StoreResult<Tag>;
    fn get_tag(&self, id: TagId) -> StoreResult<Tag>;
    fn list_tags(&self, page: PageRequest) -> StoreResult<Page<Tag>>;
    fn update_tag(&self, id: TagId, new: &NewTag) -> StoreResult<Tag>;
    /// Deletes a tag nothing uses. A tag clients carry is refused with
    /// [`Rejection::TagInUse`], unless `detach` asks to take it off them first; a tag a saved
    /// filter or a mailing yet to start names is refused either way.
    fn delete_tag(&self, id: TagId, detach: bool) -> StoreResult<()>;
}

pub trait ClientStore {
    /// Tags the client names are created if they do not exist yet.
    fn create_client(&self, new: &NewClient) -> StoreResult<Client>;
    fn get_client(&self, id: ClientId) -> StoreResult<Client>;
    /// The clients `query` selects, by id; `page.offset` skips clients after `query.after`.
    fn list_clients(&self, query: &ClientQuery, page: PageRequest) -> StoreResult<ClientPage>;
    fn update_client(&self, id: ClientId, patch: &ClientPatch) -> StoreResult<Client>;
    /// Cancels the client's unsent messages, then removes the client; its sent messages stay.
    fn delete_client(&self, id: ClientId) -> StoreResult<()>;
    /// How many clients `filter` matches right now: the number of messages a mailing with this
    /// filter would get if it were expanded now (the same selection as
    /// [`SchedulerStore::expand_mailing`]).
    fn count_matching(&self, filter: &ClientFilter) -> StoreResult<u64>;
    /// Like [`ClientStore::count_matching`], but stops counting at `cap`: as cheap for a filter
    /// matching millions as for one matching `cap`.
    fn count_matching_up_to(&self, filter: &ClientFilter, cap: u64) -> StoreResult<u64>;
    /// How many clients `filter` matches right now in each time zone.
    fn count_matching_by_zone(&self, filter: &ClientFilter) -> StoreResult<Vec<(TimeZone, u64)>>;
    /// For each of `keys`, how many of the clients `filter` matches right now have no value
    /// for that attribute (or an empty text), in the order given.
    fn count_lacking(&self, filter: &ClientFilter, keys: &[AttributeKey]) -> StoreResult<Vec<u64>>;
    /// Up to `limit` of the clients `filter` matches right now, in id order after `after`:
    /// what a mailing's text shows of them, and whether their number opted out.
    fn matching_clients_after(
        &self,
        filter: &ClientFilter,
        after: Option<ClientId>,
        limit: u32,
    ) -> StoreResult<Vec<MatchingClient>>;
    /// The codes among `codes` that no operator has.
    fn missing_operators(&self, codes: &[OperatorCode]) -> StoreResult<Vec<OperatorCode>>;
    /// The values among `values` that no tag has.
    fn missing_tags(&self, values: &[TagValue]) -> StoreResult<Vec<TagValue>>;
}

pub trait ClientFilterStore {
    fn create_client_filter(&self, new: &NewSavedFilter) -> StoreResult<SavedFilter>;
    fn get_client_filter(&self, id: ClientFilterId) -> StoreResult<SavedFilter>;
    fn list_client_filters(&self, page: PageRequest) -> StoreResult<Page<SavedFilter>>;
    fn update_client_filter(
        &self,
        id: ClientFilterId,
        patch: &SavedFilterPatch,
    ) -> StoreResult<SavedFilter>;
    /// Mailings that copied the filter keep their copy.
    fn delete_client_filter(&self, id: ClientFilterId) -> StoreResult<()>;
}

pub trait MailingStore {
    /// A saved filter named by the draft is copied into the mailing.
    fn create_mailing(&self, draft: &MailingDraft) -> StoreResult<Mailing>;
    fn get_mailing(&self, id: MailingId) -> StoreResult<Mailing>;
    fn list_mailings(&self, page: PageRequest) -> StoreResult<Page<Mailing>>;
    /// The mailings in `status` at `now` (see [`crate::mailing::MailingSchedule::status`]).
    fn list_mailings_in_status(
        &self,
        status: MailingStatus,
        now: DateTime<Utc>,
        page: PageRequest,
    ) -> StoreResult<Page<Mailing>>;
    /// Applies `patch` if the mailing's status at `now` allows it (see
    /// [`crate::mailing::check_update`]).
    fn update_mailing(
        &self,
        id: MailingId,
        patch: &MailingPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Mailing>;
    /// Marks the mailing cancelled and cancels its unsent messages. Cancelling twice is a no-op.
    fn cancel_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Mailing>;
    /// Removes the mailing from view and cancels its unsent messages; the messages stay.
    fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<()>;
    /// Pauses the mailing by hand: nothing new is claimed for it until it is resumed. Pausing
    /// a paused mailing changes nothing (one paused by itself stays so, with its reason); a
    /// finished or cancelled one is refused with [`Rejection::MailingOver`].
    fn pause_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Mailing>;
    /// Ends the mailing's pause; its waiting messages are claimed again as they fall due.
    /// Resuming a mailing that is not paused changes nothing; a finished or cancelled one is
    /// refused with [`Rejection::MailingOver`].
    fn resume_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Mailing>;
    /// The mailing's pauses, oldest first.
    fn mailing_pauses(&self, id: MailingId) -> StoreResult<Vec<Pause>>;
    /// Creates a mailing to the clients whose messages of the original ended in the statuses
    /// asked for (clients deleted since are left out), fixing that list now; refused with
    /// [`Rejection::NoResendRecipients`] when it is empty.
    fn resend_mailing(&self, draft: &ResendDraft, now: DateTime<Utc>) -> StoreResult<Mailing>;
}

/// Whether the database answers and holds the schema this binary expects, which every narrow
/// store can tell, for readiness probes.
pub trait Ping {
    fn ping(&self) -> StoreResult<()>;
    /// The migrations this binary carries that the database has not applied (their names,
    /// oldest first): empty when the schema is current, or ahead because a newer release
    /// migrated it. Only reads: an empty database is not given diesel's bookkeeping table.
    /// Once the schema was found current, later calls may answer from memory: schemas are
    /// never rolled back under a running release.
    fn pending_migrations(&self) -> StoreResult<Vec<String>>;
}

/// The schema's upkeep, which the api does at start in the dev profile.
pub trait Migrate {
    /// Brings the schema up to date; returns the versions applied now.
    fn migrate(&self) -> StoreResult<Vec<String>>;
}

/// Counts of every mailing's messages together, by status: what the api's statistics and the
/// scheduler's gauges both read. Deleted mailings' messages are not counted, as everywhere in
/// [`MessageStore`].
pub trait MessageTotals {
    fn message_totals(&self) -> StoreResult<StatusCounts>;
}

/// The messages, as the api reads them. A deleted mailing's messages leave every read here
/// along with it: lists, lookups (not found) and counts. They stay in the database, sent ones
/// with their recipient and time, but nothing shows them.
pub trait MessageStore: MessageTotals {
    fn get_message(&self, id: MessageId) -> StoreResult<Message>;
    fn list_messages(&self, query: &MessageQuery, page: PageRequest) -> StoreResult<Page<Message>>;
    /// Counts of one mailing's messages by status.
    fn count_messages(&self, mailing: MailingId) -> StoreResult<StatusCounts>;
    /// Counts for several mailings at once; mailings without messages are absent.
    fn count_messages_of(
        &self,
        mailings: &[MailingId],
    ) -> StoreResult<HashMap<MailingId, StatusCounts>>;
    /// Inserts messages, each addressed to its client's current number; a (mailing, client)
    /// pair that already has one is skipped. Returns how many were inserted.
    fn insert_messages(&self, new: &[NewMessage]) -> StoreResult<u64>;
    /// How many messages of each mailing reached status sent with `sent_at >= since`, for a
    /// delivery rate; mailings with none are absent.
    fn sent_since(
        &self,
        mailings: &[MailingId],
        since: DateTime<Utc>,
    ) -> StoreResult<HashMap<MailingId, u64>>;
}

/// The transactional outbox: mailing writes add an event in the same transaction; a relay
/// publishes them and marks them published only after the broker confirmed.
pub trait OutboxStore {
    /// Claims up to `limit` unpublished events for `lease`, oldest first, skipping events
    /// another relay holds; an event whose lease ran out (its relay died) is claimable again.
    fn claim_outbox(
        &self,
        limit: u32,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxEvent>>;
    fn mark_published(&self, ids: &[i64], now: DateTime<Utc>) -> StoreResult<()>;
    /// Events written but not yet published, and when the oldest of them was written: the
    /// outbox's lag, for metrics and tests.
    fn outbox_backlog(&self) -> StoreResult<OutboxBacklog>;
}

/// What the scheduler does, each call one set-based transaction that several scheduler
/// replicas may run at once without handing out a message twice.
pub trait SchedulerStore: Ping + MessageTotals + ReportStore + Send + Sync + 'static {
    /// Mailings that should be expanded at `now` (started somewhere, not expanded, not
    /// cancelled or deleted), oldest first.
    fn mailings_to_expand(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailingId>>;
    /// Creates one message per client matching the mailing's filter at this moment, planned per
    /// time zone. `None` if the mailing is gone, cancelled, already expanded or being expanded
    /// by another replica; running it twice creates nothing new.
    fn expand_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<Option<Expansion>>;
    /// Plans the mailing's waiting messages again after its end or window changed; returns
    /// how many changed.
    fn replan_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Marks up to `limit` due messages `queued` with the claim time
    /// [`storage_instant`]`(now)` and returns them, skipping rows another replica holds.
    fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MessageId>>;
    /// Returns claimed messages that could not be handed to a sender.
    fn release(&self, ids: &[MessageId], now: DateTime<Utc>) -> StoreResult<u64>;
    /// Returns messages whose claim was neither made nor renewed since `cutoff` (their sender
    /// vanished).
    fn reclaim_stale(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Expires waiting messages whose deadline passed.
    fn expire_overdue(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Messages due now or earlier and not yet claimed, of mailings not paused, for metrics.
    fn due_backlog(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Mailings paused at `now` (paused before their end, not cancelled), for metrics.
    fn paused_mailings(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// What the sender reads and writes.
pub trait SenderStore: Ping + SenderHeartbeats + BreakerTripLog + Send + Sync + 'static {
    /// The messages with their client and mailing; ids that do not exist are absent.
    fn load_for_send(&self, ids: &[MessageId]) -> StoreResult<Vec<SendTask>>;
    /// The current schedule and state of mailings; deleted or missing ones are absent.
    fn mailing_states(&self, ids: &[MailingId]) -> StoreResult<Vec<MailingState>>;
    /// Renews the claims a sender is working on, so they are not taken back from it; a claim
    /// that changed meanwhile is left alone. Returns the messages whose claim was renewed.
    fn renew_claims(
        &self,
        claims: &[(MessageId, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageId>>;
    /// Pauses a running mailing because its attempts fail (`detail` says how), unless it is
    /// paused, cancelled, deleted or over already. Returns whether this call paused it.
    fn auto_pause_mailing(
        &self,
        id: MailingId,
        detail: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Checks `cap` for the client of a message queued under `claimed_at`, right before its
    /// attempt, one client at a time across every sender: its deliveries within the cap's span
    /// and its messages held for an attempt count. When the cap allows, the message is held
    /// (counted until its outcome is written); when it does not, the mailing's deferrals are
    /// counted and the answer says until when to wait.
    fn hold_for_cap(
        &self,
        message: MessageId,
        claimed_at: DateTime<Utc>,
        cap: FrequencyCap,
        now: DateTime<Utc>,
    ) -> StoreResult<CapHold>;
    /// Writes outcomes of claimed messages in one transaction. An outcome for a message that
    /// is no longer `queued` (cancelled meanwhile, or handled by another sender) is skipped.
    /// Returns the ids written.
    fn record_outcomes(&self, outcomes: &[Outcome]) -> StoreResult<Vec<MessageId>>;
}

/// What the api reads and writes: every resource, the accounts and sessions, and the outbox
/// its relay publishes. Each backend implements it (and [`Store`]) with an empty block.
pub trait ApiStore:
    OperatorStore
    + TagStore
    + ClientStore
    + ClientFilterStore
    + MailingStore
    + MessageStore
    + OptOutStore
    + UserStore
    + SessionStore
    + AccessTokenStore
    + ApiKeyStore
    + SignInAttemptStore
    + AuditStore
    + ReportStore
    + IdempotencyStore
    + ImportStore
    + OutboxStore
    + Ping
    + Migrate
    + Send
    + Sync
    + 'static
{
}

/// Everything storage offers. A process opens one and hands each service the narrow view it
/// needs.
pub trait Store: ApiStore + SchedulerStore + SenderStore {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_in_use_says_what_holds_it() {
        let clients = TagUse {
            clients: 3,
            ..TagUse::default()
        };
        assert!(clients.detachable());
        assert_eq!(clients.to_string(), "the tag is carried by 3 clients");
        let named = TagUse {
            clients: 1,
            client_filters: (1..=12).map(ClientFilterId).collect(),
            mailings: vec![MailingId(7), MailingId(9)],
        };
        assert!(!named.detachable());
        assert_eq!(
            named.to_string(),
            "the tag is carried by 1 client and named in client filters \
             1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more and in the filter of mailings 7, 9, which \
             have not started"
        );
        let one = TagUse {
            mailings: vec![MailingId(4)],
            ..TagUse::default()
        };
        assert_eq!(
            one.to_string(),
            "the tag is named in the filter of mailing 4, which has not started"
        );
    }
}
