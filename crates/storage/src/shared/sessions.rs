use super::schema::admin_sessions;
use super::{Backend, BackendStore};
use crate::columns::corrupt;
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::TimeZone;
use mailing_domain::store::{
    AdminSession, NewAdminSession, SessionStore, StoreResult, storage_instant,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = admin_sessions, check_for_backend(Backend))]
struct SessionRow {
    id: i64,
    token_hash: String,
    username: String,
    csrf_token: String,
    time_zone: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl SessionRow {
    fn into_record(self) -> Result<AdminSession, Failure> {
        Ok(AdminSession {
            time_zone: TimeZone::parse(&self.time_zone)
                .map_err(|e| corrupt("admin_sessions", "time_zone", self.id, e))?,
            id: self.id,
            token_hash: self.token_hash,
            username: self.username,
            csrf_token: self.csrf_token,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

impl SessionStore for BackendStore {
    /// A session for a username no account has fails as an internal error (the account's
    /// reference), as does a token hash already in use.
    #[tracing::instrument(skip_all, fields(username = %new.username))]
    fn create_session(&self, new: &NewAdminSession) -> StoreResult<AdminSession> {
        self.write(|conn| {
            diesel::insert_into(admin_sessions::table)
                .values((
                    admin_sessions::token_hash.eq(&new.token_hash),
                    admin_sessions::username.eq(&new.username),
                    admin_sessions::csrf_token.eq(&new.csrf_token),
                    admin_sessions::time_zone.eq(new.time_zone.name()),
                    admin_sessions::created_at.eq(storage_instant(new.created_at)),
                    admin_sessions::expires_at.eq(storage_instant(new.expires_at)),
                ))
                .returning(SessionRow::as_returning())
                .get_result(conn)?
                .into_record()
        })
    }

    fn find_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AdminSession>> {
        let now = storage_instant(now);
        self.read(|conn| {
            admin_sessions::table
                .filter(admin_sessions::token_hash.eq(token_hash))
                .filter(admin_sessions::expires_at.gt(now))
                .select(SessionRow::as_select())
                .first(conn)
                .optional()?
                .map(SessionRow::into_record)
                .transpose()
        })
    }

    fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.write(|conn| {
            diesel::delete(admin_sessions::table.filter(admin_sessions::token_hash.eq(token_hash)))
                .execute(conn)?;
            Ok(())
        })
    }

    fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now = storage_instant(now);
        self.write(|conn| {
            let purged =
                diesel::delete(admin_sessions::table.filter(admin_sessions::expires_at.le(now)))
                    .execute(conn)?;
            Ok(purged as u64)
        })
    }
}
