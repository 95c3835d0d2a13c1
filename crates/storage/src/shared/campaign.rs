//! Campaign control as stored: a mailing's pause (its current state on the mailing, its history
//! in `mailing_pauses`, written together), the rules it carries (frequency cap, auto-pause
//! overrides), resends with their fixed recipients, and the frequency cap's check right before
//! an attempt.

use super::dialect;
use super::schema::{clients, mailing_pauses, mailing_recipients, mailings, messages};
use super::{Backend, Conn};
use crate::columns::corrupt;
use crate::errors::Failure;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::MessageStatus;
use mailing_domain::campaign::{
    AutoPauseOverride, CapVerdict, FailureShare, FrequencyCap, Pause, PauseReason, Paused,
};
use mailing_domain::store::{CapHold, Rejection, Span, storage_instant};
use std::collections::HashMap;

/// The campaign rules and the pause a mailing carries, wherever a mailing is read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = mailings, check_for_backend(Backend))]
pub(super) struct CampaignRow {
    paused_at: Option<DateTime<Utc>>,
    paused_reason: Option<String>,
    frequency_cap_max: Option<i32>,
    frequency_cap_hours: Option<i32>,
    auto_pause_enabled: Option<bool>,
    auto_pause_attempts: Option<i32>,
    auto_pause_failure_share: Option<f64>,
}

/// A mailing's campaign rules and pause, read.
pub(super) struct Campaign {
    pub paused: Option<Paused>,
    pub frequency_cap: Option<FrequencyCap>,
    pub auto_pause: AutoPauseOverride,
}

impl CampaignRow {
    /// The rules of mailing `id`.
    pub(super) fn into_campaign(self, id: i64) -> Result<Campaign, Failure> {
        let bad = |column: &str, e: &dyn std::fmt::Display| corrupt("mailings", column, id, e);
        let paused = match (self.paused_at, self.paused_reason) {
            (Some(since), Some(reason)) => Some(Paused {
                since,
                reason: PauseReason::parse(&reason).ok_or_else(|| bad("paused_reason", &reason))?,
            }),
            (None, None) => None,
            _ => return Err(bad("paused_reason", &"set without paused_at")),
        };
        let frequency_cap = match (self.frequency_cap_max, self.frequency_cap_hours) {
            (Some(max), Some(hours)) => Some(
                FrequencyCap::new(
                    u32::try_from(max).map_err(|e| bad("frequency_cap_max", &e))?,
                    u32::try_from(hours).map_err(|e| bad("frequency_cap_hours", &e))?,
                )
                .map_err(|(field, e)| bad(field, &e))?,
            ),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "frequency_cap_hours",
                    &"only one half of the cap is set",
                ));
            }
        };
        let auto_pause = AutoPauseOverride {
            enabled: self.auto_pause_enabled,
            attempts: self
                .auto_pause_attempts
                .map(|n| u32::try_from(n).map_err(|e| bad("auto_pause_attempts", &e)))
                .transpose()?,
            failure_share: self
                .auto_pause_failure_share
                .map(|share| {
                    FailureShare::new(share).map_err(|e| bad("auto_pause_failure_share", &e))
                })
                .transpose()?,
        };
        Ok(Campaign {
            paused,
            frequency_cap,
            auto_pause,
        })
    }
}

/// How the rules a mailing's author sets are stored: the cap's two halves and the auto-pause
/// overrides, `None` as NULL.
pub(super) struct RuleColumns {
    pub frequency_cap_max: Option<i32>,
    pub frequency_cap_hours: Option<i32>,
    pub auto_pause_enabled: Option<bool>,
    pub auto_pause_attempts: Option<i32>,
    pub auto_pause_failure_share: Option<f64>,
}

impl RuleColumns {
    pub(super) fn new(cap: Option<FrequencyCap>, auto_pause: AutoPauseOverride) -> Self {
        let small = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Self {
            frequency_cap_max: cap.map(|cap| small(cap.max())),
            frequency_cap_hours: cap.map(|cap| small(cap.per_hours())),
            auto_pause_enabled: auto_pause.enabled,
            auto_pause_attempts: auto_pause.attempts.map(small),
            auto_pause_failure_share: auto_pause.failure_share.map(FailureShare::as_f64),
        }
    }
}

