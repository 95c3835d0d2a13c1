//! The sender's reads and writes: one query for everything a batch of attempts needs, one
//! statement (on PostgreSQL) for a batch of claim renewals or outcomes.

use super::campaign::{self, CampaignRow};
use super::dialect;
use super::dialect::{StoredAttributes, attributes_json};
use super::mailings::ScheduleRow;
use super::messages::{ID_SLICE, SentTextRow};
use super::outbox;
use super::pipeline;
use super::schema::{clients, mailings, messages, opt_outs};
use super::{Backend, BackendStore};
use crate::columns::{OutcomeColumns, attributes_from_json, corrupt, message_status};
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::dsl;
use diesel::prelude::*;
use mailing_domain::campaign::{FrequencyCap, PauseReason};
use mailing_domain::events::MailingEvent;
use mailing_domain::store::{
    CapHold, MailingState, Outcome, SendTask, SenderStore, StoreResult, storage_instant,
};
use mailing_domain::{
    Attributes, ClientId, MailingId, MailingText, MessageId, OperatorCode, PhoneNumber, TimeZone,
};
use std::collections::HashMap;

/// Whether a message's number is among the opt-outs.
type OptedOut = dsl::exists<
    dsl::Filter<
        opt_outs::table,
        dsl::Eq<dsl::Nullable<opt_outs::phone_number>, messages::phone_number>,
    >,
>;

/// A message, with the number it is addressed to, and what a sender needs of its client (its
/// zone; absent once deleted) and its mailing.
#[derive(Queryable, Selectable)]
#[diesel(table_name = messages, check_for_backend(Backend))]
struct TaskRow {
    id: i64,
    mailing_id: i64,
    client_id: Option<i64>,
    phone_number: Option<String>,
    /// Read with the message, so a number that opted out after the message was planned is
    /// suppressed before its attempt without a query of its own.
    #[diesel(select_expression = dsl::exists(
        opt_outs::table.filter(opt_outs::phone_number.nullable().eq(messages::phone_number))
    ))]
    #[diesel(select_expression_type = OptedOut)]
    opted_out: bool,
    status: String,
    queued_at: Option<DateTime<Utc>>,
    attempts: i32,
    last_error: Option<String>,
    #[diesel(embed)]
    sent_text: SentTextRow,
    #[diesel(embed)]
    client: Option<TaskClient>,
    #[diesel(embed)]
    mailing: TaskMailing,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = clients, check_for_backend(Backend))]
struct TaskClient {
    time_zone: String,
    operator_code: String,
    attributes: StoredAttributes,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mailings, check_for_backend(Backend))]
struct TaskMailing {
    text: String,
    #[diesel(embed)]
    state: MailingStateRow,
}

impl TaskRow {
    fn into_task(self) -> Result<SendTask, Failure> {
        let id = self.id;
        let bad = |column: &str, e: &dyn std::fmt::Display| corrupt("messages", column, id, e);
        let phone = self
            .phone_number
            .map(|raw| PhoneNumber::parse(&raw))
            .transpose()
            .map_err(|e| bad("phone_number", &e))?;
        let (time_zone, operator_code, attributes) = match self.client {
            Some(client) => (
                Some(TimeZone::parse(&client.time_zone).map_err(|e| bad("time_zone", &e))?),
                Some(
                    OperatorCode::parse(&client.operator_code)
                        .map_err(|e| bad("operator_code", &e))?,
                ),
                attributes_from_json(
                    "clients",
                    "attributes",
                    self.client_id.unwrap_or_default(),
                    attributes_json(client.attributes),
                )?,
            ),
            None => (None, None, Attributes::default()),
        };
        let mailing = self.mailing.state.into_state()?;
        Ok(SendTask {
            message_id: MessageId(id),
            mailing_id: MailingId(self.mailing_id),
            client_id: self.client_id.map(ClientId),
            status: message_status(&self.status, id)?,
            queued_at: self.queued_at,
            attempts: u32::try_from(self.attempts).map_err(|e| bad("attempts", &e))?,
            last_error: self.last_error,
            phone,
            opted_out: self.opted_out,
            time_zone,
            operator_code,
            attributes,
            text: MailingText::parse(&self.mailing.text).map_err(|e| bad("text", &e))?,
            sent_text: self.sent_text.into_text(id)?,
            schedule: mailing.schedule,
            mailing_active: mailing.active,
            mailing_paused: mailing.paused,
            frequency_cap: mailing.frequency_cap,
            auto_pause: mailing.auto_pause,
        })
    }
}

