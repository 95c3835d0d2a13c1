//! Mailings: what a body may say about one (a text, a time span, a filter, and optionally a
//! daily window and local time), and creating, changing, cancelling and deleting them. Each of
//! these writes a mailing event beside the change, so each wakes the outbox relay, which tells
//! the scheduler.

use crate::error::{ApiError, FieldError};
use crate::operations::client_filters::{FilterInput, double_option};
use crate::operations::problems::Problems;
use crate::state::AppState;
use chrono::{DateTime, FixedOffset, Utc};
use mailing_domain::store::{FilterSource, Mailing, MailingDraft, MailingPatch};
use mailing_domain::window::WindowInvalid;
use mailing_domain::{
    ClientFilterId, Invalid, MailingId, MailingSchedule, MailingText, SendWindow,
};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

/// A daily interval of the client's local clock, `"HH:MM"` to `"HH:MM"`. `start` after `end`
/// crosses midnight (`22:00` to `06:00`).
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SendWindowBody {
    /// `"HH:MM"`, inclusive.
    pub start: String,
    /// `"HH:MM"`, exclusive.
    pub end: String,
}

impl SendWindowBody {
    fn parse(&self, problems: &mut Problems) -> Option<SendWindow> {
        match SendWindow::parse(&self.start, &self.end) {
            Ok(window) => Some(window),
            Err(error) => {
                let (field, rule) = match error {
                    WindowInvalid::Start(rule) => ("send_window.start", rule),
                    WindowInvalid::End(rule) => ("send_window.end", rule),
                    WindowInvalid::Window(rule) => ("send_window", rule),
                };
                problems.push(FieldError::invalid(field, &rule));
                None
            }
        }
    }
}

impl From<SendWindow> for SendWindowBody {
    fn from(window: SendWindow) -> Self {
        Self {
            start: window.start_hhmm(),
            end: window.end_hhmm(),
        }
    }
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MailingInput {
    /// 1 to 1600 characters, not blank.
    pub text: String,
    /// RFC 3339 date-time. With `local_time`, only the clock reading counts.
    pub start_at: DateTime<FixedOffset>,
    /// RFC 3339 date-time after `start_at`, in the future. With `local_time`, only the clock
    /// reading counts.
    pub end_at: DateTime<FixedOffset>,
    /// Which clients to reach; give this or `client_filter_id`. `{}` reaches every client.
    pub filter: Option<FilterInput>,
    /// A saved filter to copy; give this or `filter`.
    pub client_filter_id: Option<i64>,
    /// Deliver only inside this daily window of each client's local clock.
    pub send_window: Option<SendWindowBody>,
    /// Read `start_at` and `end_at` on each client's own clock (default false).
    pub local_time: Option<bool>,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MailingPatchInput {
    pub text: Option<String>,
    pub start_at: Option<DateTime<FixedOffset>>,
    pub end_at: Option<DateTime<FixedOffset>>,
    /// Replaces the filter (and forgets `client_filter_id`).
    pub filter: Option<FilterInput>,
    /// Copies this saved filter into the mailing.
    pub client_filter_id: Option<i64>,
    /// `null` removes the window.
    #[serde(default, deserialize_with = "double_option")]
    pub send_window: Option<Option<SendWindowBody>>,
    /// Changing it re-reads the stored `start_at` and `end_at` under the new meaning.
    pub local_time: Option<bool>,
}

fn filter_source(
    filter: Option<FilterInput>,
    client_filter_id: Option<i64>,
    required: bool,
    problems: &mut Problems,
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
        (Some(body), None) => body.parse("filter", problems).map(FilterSource::Inline),
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

impl MailingInput {
    fn parse(self, now: DateTime<Utc>) -> Result<MailingDraft, ApiError> {
        let mut problems = Problems::default();
        let text = problems.check("text", MailingText::parse(&self.text));
        let window = self
            .send_window
            .as_ref()
            .and_then(|body| body.parse(&mut problems));
        let local_time = self.local_time.unwrap_or(false);
        let start_at = problems.check(
            "start_at",
            MailingSchedule::stored_instant(self.start_at, local_time),
        );
        let end_at = problems.check(
            "end_at",
            MailingSchedule::stored_instant(self.end_at, local_time),
        );
        let schedule = match (start_at, end_at) {
            (Some(start_at), Some(end_at)) => problems.check(
                "end_at",
                MailingSchedule::new(start_at, end_at, local_time, window),
            ),
            _ => None,
        };
        if schedule.is_some_and(|s| s.latest_end() <= now) {
            problems.push(FieldError::invalid("end_at", &Invalid::InPast));
        }
        let filter = filter_source(self.filter, self.client_filter_id, true, &mut problems);
        problems.finish(|| MailingDraft {
            text: text.expect("checked"),
            schedule: schedule.expect("checked"),
            filter: filter.expect("checked"),
        })
    }

    /// The input as a patch that sets every field.
    fn into_full_patch(self) -> MailingPatchInput {
        MailingPatchInput {
            text: Some(self.text),
            start_at: Some(self.start_at),
            end_at: Some(self.end_at),
            filter: self.filter,
            client_filter_id: self.client_filter_id,
            send_window: Some(self.send_window),
            local_time: Some(self.local_time.unwrap_or(false)),
        }
    }
}

impl MailingPatchInput {
    fn parse(self, filter_required: bool) -> Result<MailingPatch, ApiError> {
        let mut problems = Problems::default();
        let text = self
            .text
            .map(|raw| problems.check("text", MailingText::parse(&raw)));
        let send_window = self
            .send_window
            .map(|window| window.and_then(|body| body.parse(&mut problems)));
        let filter = filter_source(
            self.filter,
            self.client_filter_id,
            filter_required,
            &mut problems,
        );
        problems.finish(|| MailingPatch {
            text: text.flatten(),
            start_at: self.start_at,
            end_at: self.end_at,
            local_time: self.local_time,
            send_window,
            filter,
        })
    }
}

/// Stores a new mailing. When now is between its start and end, delivery starts at once; a
/// later start begins by itself.
pub async fn create(state: &AppState, input: MailingInput) -> Result<Mailing, ApiError> {
    let draft = input.parse(Utc::now())?;
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
    let patch = input.into_full_patch().parse(true)?;
    update(state, id, patch).await
}

/// Sets the fields given, under the same rules as [`replace`].
pub async fn patch(
    state: &AppState,
    id: MailingId,
    input: MailingPatchInput,
) -> Result<Mailing, ApiError> {
    let patch = input.parse(false)?;
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

/// Removes the mailing from view and cancels its unsent messages; its messages stay readable.
pub async fn delete(state: &AppState, id: MailingId) -> Result<(), ApiError> {
    let now = Utc::now();
    state.run(move |s| s.delete_mailing(id, now)).await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = id.0, "mailing deleted");
    Ok(())
}

pub async fn get(state: &AppState, id: MailingId) -> Result<Mailing, ApiError> {
    state.run(move |s| s.get_mailing(id)).await
}
