//! Idempotency keys: a write sent again with the key it was first sent with gets the first
//! answer instead of running twice. One row per account and key holds the request's hash and,
//! once it is answered, the answer; the database's primary key decides which of two concurrent
//! requests with one key runs, on whichever api replica they arrive.

use crate::store::StoreResult;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// Who sent it: keys of different accounts never meet.
    pub account: String,
    /// The key as sent (1 to 255 visible ASCII characters; the caller checks).
    pub key: String,
    /// What was asked (the hex SHA-256 of method, path with query, and body), so that the key
    /// sent with another request is recognised as reused.
    pub request_hash: String,
}

/// How long keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLifetimes {
    /// A key this old counts as never used: [`IdempotencyStore::begin_idempotent`] takes it
    /// for the new request, whatever it held.
    pub ttl: Duration,
    /// A request that has not been answered this long after it began is taken for dead (its
    /// process died mid-request), and the next request with its key and hash runs instead of
    /// waiting for it.
    pub stale_after: Duration,
}

/// The answer kept for a key, sent again as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// The hold a request that runs has on its key, to store its answer with or give the key up.
/// It names the attempt: once another request took a stale key over, this hold is void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHold {
    pub account: String,
    pub key: String,
    /// When the holding request began, as stored.
    pub started_at: DateTime<Utc>,
}

/// What [`IdempotencyStore::begin_idempotent`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// The key is this request's now (new, past its lifetime, or taken over from a request
    /// that went stale): run it, then store the answer or give the key up.
    Started(KeyHold),
    /// The same request was answered before: send this answer again.
    Replay(StoredResponse),
    /// The same request is running now and has not been answered yet.
    InFlight,
    /// The key was used for another request.
    Reused,
}

/// The idempotency keys, each call one transaction.
pub trait IdempotencyStore {
    /// Takes `request.key` for the request, or tells why not. Two calls for one account and key
    /// at once, from any processes, never both get [`Begun::Started`].
    fn begin_idempotent(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
        lifetimes: KeyLifetimes,
    ) -> StoreResult<Begun>;
    /// Stores the answer of the request that holds the key; returns whether it did (not when
    /// the hold is void: the key expired or was taken over, and is no longer this request's).
    fn complete_idempotent(
        &self,
        hold: &KeyHold,
        response: &StoredResponse,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Gives the key up without an answer (the request failed in a way a retry may cure), so
    /// that the next request with it runs; a void hold changes nothing.
    fn abandon_idempotent(&self, hold: &KeyHold) -> StoreResult<()>;
    /// Removes the keys that began at or before `before`; returns how many.
    fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}
