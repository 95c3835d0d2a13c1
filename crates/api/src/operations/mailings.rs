//! Mailings: what a body may say about one (a text, a time span, a filter, and optionally a
//! daily window and local time), and creating, changing, cancelling and deleting them. Each of
//! these writes a mailing event beside the change, so each wakes the outbox relay, which tells
//! the scheduler.

use crate::error::{ApiError, FieldError};
use crate::operations::client_filters::FilterInput;
use crate::operations::examples;
use crate::operations::input::{Change, Field, Given, QueryValue, Required, UnknownFields};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use crate::operations::references::References;
use crate::state::AppState;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use mailing_domain::campaign::FailureShare;
use mailing_domain::planning::{SendPlan, plan_send};
use mailing_domain::store::{FilterSource, Mailing, MailingDraft, MailingPatch, ResendDraft};
use mailing_domain::window::WindowInvalid;
use mailing_domain::{
    AttributeKey, AutoPause, AutoPauseOverride, ClientFilter, ClientFilterId, FrequencyCap,
    Invalid, MailingId, MailingSchedule, MailingStatus, MailingText, MessageStatus, SendWindow,
    Template, TimeZone,
};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

/// A daily interval of the client's local clock, `"HH:MM"` to `"HH:MM"`. `start` after `end`
/// crosses midnight (`22:00` to `06:00`).
#[derive(Debug, Clone, Serialize, Apiv2Schema)]
pub struct SendWindowBody {
    /// `"HH:MM"`, inclusive.
    pub start: String,
    /// `"HH:MM"`, exclusive.
    pub end: String,
}

impl From<SendWindow> for SendWindowBody {
    fn from(window: SendWindow) -> Self {
        Self {
            start: window.start_hhmm(),
            end: window.end_hhmm(),
        }
    }
}

