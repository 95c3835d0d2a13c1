use super::schema::sign_in_attempts;
use super::{Backend, BackendStore};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{SignInAttempt, SignInAttemptStore, StoreResult, storage_instant};

#[derive(Queryable, Selectable)]
#[diesel(table_name = sign_in_attempts, check_for_backend(Backend))]
struct AttemptRow {
    state_hash: String,
    nonce: String,
    pkce_verifier: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl SignInAttemptStore for BackendStore {
    fn save_sign_in_attempt(&self, attempt: &SignInAttempt) -> StoreResult<()> {
        self.write(|conn| {
            diesel::insert_into(sign_in_attempts::table)
                .values((
                    sign_in_attempts::state_hash.eq(&attempt.state_hash),
                    sign_in_attempts::nonce.eq(&attempt.nonce),
                    sign_in_attempts::pkce_verifier.eq(&attempt.pkce_verifier),
                    sign_in_attempts::created_at.eq(storage_instant(attempt.created_at)),
                    sign_in_attempts::expires_at.eq(storage_instant(attempt.expires_at)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    fn take_sign_in_attempt(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInAttempt>> {
        let now = storage_instant(now);
        self.write(|conn| {
            // Attempts abandoned at the provider are never taken; each new one clears them.
            diesel::delete(sign_in_attempts::table.filter(sign_in_attempts::expires_at.le(now)))
                .execute(conn)?;
            let taken = diesel::delete(sign_in_attempts::table.find(state_hash))
                .returning(AttemptRow::as_returning())
                .get_result(conn)
                .optional()?;
            Ok(taken.map(|row| SignInAttempt {
                state_hash: row.state_hash,
                nonce: row.nonce,
                pkce_verifier: row.pkce_verifier,
                created_at: row.created_at,
                expires_at: row.expires_at,
            }))
        })
    }
}
