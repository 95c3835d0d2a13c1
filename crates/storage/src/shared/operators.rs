use super::dialect::now;
use super::schema::operators;
use super::{Backend, BackendStore};
use crate::columns::{bounds, corrupt, total};
use crate::errors::{Failure, OPERATOR_REFERENCE, refusing};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    Entity, NewOperator, Operator, OperatorPatch, OperatorStore, Page, PageRequest, Rejection,
    StoreError, StoreResult,
};
use mailing_domain::{OperatorCode, OperatorId, OperatorName, Price};

#[derive(Queryable, Selectable)]
#[diesel(table_name = operators, check_for_backend(Backend))]
struct OperatorRow {
    id: i64,
    code: String,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    price_per_segment_micros: Option<i64>,
}

impl OperatorRow {
    fn into_record(self) -> Result<Operator, Failure> {
        Ok(Operator {
            id: OperatorId(self.id),
            code: OperatorCode::parse(&self.code)
                .map_err(|e| corrupt("operators", "code", self.id, e))?,
            name: OperatorName::parse(&self.name)
                .map_err(|e| corrupt("operators", "name", self.id, e))?,
            price_per_segment: self
                .price_per_segment_micros
                .map(|micros| {
                    u64::try_from(micros)
                        .map(Price::from_micros)
                        .map_err(|e| corrupt("operators", "price_per_segment_micros", self.id, e))
                })
                .transpose()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A price as the column holds it: millionths, which fit (prices are at most a million).
fn stored_price(price: Option<Price>) -> Option<i64> {
    price.map(|price| i64::try_from(price.micros()).unwrap_or(i64::MAX))
}

#[derive(AsChangeset)]
#[diesel(table_name = operators)]
struct OperatorChanges<'a> {
    code: Option<&'a str>,
    name: Option<&'a str>,
    /// `Some(None)` clears it.
    price_per_segment_micros: Option<Option<i64>>,
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Operator);

impl OperatorStore for BackendStore {
    fn create_operator(&self, new: &NewOperator) -> StoreResult<Operator> {
        self.write(|conn| {
            diesel::insert_into(operators::table)
                .values((
                    operators::code.eq(new.code.as_str()),
                    operators::name.eq(new.name.as_str()),
                    operators::price_per_segment_micros.eq(stored_price(new.price_per_segment)),
                    operators::created_at.eq(now()),
                    operators::updated_at.eq(now()),
                ))
                .returning(OperatorRow::as_returning())
                .get_result(conn)?
                .into_record()
        })
    }

    fn get_operator(&self, id: OperatorId) -> StoreResult<Operator> {
        self.read(|conn| {
            operators::table
                .find(id.0)
                .select(OperatorRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn list_operators(&self, page: PageRequest) -> StoreResult<Page<Operator>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = operators::table.count().get_result(conn)?;
            let items = operators::table
                .select(OperatorRow::as_select())
                .order(operators::id.asc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(OperatorRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }

    #[tracing::instrument(skip_all, fields(operator_id = %id))]
    fn update_operator(&self, id: OperatorId, patch: &OperatorPatch) -> StoreResult<Operator> {
        self.write(|conn| {
            let changes = OperatorChanges {
                code: patch.code.as_ref().map(OperatorCode::as_str),
                name: patch.name.as_ref().map(OperatorName::as_str),
                price_per_segment_micros: patch.price_per_segment.map(stored_price),
            };
            diesel::update(operators::table.find(id.0))
                .set((changes, operators::updated_at.eq(now())))
                .returning(OperatorRow::as_returning())
                .get_result(conn)
                .optional()
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::OperatorInUse))?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    #[tracing::instrument(skip_all, fields(operator_id = %id))]
    fn delete_operator(&self, id: OperatorId) -> StoreResult<()> {
        self.write(|conn| {
            let deleted = diesel::delete(operators::table.find(id.0))
                .execute(conn)
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::OperatorInUse))?;
            if deleted == 0 {
                return Err(NOT_FOUND.into());
            }
            Ok(())
        })
    }
}