/// A daily interval of the client's local clock, `"HH:MM"` to `"HH:MM"`. `start` after `end`
/// crosses midnight (`22:00` to `06:00`).
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct SendWindowInput {
    /// `"HH:MM"`, inclusive.
    pub start: Required<String>,
    /// `"HH:MM"`, exclusive.
    pub end: Required<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl SendWindowInput {
    pub fn new(start: String, end: String) -> Self {
        Self {
            start: Field::value(start),
            end: Field::value(end),
            unknown: UnknownFields::default(),
        }
    }

    fn parse(self, problems: &mut Problems) -> Option<SendWindow> {
        let start = self.start.require("send_window.start", problems);
        let end = self.end.require("send_window.end", problems);
        self.unknown.report("send_window.", problems);
        // A side that is missing is stood in for, so the other is still checked.
        let both = start.is_some() && end.is_some();
        let parsed = SendWindow::parse(
            start.as_deref().unwrap_or("00:00"),
            end.as_deref().unwrap_or("00:01"),
        );
        let (field, rule) = match parsed {
            Ok(window) => return both.then_some(window),
            Err(WindowInvalid::Start(rule)) if start.is_some() => ("send_window.start", rule),
            Err(WindowInvalid::End(rule)) if end.is_some() => ("send_window.end", rule),
            Err(WindowInvalid::Window(rule)) if both => ("send_window", rule),
            Err(_) => return None,
        };
        problems.invalid(field, &rule);
        None
    }
}

/// At most `max` messages per client, from all mailings together, in any `per_hours` hours.
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct FrequencyCapInput {
    /// 1 to 1000.
    pub max: Required<u32>,
    /// 1 to 8760 (a year).
    pub per_hours: Required<u32>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl FrequencyCapInput {
    fn parse(self, problems: &mut Problems) -> Option<FrequencyCap> {
        let max = self.max.require("frequency_cap.max", problems);
        let per_hours = self.per_hours.require("frequency_cap.per_hours", problems);
        self.unknown.report("frequency_cap.", problems);
        let mut cap = None;
        // Each half is checked on its own, so both can be reported.
        if let Some(max) = max
            && let Err((_, rule)) = FrequencyCap::new(max, 1)
        {
            problems.invalid("frequency_cap.max", &rule);
        }
        if let Some(hours) = per_hours
            && let Err((_, rule)) = FrequencyCap::new(1, hours)
        {
            problems.invalid("frequency_cap.per_hours", &rule);
        }
        if let (Some(max), Some(hours)) = (max, per_hours) {
            cap = FrequencyCap::new(max, hours).ok();
        }
        cap
    }
}

/// What a mailing changes of the deployment's auto-pause rule; what it leaves out stays the
/// deployment's.
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct AutoPauseInput {
    /// `false` never pauses this mailing by itself.
    pub enabled: Field<bool>,
    /// How many of its latest attempts are judged: 1 to 100000.
    pub attempts: Field<u32>,
    /// It pauses when more than this share of them failed: 0 up to but not including 1.
    pub failure_share: Field<f64>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl AutoPauseInput {
    fn parse(self, problems: &mut Problems) -> Option<AutoPauseOverride> {
        let enabled = self.enabled.optional("auto_pause.enabled", problems);
        let attempts = self
            .attempts
            .optional("auto_pause.attempts", problems)
            .and_then(|n| problems.check("auto_pause.attempts", AutoPause::check_attempts(n)));
        let failure_share = self
            .failure_share
            .optional("auto_pause.failure_share", problems)
            .and_then(|share| problems.check("auto_pause.failure_share", FailureShare::new(share)));
        self.unknown.report("auto_pause.", problems);
        Some(AutoPauseOverride {
            enabled,
            attempts,
            failure_share,
        })
    }
}

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct MailingInput {
    /// 1 to 1600 characters, not blank.
    pub text: Required<String>,
    /// RFC 3339 date-time such as `2026-12-07T09:00:00Z`. With `local_time`, only the clock
    /// reading counts and the offset may be left out (`2026-12-07T09:00:00`).
    pub start_at: Required<String>,
    /// RFC 3339 date-time after `start_at`, in the future. With `local_time`, only the clock
    /// reading counts and the offset may be left out.
    pub end_at: Required<String>,
    /// Which clients to reach; give this or `client_filter_id`. `{}` reaches every client.
    pub filter: Field<FilterInput>,
    /// A saved filter to copy; give this or `filter`.
    pub client_filter_id: Field<i64>,
    /// Deliver only inside this daily window of each client's local clock.
    pub send_window: Field<SendWindowInput>,
    /// Read `start_at` and `end_at` on each client's own clock (default false).
    pub local_time: Field<bool>,
    /// This mailing's own frequency cap; without it the deployment's applies, if one is set.
    pub frequency_cap: Field<FrequencyCapInput>,
    /// This mailing's own auto-pause rule, over the deployment's.
    pub auto_pause: Field<AutoPauseInput>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A merge patch: a field left out keeps its value; `null` removes `send_window`,
/// `frequency_cap` and `auto_pause` and sets `local_time` to false; `text`, `start_at`,
/// `end_at`, `filter` and `client_filter_id` may not be `null`.
#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct MailingPatchInput {
    pub text: Field<String>,
    /// As in a new mailing; without an offset only when the patch sets `local_time: true`.
    pub start_at: Field<String>,
    pub end_at: Field<String>,
    /// Replaces the filter (and forgets `client_filter_id`).
    pub filter: Field<FilterInput>,
    /// Copies this saved filter into the mailing.
    pub client_filter_id: Field<i64>,
    /// `null` removes the window.
    pub send_window: Field<SendWindowInput>,
    /// Changing it re-reads the stored `start_at` and `end_at` under the new meaning.
    pub local_time: Field<bool>,
    /// `null` removes the mailing's own cap.
    pub frequency_cap: Field<FrequencyCapInput>,
    /// Replaces the mailing's own rule as a whole; `null` goes back to the deployment's.
    pub auto_pause: Field<AutoPauseInput>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The query of the mailing list.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MailingListQuery {
    /// Page number, from 1.
    pub page: Option<QueryValue<u32>>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
    /// Only mailings in this status now: `scheduled`, `running`, `paused`, `finished` or
    /// `cancelled`.
    pub status: Option<String>,
}

impl MailingListQuery {
    /// The status asked for and the page; problems make a 400.
    pub fn parse(self) -> Result<(Option<MailingStatus>, Paging), ApiError> {
        let mut problems = Problems::default();
        let paging = Paging::read(self.page.as_ref(), self.page_size.as_ref(), &mut problems);
        let status = self
            .status
            .and_then(|raw| match MailingStatus::parse(&raw) {
                Ok(status) => Some(status),
                Err(message) => {
                    problems.push(FieldError::new("status", "unknown_status", message));
                    None
                }
            });
        problems.finish_query(|| (status, paging.expect("checked")))
    }
}

/// Reads a written date-time. An offset is required unless the mailing reads times on each
/// client's clock, where only the clock reading counts.
fn parse_time(
    field: &str,
    raw: &str,
    local_time: bool,
    problems: &mut Problems,
) -> Option<DateTime<FixedOffset>> {
    let raw = raw.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Some(time);
    }
    let wall_clock = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok());
    match wall_clock {
        Some(clock) if local_time => return Some(clock.and_utc().fixed_offset()),
        Some(_) => problems.push(FieldError::new(
            field,
            "offset_required",
            format!(
                "needs an offset such as Z or +03:00: write it like {}, or set local_time to \
                 true to read it on each client's clock",
                examples::example(field).unwrap_or_default()
            ),
        )),
        None => problems.push(FieldError::new(
            field,
            "datetime_format",
            format!(
                "is not a date-time; write it like {}",
                examples::example(field).unwrap_or_default()
            ),
        )),
    }
    None
}

/// Whether a field carries something, right or wrong: a wrong one is reported by itself, not
/// also as missing.
fn given<T, R>(field: &Field<T, R>) -> bool {
    matches!(field.given(), Given::Value(_) | Given::WrongType { .. })
}

/// The filter a mailing gives; with `required`, giving neither is a problem.
fn filter_source(
    filter: Option<FilterInput>,
    client_filter_id: Option<i64>,
    required: bool,
    problems: &mut Problems,
    references: &mut References,
) -> Option<FilterSource> {
    match (filter, client_filter_id) {
        (Some(_), Some(_)) => {
            problems.push(FieldError::new(
                "client_filter_id",
                "exclusive",
                "give either filter or client_filter_id, not both",
            ));
            None
        }
        (Some(body), None) => body
            .read("filter", problems, references)
            .map(FilterSource::Inline),
        (None, Some(id)) => Some(FilterSource::Saved(ClientFilterId(id))),
        (None, None) => {
            if required {
                problems.push(FieldError::new(
                    "filter",
                    "required",
                    "give filter (use {} to reach every client) or client_filter_id",
                ));
            }
            None
        }
    }
}

/// A mailing's text: bounded, and a template whose variables exist; each problem with the
/// template is recorded with its position.
pub fn read_text(raw: &str, problems: &mut Problems) -> Option<MailingText> {
    let text = problems.check("text", MailingText::parse(raw))?;
    match Template::parse(text.as_str()) {
        Ok(_) => Some(text),
        Err(errors) => {
            for error in errors {
                problems.push(FieldError::new("text", error.code(), error.to_string()));
            }
            None
        }
    }
}

/// Every field of a whole mailing, read into domain values as far as each goes; what went
/// wrong is recorded, not returned, so the callers' own checks are listed beside it.
struct WholeMailing {
    text: Option<MailingText>,
    start_at: Option<DateTime<FixedOffset>>,
    end_at: Option<DateTime<FixedOffset>>,
    local_time: bool,
    send_window: Option<SendWindow>,
    filter: Option<FilterSource>,
    frequency_cap: Option<FrequencyCap>,
    auto_pause: AutoPauseOverride,
}

impl MailingInput {
    fn read(self, problems: &mut Problems, references: &mut References) -> WholeMailing {
        let text = self
            .text
            .require("text", problems)
            .and_then(|raw| read_text(&raw, problems));
        let send_window = self
            .send_window
            .optional("send_window", problems)
            .and_then(|body| body.parse(problems));
        let local_time = self
            .local_time
            .optional("local_time", problems)
            .unwrap_or(false);
        let mut written = |field: &str, raw: Required<String>| {
            let raw = raw.require(field, problems)?;
            parse_time(field, &raw, local_time, problems)
        };
        let start_at = written("start_at", self.start_at);
        let end_at = written("end_at", self.end_at);
        let either_given = given(&self.filter) || given(&self.client_filter_id);
        let filter = self.filter.optional("filter", problems);
        let client_filter_id = self.client_filter_id.optional("client_filter_id", problems);
        let filter = filter_source(
            filter,
            client_filter_id,
            !either_given,
            problems,
            references,
        );
        let frequency_cap = self
            .frequency_cap
            .optional("frequency_cap", problems)
            .and_then(|body| body.parse(problems));
        let auto_pause = self
            .auto_pause
            .optional("auto_pause", problems)
            .and_then(|body| body.parse(problems))
            .unwrap_or_default();
        self.unknown.report("", problems);
        WholeMailing {
            text,
            start_at,
            end_at,
            local_time,
            send_window,
            filter,
            frequency_cap,
            auto_pause,
        }
    }

    pub(crate) async fn parse(
        self,
        state: &AppState,
        now: DateTime<Utc>,
    ) -> Result<MailingDraft, ApiError> {
        let mut problems = Problems::default();
        let mut references = References::default();
        let whole = self.read(&mut problems, &mut references);
        let local_time = whole.local_time;
        let mut instant = |field: &str, written: Option<DateTime<FixedOffset>>| {
            problems.check(field, MailingSchedule::stored_instant(written?, local_time))
        };
        let start_at = instant("start_at", whole.start_at);
        let end_at = instant("end_at", whole.end_at);
        let schedule = match (start_at, end_at) {
            (Some(start_at), Some(end_at)) => problems.check(
                "end_at",
                MailingSchedule::new(start_at, end_at, local_time, whole.send_window),
            ),
            _ => None,
        };
        if schedule.is_some_and(|s| s.latest_end() <= now) {
            problems.invalid("end_at", &Invalid::InPast);
        }
        references.check(state, &mut problems).await?;
        problems.finish(|| MailingDraft {
            text: whole.text.expect("checked"),
            schedule: schedule.expect("checked"),
            filter: whole.filter.expect("checked"),
            frequency_cap: whole.frequency_cap,
            auto_pause: whole.auto_pause,
        })
    }

    /// The input as a patch that sets every field, read under the same rules as a new
    /// mailing's.
    async fn parse_as_patch(self, state: &AppState) -> Result<MailingPatch, ApiError> {
        let mut problems = Problems::default();
        let mut references = References::default();
        let whole = self.read(&mut problems, &mut references);
        references.check(state, &mut problems).await?;
        problems.finish(|| MailingPatch {
            text: whole.text,
            start_at: whole.start_at,
            end_at: whole.end_at,
            local_time: Some(whole.local_time),
            send_window: Some(whole.send_window),
            filter: whole.filter,
            frequency_cap: Some(whole.frequency_cap),
            auto_pause: Some(whole.auto_pause),
        })
    }
}

impl MailingPatchInput {
    async fn parse(self, state: &AppState) -> Result<MailingPatch, ApiError> {
        let mut problems = Problems::default();
        let mut references = References::default();
        let text = self
            .text
            .set_only("text", &mut problems)
            .and_then(|raw| read_text(&raw, &mut problems));
        let send_window = match self.send_window.change("send_window", &mut problems) {
            Change::Keep => None,
            Change::Clear => Some(None),
            Change::Set(body) => body.parse(&mut problems).map(Some),
        };
        let local_time = match self.local_time.change("local_time", &mut problems) {
            Change::Keep => None,
            Change::Clear => Some(false),
            Change::Set(flag) => Some(flag),
        };
        let wall_clock_allowed = local_time == Some(true);
        let start_at = self
            .start_at
            .set_only("start_at", &mut problems)
            .and_then(|raw| parse_time("start_at", &raw, wall_clock_allowed, &mut problems));
        let end_at = self
            .end_at
            .set_only("end_at", &mut problems)
            .and_then(|raw| parse_time("end_at", &raw, wall_clock_allowed, &mut problems));
        let filter = self.filter.set_only("filter", &mut problems);
        let client_filter_id = self
            .client_filter_id
            .set_only("client_filter_id", &mut problems);
        let filter = filter_source(
            filter,
            client_filter_id,
            false,
            &mut problems,
            &mut references,
        );
        let frequency_cap = match self.frequency_cap.change("frequency_cap", &mut problems) {
            Change::Keep => None,
            Change::Clear => Some(None),
            Change::Set(body) => body.parse(&mut problems).map(Some),
        };
        let auto_pause = match self.auto_pause.change("auto_pause", &mut problems) {
            Change::Keep => None,
            Change::Clear => Some(AutoPauseOverride::default()),
            Change::Set(body) => body.parse(&mut problems),
        };
        self.unknown.report("", &mut problems);
        references.check(state, &mut problems).await?;
        problems.finish(|| MailingPatch {
            text,
            start_at,
            end_at,
            local_time,
            send_window,
            filter,
            frequency_cap,
            auto_pause,
        })
    }
}

/// Stores a new mailing. When now is between its start and end, delivery starts at once; a
/// later start begins by itself.
pub async fn create(state: &AppState, input: MailingInput) -> Result<Mailing, ApiError> {
    let draft = input.parse(state, Utc::now()).await?;
    let mailing = state.run(move |s| s.create_mailing(&draft)).await?;
    state.outbox_wake.notify_one();
    // The request's own closing line names the new mailing too.
    tracing::Span::current().record("mailing_id", mailing.id.0);
    tracing::info!(mailing_id = mailing.id.0, "mailing created");
    Ok(mailing)
}

/// Sets every field. Before the start anything may change; while running only the text, the
/// end and the window may differ from the stored values; finished and cancelled mailings
/// cannot change.
pub async fn replace(
    state: &AppState,
    id: MailingId,
    input: MailingInput,
) -> Result<Mailing, ApiError> {
    let patch = input.parse_as_patch(state).await?;
    update(state, id, patch).await
}

/// Sets the fields given, under the same rules as [`replace`].
pub async fn patch(
    state: &AppState,
    id: MailingId,
    input: MailingPatchInput,
) -> Result<Mailing, ApiError> {
    let patch = input.parse(state).await?;
    update(state, id, patch).await
}

async fn update(state: &AppState, id: MailingId, patch: MailingPatch) -> Result<Mailing, ApiError> {
    let now = Utc::now();
    let mailing = state
        .run(move |s| s.update_mailing(id, &patch, now))
        .await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = mailing.id.0, "mailing updated");
    Ok(mailing)
}

/// Cancels the mailing's unsent messages. Cancelling twice is harmless; a finished mailing
/// cannot be cancelled.
pub async fn cancel(state: &AppState, id: MailingId) -> Result<Mailing, ApiError> {
    let now = Utc::now();
    let mailing = state.run(move |s| s.cancel_mailing(id, now)).await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = mailing.id.0, "mailing cancelled");
    Ok(mailing)
}

