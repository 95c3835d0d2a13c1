//! Idempotency keys: one row per account and key. The insert's conflict on the primary key
//! decides which of several requests with one key runs; the others read the row the winner
//! wrote, under a row lock, so that taking over a stale or expired key happens once too.

use super::schema::idempotency_keys;
use super::{Backend, BackendStore, dialect};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    Begun, IdempotencyStore, IdempotentRequest, KeyHold, KeyLifetimes, StoreError, StoreResult,
    StoredResponse, storage_instant,
};
use std::time::Duration;

/// How often `begin_idempotent` inserts again when the row it lost to vanished before it could
/// read it (given up or purged meanwhile); each round is one statement of the same transaction.
const INSERT_ROUNDS: usize = 3;

#[derive(Queryable, Selectable)]
#[diesel(table_name = idempotency_keys, check_for_backend(Backend))]
struct KeyRow {
    request_hash: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    status_code: Option<i32>,
    content_type: Option<String>,
    location: Option<String>,
    response_body: Option<Vec<u8>>,
}

impl KeyRow {
    /// The stored answer of a completed row.
    fn answer(self) -> Result<StoredResponse, Failure> {
        let corrupt = |column: &str| {
            Failure::Store(StoreError::Internal(format!(
                "stored idempotency_keys.{column} of a completed key is invalid"
            )))
        };
        let status = self
            .status_code
            .and_then(|status| u16::try_from(status).ok())
            .ok_or_else(|| corrupt("status_code"))?;
        Ok(StoredResponse {
            status,
            content_type: self.content_type,
            location: self.location,
            body: self.response_body.ok_or_else(|| corrupt("response_body"))?,
        })
    }
}

fn span(duration: Duration) -> StoreResult<chrono::Duration> {
    chrono::Duration::from_std(duration)
        .map_err(|_| StoreError::Internal(format!("duration {duration:?} out of range")))
}

impl IdempotencyStore for BackendStore {
    #[tracing::instrument(skip_all, fields(account = %request.account))]
    fn begin_idempotent(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
        lifetimes: KeyLifetimes,
    ) -> StoreResult<Begun> {
        let now = storage_instant(now);
        let expired = now - span(lifetimes.ttl)?;
        let stale = now - span(lifetimes.stale_after)?;
        let hold = || {
            Begun::Started(KeyHold {
                account: request.account.clone(),
                key: request.key.clone(),
                started_at: now,
            })
        };
        let of_key = || idempotency_keys::table.find((&request.account, &request.key));
        self.write(|conn| {
            for _ in 0..INSERT_ROUNDS {
                // On PostgreSQL an insert that meets an uncommitted row with its key waits for
                // that transaction, then inserts or does nothing: never both.
                let inserted = diesel::insert_into(idempotency_keys::table)
                    .values((
                        idempotency_keys::account.eq(&request.account),
                        idempotency_keys::key.eq(&request.key),
                        idempotency_keys::request_hash.eq(&request.request_hash),
                        idempotency_keys::created_at.eq(now),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                if inserted == 1 {
                    return Ok(hold());
                }
                let Some(row) = dialect::for_update!(of_key().select(KeyRow::as_select()))
                    .first(conn)
                    .optional()?
                else {
                    continue;
                };
                let same = row.request_hash == request.request_hash;
                let abandoned_run = same && row.completed_at.is_none() && row.created_at <= stale;
                if row.created_at <= expired || abandoned_run {
                    // The row is locked: no other request takes it over meanwhile.
                    diesel::update(of_key())
                        .set((
                            idempotency_keys::request_hash.eq(&request.request_hash),
                            idempotency_keys::created_at.eq(now),
                            idempotency_keys::completed_at.eq(None::<DateTime<Utc>>),
                            idempotency_keys::status_code.eq(None::<i32>),
                            idempotency_keys::content_type.eq(None::<String>),
                            idempotency_keys::location.eq(None::<String>),
                            idempotency_keys::response_body.eq(None::<Vec<u8>>),
                        ))
                        .execute(conn)?;
                    return Ok(hold());
                }
                return Ok(match (same, row.completed_at) {
                    (false, _) => Begun::Reused,
                    (true, None) => Begun::InFlight,
                    (true, Some(_)) => Begun::Replay(row.answer()?),
                });
            }
            // Given up and taken again faster than this transaction could look: someone holds
            // it, or will answer the next retry.
            Ok(Begun::InFlight)
        })
    }

    fn complete_idempotent(
        &self,
        hold: &KeyHold,
        response: &StoredResponse,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let now = storage_instant(now);
        let started_at = storage_instant(hold.started_at);
        self.write(|conn| {
            let updated = diesel::update(
                idempotency_keys::table
                    .find((&hold.account, &hold.key))
                    .filter(idempotency_keys::created_at.eq(started_at))
                    .filter(idempotency_keys::completed_at.is_null()),
            )
            .set((
                idempotency_keys::completed_at.eq(now),
                idempotency_keys::status_code.eq(i32::from(response.status)),
                idempotency_keys::content_type.eq(&response.content_type),
                idempotency_keys::location.eq(&response.location),
                idempotency_keys::response_body.eq(&response.body),
            ))
            .execute(conn)?;
            Ok::<_, Failure>(updated == 1)
        })
    }

    fn abandon_idempotent(&self, hold: &KeyHold) -> StoreResult<()> {
        let started_at = storage_instant(hold.started_at);
        self.write(|conn| {
            diesel::delete(
                idempotency_keys::table
                    .find((&hold.account, &hold.key))
                    .filter(idempotency_keys::created_at.eq(started_at))
                    .filter(idempotency_keys::completed_at.is_null()),
            )
            .execute(conn)?;
            Ok::<_, Failure>(())
        })
    }

    fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let before = storage_instant(before);
        self.write(|conn| {
            let purged = diesel::delete(
                idempotency_keys::table.filter(idempotency_keys::created_at.le(before)),
            )
            .execute(conn)?;
            Ok::<_, Failure>(purged as u64)
        })
    }
}
