//! Mailings: a text, a time span, a filter, and optionally a daily window and local time.

use crate::auth::Authenticated;
use crate::error::{ApiError, FieldError, Problems};
use crate::extract::{JsonBody, QueryParams};
use crate::routes::client_filters::{FilterBody, FilterInput, double_option};
use crate::routes::operators::ListQuery;
use crate::routes::paging::{Paging, page_of};
use crate::state::AppState;
use chrono::{DateTime, FixedOffset, Utc};
use mailing_domain::store::{FilterSource, Mailing, MailingDraft, MailingPatch};
use mailing_domain::window::WindowInvalid;
use mailing_domain::{
    ClientFilterId, Invalid, MailingId, MailingSchedule, MailingText, SendWindow,
};
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::{Deserialize, Serialize};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/mailings")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/mailings/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/mailings/{id}/cancel").route(web::post().to(cancel)));
}

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

#[derive(Serialize, Apiv2Schema)]
pub struct MailingBody {
    pub id: i64,
    pub text: String,
    /// With `local_time`, a wall-clock time in each client's zone, shown with offset `Z`.
    pub start_at: DateTime<Utc>,
    /// With `local_time`, a wall-clock time in each client's zone, shown with offset `Z`.
    pub end_at: DateTime<Utc>,
    pub local_time: bool,
    pub send_window: Option<SendWindowBody>,
    /// The filter the mailing uses (copied from `client_filter_id` if one was given).
    pub filter: FilterBody,
    /// The saved filter the mailing's filter was copied from, while it exists.
    pub client_filter_id: Option<i64>,
    /// `scheduled`, `running`, `finished` or `cancelled`, at the time of the response.
    pub status: String,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MailingBody {
    pub fn new(mailing: &Mailing, now: DateTime<Utc>) -> Self {
        Self {
            id: mailing.id.0,
            text: mailing.text.as_str().to_owned(),
            start_at: mailing.schedule.start_at(),
            end_at: mailing.schedule.end_at(),
            local_time: mailing.schedule.local_time(),
            send_window: mailing.schedule.send_window().map(Into::into),
            filter: FilterBody::from(&mailing.filter),
            client_filter_id: mailing.client_filter_id.map(|id| id.0),
            status: mailing.status(now).as_str().to_owned(),
            cancelled_at: mailing.cancelled_at,
            created_at: mailing.created_at,
            updated_at: mailing.updated_at,
        }
    }
}

page_of!(MailingPage, MailingBody);

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
    pub(crate) fn parse(self, now: DateTime<Utc>) -> Result<MailingDraft, ApiError> {
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

    /// The input as a patch that sets every field, for PUT.
    pub(crate) fn into_full_patch(self) -> MailingPatchInput {
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
    pub(crate) fn parse(self, filter_required: bool) -> Result<MailingPatch, ApiError> {
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

/// List mailings
#[api_v2_operation(tags(Mailings))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<MailingPage>, ApiError> {
    let paging = Paging::parse(query.0.page, query.0.page_size)?;
    let page = state
        .run(move |s| s.list_mailings(paging.request()))
        .await?;
    let now = Utc::now();
    Ok(web::Json(MailingPage {
        items: page
            .items
            .iter()
            .map(|m| MailingBody::new(m, now))
            .collect(),
        page: paging.page,
        page_size: paging.page_size,
        total: page.total,
    }))
}

/// Create a mailing
///
/// When now is between `start_at` and `end_at`, delivery to every matching client starts at
/// once; a later start begins by itself.
#[api_v2_operation(tags(Mailings))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<MailingInput>,
) -> Result<CreatedJson<MailingBody>, ApiError> {
    let mailing = create_mailing(&state, body.0).await?;
    Ok(CreatedJson(MailingBody::new(&mailing, Utc::now())))
}

/// Stores a new mailing and wakes the outbox relay, which tells the scheduler.
pub(crate) async fn create_mailing(
    state: &AppState,
    input: MailingInput,
) -> Result<Mailing, ApiError> {
    let draft = input.parse(Utc::now())?;
    let mailing = state.run(move |s| s.create_mailing(&draft)).await?;
    state.outbox_wake.notify_one();
    // The request's own closing line names the new mailing too.
    tracing::Span::current().record("mailing_id", mailing.id.0);
    tracing::info!(mailing_id = mailing.id.0, "mailing created");
    Ok(mailing)
}

/// Get a mailing
#[api_v2_operation(tags(Mailings))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let id = MailingId(id.into_inner());
    let mailing = state.run(move |s| s.get_mailing(id)).await?;
    Ok(web::Json(MailingBody::new(&mailing, Utc::now())))
}

async fn update(
    state: &AppState,
    id: MailingId,
    patch: MailingPatch,
) -> Result<web::Json<MailingBody>, ApiError> {
    let mailing = update_mailing(state, id, patch).await?;
    Ok(web::Json(MailingBody::new(&mailing, Utc::now())))
}

/// Applies a change to a mailing and wakes the outbox relay.
pub(crate) async fn update_mailing(
    state: &AppState,
    id: MailingId,
    patch: MailingPatch,
) -> Result<Mailing, ApiError> {
    let now = Utc::now();
    let mailing = state
        .run(move |s| s.update_mailing(id, &patch, now))
        .await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = mailing.id.0, "mailing updated");
    Ok(mailing)
}

/// Replace a mailing
///
/// Before the start anything may change; while running only `text`, `end_at` and
/// `send_window` may differ from the stored values (409 otherwise); finished and cancelled
/// mailings cannot change.
#[api_v2_operation(tags(Mailings))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<MailingInput>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let patch = body.0.into_full_patch().parse(true)?;
    update(&state, MailingId(id.into_inner()), patch).await
}

/// Update some fields of a mailing
///
/// Before the start anything may change; while running only `text`, `end_at` and
/// `send_window` (409 otherwise); finished and cancelled mailings cannot change.
#[api_v2_operation(tags(Mailings))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<MailingPatchInput>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let patch = body.0.parse(false)?;
    update(&state, MailingId(id.into_inner()), patch).await
}

/// Cancel a mailing
///
/// Its unsent messages are cancelled. Cancelling twice is harmless; a finished mailing cannot
/// be cancelled (409).
#[api_v2_operation(tags(Mailings))]
pub async fn cancel(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let mailing = cancel_mailing(&state, MailingId(id.into_inner())).await?;
    Ok(web::Json(MailingBody::new(&mailing, Utc::now())))
}

/// Cancels a mailing's unsent messages and wakes the outbox relay.
pub(crate) async fn cancel_mailing(state: &AppState, id: MailingId) -> Result<Mailing, ApiError> {
    let now = Utc::now();
    let mailing = state.run(move |s| s.cancel_mailing(id, now)).await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = mailing.id.0, "mailing cancelled");
    Ok(mailing)
}

/// Delete a mailing
///
/// Its unsent messages are cancelled; its messages stay readable under `/messages`.
#[api_v2_operation(tags(Mailings))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    delete_mailing(&state, MailingId(id.into_inner())).await?;
    Ok(NoContent)
}

/// Removes a mailing from view, cancels its unsent messages and wakes the outbox relay.
pub(crate) async fn delete_mailing(state: &AppState, id: MailingId) -> Result<(), ApiError> {
    let now = Utc::now();
    state.run(move |s| s.delete_mailing(id, now)).await?;
    state.outbox_wake.notify_one();
    tracing::info!(mailing_id = id.0, "mailing deleted");
    Ok(())
}