/// Pauses the mailing: nothing new is sent until it is resumed.
pub async fn pause(state: &AppState, id: MailingId) -> Result<Mailing, ApiError> {
    let now = Utc::now();
    let mailing = state.run(move |s| s.pause_mailing(id, now)).await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = id.0, "mailing paused");
    Ok(mailing)
}

/// Ends the mailing's pause, whichever way it began.
pub async fn resume(state: &AppState, id: MailingId) -> Result<Mailing, ApiError> {
    let now = Utc::now();
    let mailing = state.run(move |s| s.resume_mailing(id, now)).await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = id.0, "mailing resumed");
    Ok(mailing)
}

/// Which of a mailing's unreached clients to try again, and when.
#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct ResendInput {
    /// The statuses whose messages' clients are reached again, among `failed`, `expired` and
    /// `cancelled`; at least one. Messages `suppressed` are not among them: their numbers opted
    /// out, and a resend suppresses any number that opted out since.
    pub statuses: Required<Vec<String>>,
    /// RFC 3339 date-time; read as the original mailing reads its times (`local_time`).
    pub start_at: Required<String>,
    /// RFC 3339 date-time after `start_at`, in the future.
    pub end_at: Required<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The statuses a resend may pick its clients by.
pub const RESEND_STATUSES: [MessageStatus; 3] = [
    MessageStatus::Failed,
    MessageStatus::Expired,
    MessageStatus::Cancelled,
];

