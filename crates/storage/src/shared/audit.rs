use super::imports_dialect::{StoredJson, json_of, store_json};
use super::schema::audit_log;
use super::{Backend, BackendStore};
use crate::columns::{bounds, corrupt, total};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::SignInMethod;
use mailing_domain::store::{
    ActorKind, AuditEntry, AuditQuery, AuditStore, NewAuditEntry, Page, PageRequest, StoreResult,
    storage_instant,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(Backend))]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    actor_kind: String,
    actor: String,
    actor_id: i64,
    signed_in_with: String,
    interface: String,
    action: String,
    resource: String,
    resource_id: Option<String>,
    changes: StoredJson,
    request_id: String,
    client_address: String,
}

impl AuditRow {
    fn into_record(self) -> Result<AuditEntry, Failure> {
        let id = self.id;
        Ok(AuditEntry {
            id,
            entry: NewAuditEntry {
                at: self.at,
                actor_kind: ActorKind::parse(&self.actor_kind)
                    .ok_or_else(|| corrupt("audit_log", "actor_kind", id, &self.actor_kind))?,
                actor: self.actor,
                actor_id: self.actor_id,
                signed_in_with: SignInMethod::parse(&self.signed_in_with).ok_or_else(|| {
                    corrupt("audit_log", "signed_in_with", id, &self.signed_in_with)
                })?,
                interface: self.interface,
                action: self.action,
                resource: self.resource,
                resource_id: self.resource_id,
                changes: json_of(self.changes)
                    .map_err(|e| corrupt("audit_log", "changes", id, e))?,
                request_id: self.request_id,
                client_address: self.client_address,
            },
        })
    }
}

/// The entries `query` selects, as a boxed statement both the page and its total start from.
fn selected(query: &AuditQuery) -> audit_log::BoxedQuery<'static, Backend> {
    let mut statement = audit_log::table.into_boxed();
    if let Some(actor) = &query.actor {
        statement = statement.filter(audit_log::actor.eq(actor.clone()));
    }
    if let Some(resource) = &query.resource {
        statement = statement.filter(audit_log::resource.eq(resource.clone()));
    }
    if let Some(resource_id) = &query.resource_id {
        statement = statement.filter(audit_log::resource_id.eq(resource_id.clone()));
    }
    if let Some(since) = query.since {
        statement = statement.filter(audit_log::at.ge(storage_instant(since)));
    }
    if let Some(until) = query.until {
        statement = statement.filter(audit_log::at.lt(storage_instant(until)));
    }
    statement
}

impl AuditStore for BackendStore {
    fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<i64> {
        self.write(|conn| {
            Ok(diesel::insert_into(audit_log::table)
                .values((
                    audit_log::at.eq(storage_instant(entry.at)),
                    audit_log::actor_kind.eq(entry.actor_kind.as_str()),
                    audit_log::actor.eq(&entry.actor),
                    audit_log::actor_id.eq(entry.actor_id),
                    audit_log::signed_in_with.eq(entry.signed_in_with.as_str()),
                    audit_log::interface.eq(&entry.interface),
                    audit_log::action.eq(&entry.action),
                    audit_log::resource.eq(&entry.resource),
                    audit_log::resource_id.eq(entry.resource_id.as_deref()),
                    audit_log::changes.eq(store_json(&entry.changes)),
                    audit_log::request_id.eq(&entry.request_id),
                    audit_log::client_address.eq(&entry.client_address),
                ))
                .returning(audit_log::id)
                .get_result(conn)?)
        })
    }

    fn list_audit(&self, query: &AuditQuery, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let count: i64 = selected(query).count().get_result(conn)?;
            let items = selected(query)
                .select(AuditRow::as_select())
                .order(audit_log::id.desc())
                .offset(offset)
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(AuditRow::into_record)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                total: total(count),
            })
        })
    }
}