/// A mailing's schedule, and whether it still runs: until it is cancelled or deleted.
#[derive(Queryable, Selectable)]
#[diesel(table_name = mailings, check_for_backend(Backend))]
struct MailingStateRow {
    id: i64,
    #[diesel(embed)]
    schedule: ScheduleRow,
    #[diesel(
        select_expression = mailings::cancelled_at.is_null().and(mailings::deleted_at.is_null())
    )]
    #[diesel(
        select_expression_type =
            dsl::And<dsl::IsNull<mailings::cancelled_at>, dsl::IsNull<mailings::deleted_at>>
    )]
    active: bool,
    #[diesel(embed)]
    campaign: CampaignRow,
}

impl MailingStateRow {
    fn into_state(self) -> Result<MailingState, Failure> {
        let campaign = self.campaign.into_campaign(self.id)?;
        Ok(MailingState {
            id: MailingId(self.id),
            schedule: self.schedule.into_schedule(self.id)?,
            active: self.active,
            paused: campaign.paused.is_some(),
            frequency_cap: campaign.frequency_cap,
            auto_pause: campaign.auto_pause,
        })
    }
}

/// The rows `load` reads for `ids`, read in slices of as many ids as one statement binds.
fn load_by_ids<R>(
    ids: &[i64],
    mut load: impl FnMut(&[i64]) -> QueryResult<Vec<R>>,
) -> QueryResult<Vec<R>> {
    let mut rows = Vec::with_capacity(ids.len());
    for slice in ids.chunks(ID_SLICE) {
        rows.extend(load(slice)?);
    }
    Ok(rows)
}

impl SenderStore for BackendStore {
    fn load_for_send(&self, ids: &[MessageId]) -> StoreResult<Vec<SendTask>> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        self.read(|conn| {
            let rows = load_by_ids(&ids, |slice| {
                messages::table
                    .inner_join(mailings::table)
                    .left_join(clients::table)
                    .filter(messages::id.eq_any(slice))
                    .select(TaskRow::as_select())
                    .load(conn)
            })?;
            rows.into_iter().map(TaskRow::into_task).collect()
        })
    }

    fn mailing_states(&self, ids: &[MailingId]) -> StoreResult<Vec<MailingState>> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        self.read(|conn| {
            let rows = load_by_ids(&ids, |slice| {
                mailings::table
                    .filter(mailings::id.eq_any(slice))
                    .filter(mailings::deleted_at.is_null())
                    .select(MailingStateRow::as_select())
                    .load(conn)
            })?;
            rows.into_iter().map(MailingStateRow::into_state).collect()
        })
    }

    fn renew_claims(
        &self,
        claims: &[(MessageId, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageId>> {
        if claims.is_empty() {
            return Ok(vec![]);
        }
        let claims: Vec<(i64, DateTime<Utc>)> = claims
            .iter()
            .map(|(id, claimed_at)| (id.0, storage_instant(*claimed_at)))
            .collect();
        self.write(|conn| {
            let renewed = pipeline::renew_claims(conn, &claims, storage_instant(now))?;
            Ok(renewed.into_iter().map(MessageId).collect())
        })
    }

    #[tracing::instrument(skip_all, fields(mailing_id = id.0))]
    fn auto_pause_mailing(
        &self,
        id: MailingId,
        detail: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let row: Option<MailingStateRow> = dialect::for_update!(
                mailings::table
                    .filter(mailings::id.eq(id.0))
                    .filter(mailings::deleted_at.is_null())
                    .filter(mailings::cancelled_at.is_null())
                    .select(MailingStateRow::as_select())
            )
            .first(conn)
            .optional()?;
            let Some(state) = row.map(MailingStateRow::into_state).transpose()? else {
                return Ok(false);
            };
            if state.paused || state.schedule.latest_end() <= now {
                return Ok(false);
            }
            let paused =
                campaign::pause(conn, id.0, PauseReason::ProviderFailing, Some(detail), now)?;
            if paused {
                outbox::append(conn, &MailingEvent::MailingPaused { mailing_id: id })?;
            }
            Ok(paused)
        })
    }

    fn hold_for_cap(
        &self,
        message: MessageId,
        claimed_at: DateTime<Utc>,
        cap: FrequencyCap,
        now: DateTime<Utc>,
    ) -> StoreResult<CapHold> {
        self.write(|conn| campaign::hold_for_cap(conn, message.0, claimed_at, cap, now))
    }

    fn record_outcomes(&self, outcomes: &[Outcome]) -> StoreResult<Vec<MessageId>> {
        // One outcome per message, the last given: a batch statement would otherwise pick one
        // arbitrarily.
        let latest: HashMap<MessageId, &Outcome> = outcomes
            .iter()
            .map(|outcome| (outcome.message_id, outcome))
            .collect();
        if latest.is_empty() {
            return Ok(vec![]);
        }
        let columns: Vec<OutcomeColumns> = latest.into_values().map(OutcomeColumns::of).collect();
        self.write(|conn| {
            let written = pipeline::record_outcomes(conn, &columns)?;
            Ok(written.into_iter().map(MessageId).collect())
        })
    }
}