impl ResendInput {
    fn parse(self, original: &Mailing, problems: &mut Problems) -> Option<ResendDraft> {
        let local_time = original.schedule.local_time();
        let mut statuses = Vec::new();
        if let Some(raw) = self.statuses.require("statuses", problems) {
            if raw.is_empty() {
                problems.invalid("statuses", &Invalid::Empty);
            }
            for (i, name) in raw.iter().enumerate() {
                match name.parse::<MessageStatus>() {
                    Ok(status) if RESEND_STATUSES.contains(&status) => {
                        if !statuses.contains(&status) {
                            statuses.push(status);
                        }
                    }
                    _ => problems.push(FieldError::new(
                        format!("statuses[{i}]"),
                        "unknown_status",
                        format!(
                            "must be one of failed, expired, cancelled, not {name:?}; e.g. \
                             [\"failed\", \"expired\"]"
                        ),
                    )),
                }
            }
        }
        let mut written = |field: &str, raw: Required<String>| {
            let raw = raw.require(field, problems)?;
            parse_time(field, &raw, local_time, problems)
        };
        let start_at = written("start_at", self.start_at);
        let end_at = written("end_at", self.end_at);
        self.unknown.report("", problems);
        Some(ResendDraft {
            original: original.id,
            statuses,
            start_at: start_at?,
            end_at: end_at?,
        })
    }
}