/// Pauses mailing `id` for `reason` at `now`, unless it is paused already; returns whether it
/// did. The caller holds the mailing's row and has checked it may be paused.
pub(super) fn pause(
    conn: &mut Conn,
    id: i64,
    reason: PauseReason,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, Failure> {
    let now = storage_instant(now);
    let paused = diesel::update(
        mailings::table
            .filter(mailings::id.eq(id))
            .filter(mailings::paused_at.is_null()),
    )
    .set((
        mailings::paused_at.eq(now),
        mailings::paused_reason.eq(reason.as_str()),
        mailings::auto_pauses
            .eq(mailings::auto_pauses + i32::from(reason == PauseReason::ProviderFailing)),
        mailings::updated_at.eq(dialect::now()),
    ))
    .execute(conn)?;
    if paused == 0 {
        return Ok(false);
    }
    diesel::insert_into(mailing_pauses::table)
        .values((
            mailing_pauses::mailing_id.eq(id),
            mailing_pauses::reason.eq(reason.as_str()),
            mailing_pauses::detail.eq(detail),
            mailing_pauses::paused_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Ends mailing `id`'s pause, begun at `paused_since`, at `now`, adding its length to the
/// mailing's paused time. The caller holds the mailing's row and has checked that the mailing
/// is not over (a pause that outlasted the end stays open; see `Mailing::paused_time`).
pub(super) fn resume(
    conn: &mut Conn,
    id: i64,
    paused_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let now = storage_instant(now).max(paused_since);
    let lasted = (now - paused_since).num_milliseconds().max(0);
    diesel::update(mailings::table.find(id))
        .set((
            mailings::paused_at.eq(None::<DateTime<Utc>>),
            mailings::paused_reason.eq(None::<String>),
            mailings::paused_ms.eq(mailings::paused_ms + lasted),
            mailings::updated_at.eq(dialect::now()),
        ))
        .execute(conn)?;
    diesel::update(
        mailing_pauses::table
            .filter(mailing_pauses::mailing_id.eq(id))
            .filter(mailing_pauses::resumed_at.is_null()),
    )
    .set(mailing_pauses::resumed_at.eq(now))
    .execute(conn)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mailing_pauses, check_for_backend(Backend))]
struct PauseRow {
    id: i64,
    reason: String,
    detail: Option<String>,
    paused_at: DateTime<Utc>,
    resumed_at: Option<DateTime<Utc>>,
}

/// Mailing `id`'s pauses, oldest first.
pub(super) fn pauses(conn: &mut Conn, id: i64) -> Result<Vec<Pause>, Failure> {
    let rows: Vec<PauseRow> = mailing_pauses::table
        .filter(mailing_pauses::mailing_id.eq(id))
        .order((mailing_pauses::paused_at.asc(), mailing_pauses::id.asc()))
        .select(PauseRow::as_select())
        .load(conn)?;
    rows.into_iter().map(PauseRow::into_pause).collect()
}

impl PauseRow {
    fn into_pause(self) -> Result<Pause, Failure> {
        Ok(Pause {
            reason: PauseReason::parse(&self.reason)
                .ok_or_else(|| corrupt("mailing_pauses", "reason", self.id, &self.reason))?,
            detail: self.detail,
            paused_at: self.paused_at,
            resumed_at: self.resumed_at,
        })
    }
}

/// The pauses of the mailings `ids` that lasted into `span`, by mailing, oldest first.
pub(super) fn pauses_during(
    conn: &mut Conn,
    ids: &[i64],
    span: Span,
) -> Result<HashMap<i64, Vec<Pause>>, Failure> {
    let rows: Vec<(i64, PauseRow)> = mailing_pauses::table
        .filter(mailing_pauses::mailing_id.eq_any(ids))
        .filter(mailing_pauses::paused_at.lt(span.to))
        .filter(
            mailing_pauses::resumed_at
                .is_null()
                .or(mailing_pauses::resumed_at.gt(span.from)),
        )
        .order((mailing_pauses::paused_at.asc(), mailing_pauses::id.asc()))
        .select((mailing_pauses::mailing_id, PauseRow::as_select()))
        .load(conn)?;
    let mut by_mailing: HashMap<i64, Vec<Pause>> = HashMap::new();
    for (mailing, row) in rows {
        by_mailing
            .entry(mailing)
            .or_default()
            .push(row.into_pause()?);
    }
    Ok(by_mailing)
}

/// Fixes the recipients of resend `resend`: the clients of `original`'s messages that ended in
/// `statuses`. Refused when there are none.
pub(super) fn fix_recipients(
    conn: &mut Conn,
    resend: i64,
    original: i64,
    statuses: &[MessageStatus],
) -> Result<u64, Failure> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let recipients = messages::table
        .filter(messages::mailing_id.eq(original))
        .filter(messages::status.eq_any(statuses))
        .filter(messages::client_id.is_not_null())
        .select((
            resend.into_sql::<diesel::sql_types::BigInt>(),
            messages::client_id.assume_not_null(),
        ));
    let inserted = diesel::insert_into(mailing_recipients::table)
        .values(recipients)
        .into_columns((
            mailing_recipients::mailing_id,
            mailing_recipients::client_id,
        ))
        .execute(conn)?;
    if inserted == 0 {
        return Err(Rejection::NoResendRecipients.into());
    }
    Ok(inserted as u64)
}

/// The cap check of one queued message, right before its attempt (see
/// [`mailing_domain::store::SenderStore::hold_for_cap`]).
pub(super) fn hold_for_cap(
    conn: &mut Conn,
    message: i64,
    claimed_at: DateTime<Utc>,
    cap: FrequencyCap,
    now: DateTime<Utc>,
) -> Result<CapHold, Failure> {
    let claimed_at = storage_instant(claimed_at);
    let row: Option<(Option<i64>, i64)> = messages::table
        .filter(messages::id.eq(message))
        .filter(messages::status.eq(MessageStatus::Queued.as_str()))
        .filter(messages::queued_at.eq(claimed_at))
        .select((messages::client_id, messages::mailing_id))
        .first(conn)
        .optional()?;
    let Some((Some(client), mailing)) = row else {
        return Ok(CapHold::Gone);
    };
    // Every sender checks a client's cap under this lock, one after another.
    let locked: Option<i64> = dialect::for_update!(
        clients::table
            .filter(clients::id.eq(client))
            .select(clients::id)
    )
    .first(conn)
    .optional()?;
    if locked.is_none() {
        return Ok(CapHold::Gone);
    }
    let since = storage_instant(now - cap.span());
    // The client's recent deliveries and its other messages in flight, read by one statement:
    // with two, an outcome committed between them (in flight in the first, sent in the second)
    // would be missed by both, and the cap let one message too many go.
    let counted: Vec<(String, Option<DateTime<Utc>>)> = messages::table
        .filter(messages::client_id.eq(client))
        .filter(messages::id.ne(message))
        .filter(
            messages::status
                .eq(MessageStatus::Sent.as_str())
                .and(messages::sent_at.gt(since))
                .or(messages::status
                    .eq(MessageStatus::Queued.as_str())
                    .and(messages::cap_held_at.is_not_null())),
        )
        .select((messages::status, messages::sent_at))
        .load(conn)?;
    let sent: Vec<DateTime<Utc>> = counted
        .iter()
        .filter(|(status, _)| status == MessageStatus::Sent.as_str())
        .filter_map(|(_, sent_at)| *sent_at)
        .collect();
    let in_flight = counted.len() - sent.len();
    match cap.verdict(&sent, in_flight as u64, now) {
        CapVerdict::Allowed => {
            diesel::update(messages::table.find(message))
                .set(messages::cap_held_at.eq(storage_instant(now)))
                .execute(conn)?;
            Ok(CapHold::Held)
        }
        CapVerdict::WaitUntil(until) => {
            diesel::update(mailings::table.find(mailing))
                .set(mailings::cap_deferrals.eq(mailings::cap_deferrals + 1))
                .execute(conn)?;
            Ok(CapHold::Wait { until })
        }
    }
}
