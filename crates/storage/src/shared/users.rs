use super::dialect::now;
use super::schema::users;
use super::{Backend, BackendStore};
use diesel::prelude::*;
use diesel::upsert::excluded;
use mailing_domain::UserId;
use mailing_domain::store::{StoreResult, User, UserStore};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(Backend))]
struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId(row.id),
            username: row.username,
            password_hash: row.password_hash,
        }
    }
}

impl UserStore for BackendStore {
    fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|conn| {
            let row = users::table
                .filter(users::username.eq(username))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(User::from))
        })
    }

    fn save_user(&self, username: &str, password_hash: &str) -> StoreResult<User> {
        self.write(|conn| {
            let row = diesel::insert_into(users::table)
                .values((
                    users::username.eq(username),
                    users::password_hash.eq(password_hash),
                    users::created_at.eq(now()),
                    users::updated_at.eq(now()),
                ))
                .on_conflict(users::username)
                .do_update()
                .set((
                    users::password_hash.eq(excluded(users::password_hash)),
                    users::updated_at.eq(now()),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)?;
            Ok(User::from(row))
        })
    }
}