/// Creates a mailing to the clients whose messages of `id` ended in the statuses asked for.
pub async fn resend(
    state: &AppState,
    id: MailingId,
    input: ResendInput,
) -> Result<Mailing, ApiError> {
    let original = get(state, id).await?;
    let mut problems = Problems::default();
    let draft = input.parse(&original, &mut problems);
    let draft = problems.finish(|| draft.expect("checked"))?;
    let now = Utc::now();
    let mailing = state.run(move |s| s.resend_mailing(&draft, now)).await?;
    state.outbox_wake.notify_one();
    tracing::Span::current().record("mailing_id", mailing.id.0);
    tracing::info!(
        mailing_id = mailing.id.0,
        resend_of = id.0,
        "mailing resent"
    );
    Ok(mailing)
}

/// Removes the mailing from view and cancels its unsent messages; its messages stay readable.
pub async fn delete(state: &AppState, id: MailingId) -> Result<(), ApiError> {
    let now = Utc::now();
    state.run(move |s| s.delete_mailing(id, now)).await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = id.0, "mailing deleted");
    Ok(())
}

/// Something about a saved mailing that does not stop it but that its author should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Apiv2Schema)]
pub struct MailingWarning {
    /// `no_matching_clients`, `send_window_never_opens` or `missing_variable`.
    pub code: String,
    pub message: String,
}

