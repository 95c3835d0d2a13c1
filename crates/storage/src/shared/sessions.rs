use super::schema::{admin_sessions, users};
use super::{Backend, BackendStore};
use crate::columns::corrupt;
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    AdminSession, NewAdminSession, SessionStore, SignedIn, StoreResult, storage_instant,
};
use mailing_domain::{Role, SignInMethod, TimeZone, UserId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = admin_sessions, check_for_backend(Backend))]
struct SessionRow {
    id: i64,
    token_hash: String,
    csrf_token: String,
    time_zone: String,
    signed_in_with: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// The session's account as it is now.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(Backend))]
pub(super) struct AccountRow {
    id: i64,
    username: String,
    role: String,
}

impl AccountRow {
    pub(super) fn into_signed_in(self) -> Result<SignedIn, Failure> {
        Ok(SignedIn {
            role: Role::parse(&self.role)
                .ok_or_else(|| corrupt("users", "role", self.id, &self.role))?,
            user_id: UserId(self.id),
            username: self.username,
        })
    }
}

fn into_record((row, account): (SessionRow, AccountRow)) -> Result<AdminSession, Failure> {
    Ok(AdminSession {
        time_zone: TimeZone::parse(&row.time_zone)
            .map_err(|e| corrupt("admin_sessions", "time_zone", row.id, e))?,
        signed_in_with: SignInMethod::parse(&row.signed_in_with).ok_or_else(|| {
            corrupt(
                "admin_sessions",
                "signed_in_with",
                row.id,
                &row.signed_in_with,
            )
        })?,
        user: account.into_signed_in()?,
        id: row.id,
        token_hash: row.token_hash,
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

impl SessionStore for BackendStore {
    /// A session for a username no account has fails as an internal error (the account's
    /// reference), as does a token hash already in use.
    #[tracing::instrument(skip_all, fields(username = %new.username))]
    fn create_session(&self, new: &NewAdminSession) -> StoreResult<AdminSession> {
        self.write(|conn| {
            let id: i64 = diesel::insert_into(admin_sessions::table)
                .values((
                    admin_sessions::token_hash.eq(&new.token_hash),
                    admin_sessions::username.eq(&new.username),
                    admin_sessions::csrf_token.eq(&new.csrf_token),
                    admin_sessions::time_zone.eq(new.time_zone.name()),
                    admin_sessions::signed_in_with.eq(new.signed_in_with.as_str()),
                    admin_sessions::created_at.eq(storage_instant(new.created_at)),
                    admin_sessions::expires_at.eq(storage_instant(new.expires_at)),
                ))
                .returning(admin_sessions::id)
                .get_result(conn)?;
            into_record(
                admin_sessions::table
                    .find(id)
                    .inner_join(users::table.on(users::username.eq(admin_sessions::username)))
                    .select((SessionRow::as_select(), AccountRow::as_select()))
                    .first(conn)?,
            )
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
                .inner_join(users::table.on(users::username.eq(admin_sessions::username)))
                .filter(admin_sessions::token_hash.eq(token_hash))
                .filter(admin_sessions::expires_at.gt(now))
                .filter(users::disabled_at.is_null())
                .select((SessionRow::as_select(), AccountRow::as_select()))
                .first(conn)
                .optional()?
                .map(into_record)
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
