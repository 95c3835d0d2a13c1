//! Delivery statistics, counted from the messages table, with what campaign control adds up
//! on each mailing (its paused time, its auto-pauses and its frequency-cap deferrals).

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::operations::messages::MailingStatsQuery;
use crate::operations::paging::ListQuery;
use crate::routes::mailings::MailingBody;
use crate::routes::messages::MessagePage;
use crate::state::AppState;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::MailingId;
use mailing_domain::campaign::Pause;
use mailing_domain::store::Mailing;
pub use mailing_reports::ByStatus;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/mailings/stats").route(web::get().to(all_mailings)))
        .service(web::resource("/mailings/{id}/stats").route(web::get().to(one_mailing)));
}

/// Seconds in `duration`, to the millisecond.
fn seconds(duration: Duration) -> f64 {
    duration.num_milliseconds() as f64 / 1000.0
}

/// One pause of a mailing.
#[derive(Serialize, Apiv2Schema)]
pub struct PauseBody {
    /// `manual` (paused through the API or the admin UI) or `provider_failing` (most of its
    /// latest attempts failed, so it paused itself).
    pub reason: String,
    /// For a pause the service made, what it saw, e.g. "48 of the last 50 attempts failed at
    /// the provider"; `null` for a manual one.
    pub detail: Option<String>,
    pub paused_at: DateTime<Utc>,
    /// `null` while the pause lasts, and for a mailing that ended or was cancelled paused.
    pub resumed_at: Option<DateTime<Utc>>,
    /// How long it lasted, or has lasted so far; a pause that was never resumed counts until
    /// the mailing's end or its cancellation.
    pub seconds: f64,
}

impl PauseBody {
    fn new(pause: &Pause, mailing: &Mailing, now: DateTime<Utc>) -> Self {
        let until = pause
            .resumed_at
            .unwrap_or_else(|| mailing.open_pause_until(now));
        Self {
            reason: pause.reason.as_str().to_owned(),
            detail: pause.detail.clone(),
            paused_at: pause.paused_at,
            resumed_at: pause.resumed_at,
            seconds: seconds((until - pause.paused_at).max(Duration::zero())),
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct MailingStatsBody {
    pub mailing: MailingBody,
    /// All messages of the mailing.
    pub total: u64,
    pub by_status: ByStatus,
    /// SMS parts of the messages the provider accepted (a long or UCS-2 text takes several).
    pub segments_sent: u64,
    /// Time the mailing spent paused in all, in seconds, the current pause included.
    pub paused_seconds: f64,
    /// How often it paused itself because the provider failed.
    pub auto_pauses: u32,
    /// How often one of its messages waited because its client's frequency cap was full.
    pub cap_deferrals: u64,
}

#[derive(Serialize, Apiv2Schema)]
pub struct MailingStatsPage {
    /// The messages of every mailing together, by status.
    pub by_status: ByStatus,
    /// The messages of every mailing together.
    pub messages_total: u64,
    /// SMS parts of every mailing's messages the provider accepted.
    pub segments_sent: u64,
    /// Each mailing of the page with its own counts.
    pub items: Vec<MailingStatsBody>,
    pub page: u32,
    pub page_size: u32,
    /// Mailings over all pages.
    pub total: u64,
}

#[derive(Serialize, Apiv2Schema)]
pub struct MailingDetailStatsBody {
    pub mailing: MailingBody,
    pub total: u64,
    pub by_status: ByStatus,
    /// SMS parts of the messages the provider accepted (a long or UCS-2 text takes several).
    pub segments_sent: u64,
    /// Every pause of the mailing, oldest first.
    pub pauses: Vec<PauseBody>,
    /// Time the mailing spent paused in all, in seconds, the current pause included.
    pub paused_seconds: f64,
    /// How often it paused itself because the provider failed.
    pub auto_pauses: u32,
    /// How often one of its messages waited because its client's frequency cap was full.
    pub cap_deferrals: u64,
    /// The mailing's messages, filtered by `status` if given.
    pub messages: MessagePage,
}

/// Statistics of every mailing
///
/// The messages of all mailings together by status (`by_status`, `messages_total`) with the
/// SMS parts sent (`segments_sent`), and each mailing of the page with its own counts and parts, its paused time, auto-pauses and frequency-cap
/// deferrals; deleted mailings and their messages are left out.
#[api_v2_operation(operation_id = "listMailingStats", tags(Statistics))]
pub async fn all_mailings(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<MailingStatsPage>, ApiError> {
    let paging = query.0.paging()?;
    let (mailings, counts, totals) = state
        .run(move |s| {
            let mailings = s.list_mailings(paging.request())?;
            let ids: Vec<MailingId> = mailings.items.iter().map(|m| m.id).collect();
            let counts = s.count_messages_of(&ids)?;
            Ok((mailings, counts, s.message_totals()?))
        })
        .await?;
    let now = Utc::now();
    let items = mailings
        .items
        .iter()
        .map(|mailing| {
            let counts = counts.get(&mailing.id).copied().unwrap_or_default();
            MailingStatsBody {
                mailing: MailingBody::new(mailing, now),
                total: counts.total(),
                by_status: ByStatus::from(&counts),
                segments_sent: counts.segments_sent(),
                paused_seconds: seconds(mailing.paused_time(now)),
                auto_pauses: mailing.auto_pauses,
                cap_deferrals: mailing.cap_deferrals,
            }
        })
        .collect();
    Ok(web::Json(MailingStatsPage {
        by_status: ByStatus::from(&totals),
        messages_total: totals.total(),
        segments_sent: totals.segments_sent(),
        items,
        page: paging.page,
        page_size: paging.page_size,
        total: mailings.total,
    }))
}

/// Statistics of one mailing
///
/// Counts by status, the mailing's pauses (when, why, for how long) with its paused time,
/// auto-pauses and frequency-cap deferrals, plus its messages, paginated and filterable by
/// status.
#[api_v2_operation(operation_id = "getMailingStats", tags(Statistics))]
pub async fn one_mailing(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: QueryParams<MailingStatsQuery>,
) -> Result<web::Json<MailingDetailStatsBody>, ApiError> {
    let id = MailingId(id.into_inner());
    let (filter, paging) = query.0.parse(id)?;
    let (mailing, counts, pauses, messages) = state
        .run(move |s| {
            let mailing = s.get_mailing(id)?;
            let counts = s.count_messages(id)?;
            let pauses = s.mailing_pauses(id)?;
            let messages = s.list_messages(&filter, paging.request())?;
            Ok((mailing, counts, pauses, messages))
        })
        .await?;
    let now = Utc::now();
    Ok(web::Json(MailingDetailStatsBody {
        mailing: MailingBody::new(&mailing, now),
        total: counts.total(),
        by_status: ByStatus::from(&counts),
        segments_sent: counts.segments_sent(),
        pauses: pauses
            .iter()
            .map(|pause| PauseBody::new(pause, &mailing, now))
            .collect(),
        paused_seconds: seconds(mailing.paused_time(now)),
        auto_pauses: mailing.auto_pauses,
        cap_deferrals: mailing.cap_deferrals,
        messages: MessagePage::new(messages, paging),
    }))
}
