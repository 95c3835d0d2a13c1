use super::schema::api_keys;
use super::{Backend, BackendStore};
use crate::columns::{bounds, corrupt, total};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    ApiKey, ApiKeyStore, Entity, NewApiKey, Page, PageRequest, StoreError, StoreResult,
    storage_instant,
};
use mailing_domain::{ApiKeyId, Role};

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::ApiKey);

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(Backend))]
struct ApiKeyRow {
    id: i64,
    name: String,
    prefix: String,
    role: String,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl ApiKeyRow {
    fn into_record(self) -> Result<ApiKey, Failure> {
        Ok(ApiKey {
            role: Role::parse(&self.role)
                .ok_or_else(|| corrupt("api_keys", "role", self.id, &self.role))?,
            id: ApiKeyId(self.id),
            name: self.name,
            prefix: self.prefix,
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
        })
    }
}

impl ApiKeyStore for BackendStore {
    #[tracing::instrument(skip_all, fields(name = %new.name, prefix = %new.prefix))]
    fn create_api_key(&self, new: &NewApiKey) -> StoreResult<ApiKey> {
        self.write(|conn| {
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::name.eq(&new.name),
                    api_keys::prefix.eq(&new.prefix),
                    api_keys::secret_hash.eq(&new.secret_hash),
                    api_keys::role.eq(new.role.as_str()),
                    api_keys::created_by.eq(&new.created_by),
                    api_keys::created_at.eq(storage_instant(new.created_at)),
                    api_keys::expires_at.eq(new.expires_at.map(storage_instant)),
                ))
                .returning(ApiKeyRow::as_returning())
                .get_result(conn)?
                .into_record()
        })
    }

    fn list_api_keys(&self, page: PageRequest) -> StoreResult<Page<ApiKey>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = api_keys::table.count().get_result(conn)?;
            let items = api_keys::table
                .select(ApiKeyRow::as_select())
                .order(api_keys::id.desc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(ApiKeyRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    fn delete_api_key(&self, id: ApiKeyId) -> StoreResult<ApiKey> {
        self.write(|conn| {
            diesel::delete(api_keys::table.find(id.0))
                .returning(ApiKeyRow::as_returning())
                .get_result(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn use_api_key(
        &self,
        secret_hash: &str,
        now: DateTime<Utc>,
        touch_after: chrono::Duration,
    ) -> StoreResult<Option<ApiKey>> {
        let now = storage_instant(now);
        let found = self.read(|conn| {
            api_keys::table
                .filter(api_keys::secret_hash.eq(secret_hash))
                .filter(
                    api_keys::expires_at
                        .is_null()
                        .or(api_keys::expires_at.gt(now)),
                )
                .select(ApiKeyRow::as_select())
                .first(conn)
                .optional()?
                .map(ApiKeyRow::into_record)
                .transpose()
        })?;
        let Some(mut key) = found else {
            return Ok(None);
        };
        let stale = key
            .last_used_at
            .is_none_or(|used| used <= now - touch_after);
        if stale {
            self.write(|conn| {
                diesel::update(api_keys::table.find(key.id.0))
                    .set(api_keys::last_used_at.eq(now))
                    .execute(conn)?;
                Ok(())
            })?;
            key.last_used_at = Some(now);
        }
        Ok(Some(key))
    }
}
