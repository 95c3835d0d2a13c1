//! Mailings: a text, a time span, a filter, and optionally a daily window and local time.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::mailings::{
    self, MailingInput, MailingListQuery, MailingPatchInput, MailingWarning, ResendInput,
    SendWindowBody,
};
use crate::routes::client_filters::FilterBody;
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::Mailing;
use mailing_domain::{MailingId, MailingStatus};
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/mailings")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    // Before `/mailings/{id}`, which would take the path and refuse its method.
    .service(web::resource("/mailings/preview").route(web::post().to(super::preview::preview)))
    .service(
        web::resource("/mailings/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/mailings/{id}/cancel").route(web::post().to(cancel)))
    .service(web::resource("/mailings/{id}/pause").route(web::post().to(pause)))
    .service(web::resource("/mailings/{id}/resume").route(web::post().to(resume)))
    .service(web::resource("/mailings/{id}/resend").route(web::post().to(resend)));
}

/// A mailing's own frequency cap.
#[derive(Serialize, Apiv2Schema)]
pub struct FrequencyCapBody {
    pub max: u32,
    pub per_hours: u32,
}

/// What a mailing changes of the deployment's auto-pause rule; `null` fields keep the
/// deployment's (`MAILING_SENDER_AUTO_PAUSE*`).
#[derive(Serialize, Apiv2Schema)]
pub struct AutoPauseBody {
    pub enabled: Option<bool>,
    pub attempts: Option<u32>,
    pub failure_share: Option<f64>,
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
    /// `scheduled`, `running`, `paused`, `finished` or `cancelled`, at the time of the
    /// response.
    pub status: String,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// While paused: `manual` (paused through the API or the admin UI) or `provider_failing`
    /// (most of its latest attempts failed, so it paused itself); else `null`.
    pub paused_reason: Option<String>,
    /// When the current pause began; `null` unless paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// Time spent paused in all, in seconds, the current pause included.
    pub paused_seconds: f64,
    /// How often it paused itself because the provider failed.
    pub auto_pauses: u32,
    /// How often one of its messages waited because its client's frequency cap was full.
    pub cap_deferrals: u64,
    /// The mailing this one resends to the clients it did not reach; its recipients were fixed
    /// when it was created.
    pub resend_of: Option<i64>,
    /// Its own frequency cap; `null` leaves the deployment's (if any).
    pub frequency_cap: Option<FrequencyCapBody>,
    /// Its own auto-pause rule over the deployment's; `null` when it sets none.
    pub auto_pause: Option<AutoPauseBody>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What its author should know while it has not ended: no client matches the filter now
    /// (`no_matching_clients`), or for some clients the send window cannot open before the
    /// end (`send_window_never_opens`). Given in the answers about one mailing (create,
    /// replace, update, cancel, get); `null` in lists and statistics.
    pub warnings: Option<Vec<MailingWarning>>,
}

impl MailingBody {
    pub fn new(mailing: &Mailing, now: DateTime<Utc>) -> Self {
        let status = mailing.status(now);
        // A pause that outlived the mailing (it ended, or was cancelled, while paused) is
        // history: the statistics list it, the mailing no longer says it is paused.
        let paused = mailing
            .paused
            .as_ref()
            .filter(|_| status == MailingStatus::Paused);
        Self {
            id: mailing.id.0,
            text: mailing.text.as_str().to_owned(),
            start_at: mailing.schedule.start_at(),
            end_at: mailing.schedule.end_at(),
            local_time: mailing.schedule.local_time(),
            send_window: mailing.schedule.send_window().map(Into::into),
            filter: FilterBody::from(&mailing.filter),
            client_filter_id: mailing.client_filter_id.map(|id| id.0),
            status: status.as_str().to_owned(),
            cancelled_at: mailing.cancelled_at,
            paused_reason: paused.map(|p| p.reason.as_str().to_owned()),
            paused_at: paused.map(|p| p.since),
            paused_seconds: mailing.paused_time(now).num_milliseconds() as f64 / 1000.0,
            auto_pauses: mailing.auto_pauses,
            cap_deferrals: mailing.cap_deferrals,
            resend_of: mailing.resend_of.map(|id| id.0),
            frequency_cap: mailing.frequency_cap.map(|cap| FrequencyCapBody {
                max: cap.max(),
                per_hours: cap.per_hours(),
            }),
            auto_pause: (!mailing.auto_pause.is_empty()).then(|| AutoPauseBody {
                enabled: mailing.auto_pause.enabled,
                attempts: mailing.auto_pause.attempts,
                failure_share: mailing.auto_pause.failure_share.map(|s| s.as_f64()),
            }),
            created_at: mailing.created_at,
            updated_at: mailing.updated_at,
            warnings: None,
        }
    }