impl MailingWarning {
    pub const CODES: [&'static str; 3] = [
        "no_matching_clients",
        "send_window_never_opens",
        "missing_variable",
    ];

    fn new(code: &'static str, message: String) -> Self {
        Self {
            code: code.to_owned(),
            message,
        }
    }
}

/// What the author of a mailing that has not ended should know: that no client matches its
/// filter now, that for some matching clients no moment between now and the end is allowed
/// (their send window does not open before the end, or the end has passed on their clock), so
/// their messages would expire unsent, or that some matching clients lack an attribute its
/// text shows without a fallback.
pub async fn warnings(
    state: &AppState,
    mailing: &Mailing,
) -> Result<Vec<MailingWarning>, ApiError> {
    if mailing.resend_of.is_some() {
        // A resend reaches the recipients fixed when it was made (at least one), not the
        // clients its copied filter matches, which is what the checks below count.
        return Ok(vec![]);
    }
    let status = mailing.status(Utc::now());
    warnings_for(
        state,
        status,
        &mailing.schedule,
        &mailing.filter,
        &mailing.text,
    )
    .await
}

/// The warnings of [`warnings`] for a mailing in `status` with this schedule, filter and
/// text, stored or not.
pub async fn warnings_for(
    state: &AppState,
    status: MailingStatus,
    schedule: &MailingSchedule,
    filter: &ClientFilter,
    text: &MailingText,
) -> Result<Vec<MailingWarning>, ApiError> {
    if !matches!(status, MailingStatus::Scheduled | MailingStatus::Running) {
        return Ok(vec![]);
    }
    let keys = Template::parse(text.as_str())
        .map(|template| template.attributes_without_fallback())
        .unwrap_or_default();
    let filter = filter.clone();
    let reach = state
        .run(move |s| {
            let zones = s.count_matching_by_zone(&filter)?;
            // Nobody to lack anything when nobody matches.
            let lacking = if zones.is_empty() || keys.is_empty() {
                vec![]
            } else {
                let counts = s.count_lacking(&filter, &keys)?;
                keys.into_iter().zip(counts).collect()
            };
            Ok(Reach { zones, lacking })
        })
        .await?;
    Ok(warnings_of(status, schedule, reach, Utc::now()))
}

