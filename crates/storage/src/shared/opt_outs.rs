//! The numbers that opted out, the replies that opt them out or back in, and the suppression
//! of a number's waiting messages that comes with opting it out.

use super::dialect::now;
use super::schema::{inbound_messages, messages, opt_outs};
use super::{Backend, BackendStore, Conn};
use crate::columns::{bounds, corrupt, starts_with, total};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::opt_out::{
    InboundMessage, InboundRecorded, InboundText, NewInboundMessage, NewOptOut, OptOut,
    OptOutAdded, OptOutQuery, OptOutReason, SUPPRESSED_REASON,
};
use mailing_domain::store::{Entity, OptOutStore, Page, PageRequest, StoreError, StoreResult};
use mailing_domain::{InboundAction, MessageStatus, OptOutSource, PhoneNumber};

#[derive(Queryable, Selectable)]
#[diesel(table_name = opt_outs, check_for_backend(Backend))]
struct OptOutRow {
    phone_number: String,
    source: String,
    reason: Option<String>,
    created_at: DateTime<Utc>,
}

impl OptOutRow {
    fn into_record(self) -> Result<OptOut, Failure> {
        // Rows are keyed by number; the number's digits stand in for the id in a report.
        let key = self.phone_number.parse::<i64>().unwrap_or_default();
        let bad = |column: &str, e: &dyn std::fmt::Display| corrupt("opt_outs", column, key, e);
        Ok(OptOut {
            phone: PhoneNumber::parse(&self.phone_number).map_err(|e| bad("phone_number", &e))?,
            source: self.source.parse().map_err(|e| bad("source", &e))?,
            reason: self
                .reason
                .map(|raw| OptOutReason::parse(&raw))
                .transpose()
                .map_err(|e| bad("reason", &e))?,
            created_at: self.created_at,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = inbound_messages, check_for_backend(Backend))]
struct InboundRow {
    id: i64,
    phone_number: String,
    text: String,
    action: String,
    received_at: DateTime<Utc>,
}

impl InboundRow {
    fn into_record(self) -> Result<InboundMessage, Failure> {
        let id = self.id;
        let bad =
            |column: &str, e: &dyn std::fmt::Display| corrupt("inbound_messages", column, id, e);
        Ok(InboundMessage {
            id,
            phone: PhoneNumber::parse(&self.phone_number).map_err(|e| bad("phone_number", &e))?,
            text: InboundText::parse(&self.text).map_err(|e| bad("text", &e))?,
            action: self.action.parse().map_err(|e| bad("action", &e))?,
            received_at: self.received_at,
        })
    }
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::OptOut);

/// Opts a number out unless it is already, and suppresses its waiting messages.
fn add(conn: &mut Conn, new: &NewOptOut) -> Result<OptOutAdded, Failure> {
    let phone = new.phone.as_str();
    let inserted = diesel::insert_into(opt_outs::table)
        .values((
            opt_outs::phone_number.eq(phone),
            opt_outs::source.eq(new.source.as_str()),
            opt_outs::reason.eq(new.reason.as_ref().map(OptOutReason::as_str)),
            opt_outs::created_at.eq(now()),
        ))
        .on_conflict(opt_outs::phone_number)
        .do_nothing()
        .execute(conn)?;
    let row: OptOutRow = opt_outs::table
        .find(phone)
        .select(OptOutRow::as_select())
        .first(conn)?;
    let suppressed = suppress_waiting(conn, &[phone])?;
    Ok(OptOutAdded {
        opt_out: row.into_record()?,
        created: inserted > 0,
        suppressed,
    })
}

/// Suppresses the messages to `phones` waiting for an attempt. Those a sender holds are left
/// to it: it reads the opt-out with them right before their attempt.
pub(super) fn suppress_waiting(conn: &mut Conn, phones: &[&str]) -> QueryResult<u64> {
    let waiting = [MessageStatus::Scheduled, MessageStatus::Retrying].map(MessageStatus::as_str);
    let changed = diesel::update(
        messages::table
            .filter(messages::phone_number.eq_any(phones))
            .filter(messages::status.eq_any(waiting)),
    )
    .set((
        messages::status.eq(MessageStatus::Suppressed.as_str()),
        messages::last_error.eq(SUPPRESSED_REASON),
        messages::next_attempt_at.eq(None::<DateTime<Utc>>),
        messages::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(changed as u64)
}

/// Opts a number back in; whether it had opted out.
fn remove(conn: &mut Conn, phone: &PhoneNumber) -> QueryResult<bool> {
    let deleted = diesel::delete(opt_outs::table.find(phone.as_str())).execute(conn)?;
    Ok(deleted > 0)
}

impl OptOutStore for BackendStore {
    #[tracing::instrument(skip_all)]
    fn add_opt_out(&self, new: &NewOptOut) -> StoreResult<OptOutAdded> {
        self.write(|conn| add(conn, new))
    }

    fn get_opt_out(&self, phone: &PhoneNumber) -> StoreResult<OptOut> {
        self.read(|conn| {
            opt_outs::table
                .find(phone.as_str())
                .select(OptOutRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?
                .into_record()
        })
    }

    fn list_opt_outs(&self, query: &OptOutQuery, page: PageRequest) -> StoreResult<Page<OptOut>> {
        let (offset, limit) = bounds(page);
        let filtered = || {
            let mut selected = opt_outs::table.into_boxed();
            if let Some(phone) = &query.phone {
                selected = selected.filter(opt_outs::phone_number.eq(phone.as_str()));
            }
            if let Some(prefix) = &query.phone_prefix {
                selected = selected.filter(
                    opt_outs::phone_number
                        .like(starts_with(prefix))
                        .escape('\\'),
                );
            }
            selected
        };
        self.read(|conn| {
            let count: i64 = filtered().count().get_result(conn)?;
            let rows: Vec<OptOutRow> = filtered()
                .order((opt_outs::created_at.desc(), opt_outs::phone_number))
                .offset(offset)
                .limit(limit)
                .select(OptOutRow::as_select())
                .load(conn)?;
            Ok(Page {
                items: rows
                    .into_iter()
                    .map(OptOutRow::into_record)
                    .collect::<Result<_, _>>()?,
                total: total(count),
            })
        })
    }

    fn remove_opt_out(&self, phone: &PhoneNumber) -> StoreResult<()> {
        self.write(|conn| {
            if remove(conn, phone)? {
                Ok(())
            } else {
                Err(Failure::Store(NOT_FOUND))
            }
        })
    }

    #[tracing::instrument(skip_all, fields(action = %new.action))]
    fn record_inbound(&self, new: &NewInboundMessage) -> StoreResult<InboundRecorded> {
        self.write(|conn| {
            let row: InboundRow = diesel::insert_into(inbound_messages::table)
                .values((
                    inbound_messages::phone_number.eq(new.phone.as_str()),
                    inbound_messages::text.eq(new.text.as_str()),
                    inbound_messages::action.eq(new.action.as_str()),
                    inbound_messages::received_at.eq(now()),
                ))
                .returning(InboundRow::as_returning())
                .get_result(conn)?;
            let message = row.into_record()?;
            let (opt_out, opted_in) = match new.action {
                InboundAction::OptOut => {
                    let reason = format!("replied \"{}\"", new.text.as_str().trim());
                    let reason = OptOutReason::parse(&reason).ok();
                    let added = add(
                        conn,
                        &NewOptOut {
                            phone: new.phone.clone(),
                            source: OptOutSource::Inbound,
                            reason,
                        },
                    )?;
                    (Some(added), false)
                }
                InboundAction::OptIn => (None, remove(conn, &new.phone)?),
                InboundAction::None => (None, false),
            };
            Ok(InboundRecorded {
                message,
                opt_out,
                opted_in,
            })
        })
    }

    fn list_inbound(
        &self,
        phone: Option<&PhoneNumber>,
        page: PageRequest,
    ) -> StoreResult<Page<InboundMessage>> {
        let (offset, limit) = bounds(page);
        let filtered = || {
            let mut selected = inbound_messages::table.into_boxed();
            if let Some(phone) = phone {
                selected = selected.filter(inbound_messages::phone_number.eq(phone.as_str()));
            }
            selected
        };
        self.read(|conn| {
            let count: i64 = filtered().count().get_result(conn)?;
            let rows: Vec<InboundRow> = filtered()
                .order(inbound_messages::id.desc())
                .offset(offset)
                .limit(limit)
                .select(InboundRow::as_select())
                .load(conn)?;
            Ok(Page {
                items: rows
                    .into_iter()
                    .map(InboundRow::into_record)
                    .collect::<Result<_, _>>()?,
                total: total(count),
            })
        })
    }
}
