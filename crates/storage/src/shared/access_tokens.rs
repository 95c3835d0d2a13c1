use super::BackendStore;
use super::schema::{access_tokens, users};
use super::sessions::AccountRow;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    AccessTokenStore, NewAccessToken, SignedIn, StoreResult, storage_instant,
};

impl AccessTokenStore for BackendStore {
    fn create_access_token(&self, new: &NewAccessToken) -> StoreResult<()> {
        self.write(|conn| {
            diesel::insert_into(access_tokens::table)
                .values((
                    access_tokens::token_id.eq(&new.token_id),
                    access_tokens::username.eq(&new.username),
                    access_tokens::created_at.eq(storage_instant(new.created_at)),
                    access_tokens::expires_at.eq(storage_instant(new.expires_at)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    fn find_access_token(
        &self,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignedIn>> {
        let now = storage_instant(now);
        self.read(|conn| {
            access_tokens::table
                .inner_join(users::table.on(users::username.eq(access_tokens::username)))
                .filter(access_tokens::token_id.eq(token_id))
                .filter(access_tokens::expires_at.gt(now))
                .filter(users::disabled_at.is_null())
                .select(AccountRow::as_select())
                .first(conn)
                .optional()?
                .map(AccountRow::into_signed_in)
                .transpose()
        })
    }

    fn revoke_access_token(&self, token_id: &str) -> StoreResult<bool> {
        self.write(|conn| {
            let revoked =
                diesel::delete(access_tokens::table.filter(access_tokens::token_id.eq(token_id)))
                    .execute(conn)?;
            Ok(revoked > 0)
        })
    }

    fn purge_expired_access_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = storage_instant(now);
        self.write(|conn| {
            let purged =
                diesel::delete(access_tokens::table.filter(access_tokens::expires_at.le(now)))
                    .execute(conn)?;
            Ok(purged as u64)
        })
    }
}