/// What a mailing's warnings are worked out from: how many clients its filter matches in each
/// time zone, and how many of them lack each attribute its text shows without a fallback (in
/// the text's order).
pub struct Reach {
    pub zones: Vec<(TimeZone, u64)>,
    pub lacking: Vec<(AttributeKey, u64)>,
}

/// The warnings of a scheduled or running mailing whose matching clients are `reach`.
pub fn warnings_of(
    status: MailingStatus,
    schedule: &MailingSchedule,
    reach: Reach,
    now: DateTime<Utc>,
) -> Vec<MailingWarning> {
    let matching: u64 = reach.zones.iter().map(|(_, count)| count).sum();
    if matching == 0 {
        let message = if status == MailingStatus::Scheduled {
            "no client matches the filter now, so the mailing would reach nobody; clients that \
             match when it starts still get it"
        } else {
            "no client matches the filter, so the mailing reaches nobody"
        };
        return vec![MailingWarning::new(
            "no_matching_clients",
            message.to_owned(),
        )];
    }
    let mut found: Vec<MailingWarning> = window_warning(schedule, reach.zones, matching, now)
        .into_iter()
        .collect();
    found.extend(
        reach
            .lacking
            .iter()
            .filter(|(_, lacking)| *lacking > 0)
            .map(|(key, lacking)| missing_variable(key, *lacking, matching)),
    );
    found
}

/// The warning for the matching clients whose send window never opens before the end.
fn window_warning(
    schedule: &MailingSchedule,
    zones: Vec<(TimeZone, u64)>,
    matching: u64,
    now: DateTime<Utc>,
) -> Option<MailingWarning> {
    let closed: Vec<(TimeZone, u64)> = zones
        .into_iter()
        .filter(|(zone, _)| matches!(plan_send(schedule, zone.tz(), now), SendPlan::Expired(_)))
        .collect();
    if closed.is_empty() {
        return None;
    }
    let stranded: u64 = closed.iter().map(|(_, count)| count).sum();
    let mut names: Vec<&str> = closed.iter().map(|(zone, _)| zone.name()).collect();
    names.sort_unstable();
    let shown = names.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    let more = if names.len() > 5 { ", …" } else { "" };
    let why = match schedule.send_window() {
        Some(window) => format!(
            "the send window {}–{} does not open before the end",
            window.start_hhmm(),
            window.end_hhmm()
        ),
        None => "the mailing has already ended on their clock".to_owned(),
    };
    Some(MailingWarning::new(
        "send_window_never_opens",
        format!(
            "for {stranded} of {matching} matching clients (time zones {shown}{more}) {why}, \
             so their messages would expire unsent; move end_at later or widen send_window"
        ),
    ))
}

/// The warning that `lacking` of `matching` clients have no value for `key`.
fn missing_variable(key: &AttributeKey, lacking: u64, matching: u64) -> MailingWarning {
    MailingWarning::new(
        "missing_variable",
        format!(
            "{lacking} of {matching} matching clients have no {key} attribute, so \
             {{{{ attributes.{key} }}}} is empty in their text; give a fallback, e.g. \
             {{{{ attributes.{key} | default: \"friend\" }}}}"
        ),
    )
}

pub async fn get(state: &AppState, id: MailingId) -> Result<Mailing, ApiError> {
    state.run(move |s| s.get_mailing(id)).await
}
