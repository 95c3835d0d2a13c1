use super::dialect::now;
use super::schema::{access_tokens, admin_sessions, users};
use super::{Backend, BackendStore, Conn};
use crate::columns::{bounds, corrupt, total};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use mailing_domain::store::{
    Entity, NewUser, OidcSubject, Page, PageRequest, StoreError, StoreResult, User, UserChange,
    UserStore, storage_instant,
};
use mailing_domain::{Role, UserId};

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::User);

/// The stored hash of an account without a password.
const NO_PASSWORD: &str = "";

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(Backend))]
struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
    role: String,
    disabled_at: Option<DateTime<Utc>>,
    oidc_issuer: Option<String>,
    oidc_subject: Option<String>,
    created_at: DateTime<Utc>,
    last_sign_in_at: Option<DateTime<Utc>>,
}

impl UserRow {
    fn into_record(self) -> Result<User, Failure> {
        let role =
            Role::parse(&self.role).ok_or_else(|| corrupt("users", "role", self.id, &self.role))?;
        Ok(User {
            id: UserId(self.id),
            username: self.username,
            role,
            password_hash: Some(self.password_hash).filter(|hash| hash != NO_PASSWORD),
            disabled: self.disabled_at.is_some(),
            oidc: self
                .oidc_issuer
                .zip(self.oidc_subject)
                .map(|(issuer, subject)| OidcSubject { issuer, subject }),
            created_at: self.created_at,
            last_sign_in_at: self.last_sign_in_at,
        })
    }
}

fn user_by_id(conn: &mut Conn, id: UserId) -> Result<User, Failure> {
    users::table
        .find(id.0)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Failure::Store(NOT_FOUND))?
        .into_record()
}

/// Ends every session and access token of the account.
fn sign_out_everywhere(conn: &mut Conn, username: &str) -> Result<(), Failure> {
    diesel::delete(admin_sessions::table.filter(admin_sessions::username.eq(username)))
        .execute(conn)?;
    diesel::delete(access_tokens::table.filter(access_tokens::username.eq(username)))
        .execute(conn)?;
    Ok(())
}

impl UserStore for BackendStore {
    fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|conn| {
            users::table
                .filter(users::username.eq(username))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?
                .map(UserRow::into_record)
                .transpose()
        })
    }

    fn get_user(&self, id: UserId) -> StoreResult<User> {
        self.read(|conn| user_by_id(conn, id))
    }

    fn list_users(&self, page: PageRequest) -> StoreResult<Page<User>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = users::table.count().get_result(conn)?;
            let items = users::table
                .select(UserRow::as_select())
                .order(users::username.asc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(UserRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    fn save_user(&self, username: &str, password_hash: &str) -> StoreResult<User> {
        self.write(|conn| {
            diesel::insert_into(users::table)
                .values((
                    users::username.eq(username),
                    users::password_hash.eq(password_hash),
                    users::role.eq(Role::Admin.as_str()),
                    users::created_at.eq(now()),
                    users::updated_at.eq(now()),
                ))
                .on_conflict(users::username)
                .do_update()
                .set((
                    users::password_hash.eq(excluded(users::password_hash)),
                    users::role.eq(excluded(users::role)),
                    users::disabled_at.eq(None::<DateTime<Utc>>),
                    users::updated_at.eq(now()),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)?
                .into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(username = %new.username))]
    fn create_user(&self, new: &NewUser) -> StoreResult<User> {
        self.write(|conn| {
            diesel::insert_into(users::table)
                .values((
                    users::username.eq(&new.username),
                    users::password_hash.eq(new.password_hash.as_deref().unwrap_or(NO_PASSWORD)),
                    users::role.eq(new.role.as_str()),
                    users::created_at.eq(now()),
                    users::updated_at.eq(now()),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)?
                .into_record()
        })
    }

    fn change_user(&self, id: UserId, change: &UserChange) -> StoreResult<User> {
        self.write(|conn| {
            let before = user_by_id(conn, id)?;
            if let Some(role) = change.role {
                diesel::update(users::table.find(id.0))
                    .set(users::role.eq(role.as_str()))
                    .execute(conn)?;
            }
            if let Some(password_hash) = &change.password_hash {
                diesel::update(users::table.find(id.0))
                    .set(users::password_hash.eq(password_hash.as_deref().unwrap_or(NO_PASSWORD)))
                    .execute(conn)?;
            }
            match change.disabled {
                Some(true) if !before.disabled => {
                    diesel::update(users::table.find(id.0))
                        .set(users::disabled_at.eq(now()))
                        .execute(conn)?;
                    sign_out_everywhere(conn, &before.username)?;
                }
                Some(false) => {
                    diesel::update(users::table.find(id.0))
                        .set(users::disabled_at.eq(None::<DateTime<Utc>>))
                        .execute(conn)?;
                }
                _ => {}
            }
            diesel::update(users::table.find(id.0))
                .set(users::updated_at.eq(now()))
                .execute(conn)?;
            user_by_id(conn, id)
        })
    }

    fn delete_user(&self, id: UserId) -> StoreResult<()> {
        self.write(|conn| {
            let user = user_by_id(conn, id)?;
            // The references cascade too; ending them first says so where it is read.
            sign_out_everywhere(conn, &user.username)?;
            diesel::delete(users::table.find(id.0)).execute(conn)?;
            Ok(())
        })
    }

    #[tracing::instrument(skip_all, fields(username = %username))]
    fn sign_in_oidc_user(
        &self,
        subject: &OidcSubject,
        username: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        let now = storage_instant(now);
        self.write(|conn| {
            let known: Option<i64> = users::table
                .filter(users::oidc_issuer.eq(&subject.issuer))
                .filter(users::oidc_subject.eq(&subject.subject))
                .select(users::id)
                .first(conn)
                .optional()?;
            let id = match known {
                // The provider decides the role at every sign-in: a group left there is a role
                // lost here.
                Some(id) => {
                    diesel::update(users::table.find(id))
                        .set((users::role.eq(role.as_str()), users::updated_at.eq(now)))
                        .execute(conn)?;
                    // A disabled account's attempt is refused: it is no sign-in.
                    diesel::update(users::table.find(id).filter(users::disabled_at.is_null()))
                        .set(users::last_sign_in_at.eq(now))
                        .execute(conn)?;
                    id
                }
                None => diesel::insert_into(users::table)
                    .values((
                        users::username.eq(username),
                        users::password_hash.eq(NO_PASSWORD),
                        users::role.eq(role.as_str()),
                        users::oidc_issuer.eq(&subject.issuer),
                        users::oidc_subject.eq(&subject.subject),
                        users::last_sign_in_at.eq(now),
                        users::created_at.eq(now),
                        users::updated_at.eq(now),
                    ))
                    .returning(users::id)
                    .get_result(conn)?,
            };
            user_by_id(conn, UserId(id))
        })
    }

    fn record_sign_in(&self, id: UserId, now: DateTime<Utc>) -> StoreResult<()> {
        let now = storage_instant(now);
        self.write(|conn| {
            diesel::update(users::table.find(id.0))
                .set(users::last_sign_in_at.eq(now))
                .execute(conn)?;
            Ok(())
        })
    }
}