    /// The mailing with its status at the time of the response.
    fn current(mailing: &Mailing) -> Self {
        Self::new(mailing, Utc::now())
    }

    /// The mailing with its status and its warnings at the time of the response.
    async fn with_warnings(state: &AppState, mailing: &Mailing) -> Result<Self, ApiError> {
        let mut body = Self::current(mailing);
        body.warnings = Some(mailings::warnings(state, mailing).await?);
        Ok(body)
    }
}

page_of!(MailingPage, MailingBody);

/// List mailings
///
/// Oldest first; `status` keeps those in one status at the time of the request.
#[api_v2_operation(operation_id = "listMailings", tags(Mailings))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<MailingListQuery>,
) -> Result<web::Json<MailingPage>, ApiError> {
    let (status, paging) = query.0.parse()?;
    let now = Utc::now();
    let page = state
        .run(move |s| match status {
            Some(status) => s.list_mailings_in_status(status, now, paging.request()),
            None => s.list_mailings(paging.request()),
        })
        .await?;
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
#[api_v2_operation(operation_id = "createMailing", tags(Mailings))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<MailingInput>,
) -> Result<CreatedJson<MailingBody>, ApiError> {
    let mailing = mailings::create(&state, body.0).await?;
    Ok(CreatedJson(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}

/// Get a mailing
#[api_v2_operation(operation_id = "getMailing", tags(Mailings))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let id = MailingId(id.into_inner());
    let mailing = mailings::get(&state, id).await?;
    Ok(web::Json(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}

/// Replace a mailing
///
/// Before the start anything may change; while running (or paused after the start) only
/// `text`, `end_at`, `send_window`, `frequency_cap` and `auto_pause` may differ from the stored
/// values (409 otherwise); finished and cancelled mailings cannot change.
#[api_v2_operation(operation_id = "replaceMailing", tags(Mailings))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<MailingInput>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let mailing = mailings::replace(&state, MailingId(id.into_inner()), body.0).await?;
    Ok(web::Json(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}

/// Update some fields of a mailing
///
/// Before the start anything may change; while running (or paused after the start) only
/// `text`, `end_at`, `send_window`, `frequency_cap` and `auto_pause` (409 otherwise); finished
/// and cancelled mailings cannot change.
#[api_v2_operation(operation_id = "updateMailing", tags(Mailings))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<MailingPatchInput>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let mailing = mailings::patch(&state, MailingId(id.into_inner()), body.0).await?;
    Ok(web::Json(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}

/// Cancel a mailing
///
/// Its unsent messages are cancelled. Cancelling twice is harmless; a finished mailing cannot
/// be cancelled (409).
#[api_v2_operation(operation_id = "cancelMailing", tags(Mailings))]
pub async fn cancel(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let mailing = mailings::cancel(&state, MailingId(id.into_inner())).await?;
    Ok(web::Json(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}

/// Delete a mailing
///
/// Its unsent messages are cancelled. Its messages then leave the API with it: they are no
/// longer listed or found under `/messages`, nor counted in statistics.
#[api_v2_operation(operation_id = "deleteMailing", tags(Mailings))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    mailings::delete(&state, MailingId(id.into_inner())).await?;
    Ok(NoContent)
}

/// Pause a mailing
///
/// Nothing new is sent until it is resumed (attempts already under way finish); its messages
/// keep waiting, and its end still applies. Pausing a paused mailing changes nothing; a
/// finished or cancelled one cannot be paused (409).
#[api_v2_operation(operation_id = "pauseMailing", tags(Mailings))]
pub async fn pause(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let mailing = mailings::pause(&state, MailingId(id.into_inner())).await?;
    Ok(web::Json(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}

/// Resume a mailing
///
/// Sending continues where it stopped, whichever way it was paused; no message is sent twice.
/// Resuming a mailing that is not paused changes nothing; a finished or cancelled one cannot be
/// resumed (409).
#[api_v2_operation(operation_id = "resumeMailing", tags(Mailings))]
pub async fn resume(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<MailingBody>, ApiError> {
    let mailing = mailings::resume(&state, MailingId(id.into_inner())).await?;
    Ok(web::Json(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}

/// Resend a mailing to the clients it did not reach
///
/// Creates a mailing with the same text, window and rules, between the new `start_at` and
/// `end_at`, to exactly the clients whose messages of this one ended in `statuses` (those
/// deleted since are left out); `resend_of` names this one. 422 when no message qualifies.
#[api_v2_operation(operation_id = "resendMailing", tags(Mailings))]
pub async fn resend(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ResendInput>,
) -> Result<CreatedJson<MailingBody>, ApiError> {
    let mailing = mailings::resend(&state, MailingId(id.into_inner()), body.0).await?;
    Ok(CreatedJson(
        MailingBody::with_warnings(&state, &mailing).await?,
    ))
}
