//! Delivery statistics, counted from the messages table.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::operations::messages::MailingStatsQuery;
use crate::operations::paging::ListQuery;
use crate::routes::mailings::MailingBody;
use crate::routes::messages::MessagePage;
use crate::state::AppState;
use chrono::Utc;
use mailing_domain::store::StatusCounts;
use mailing_domain::{MailingId, MessageStatus};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/mailings/stats").route(web::get().to(all_mailings)))
        .service(web::resource("/mailings/{id}/stats").route(web::get().to(one_mailing)));
}

/// Message counts by status; every status is present.
#[derive(Serialize, Apiv2Schema)]
pub struct ByStatus {
    pub scheduled: u64,
    pub queued: u64,
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
    pub expired: u64,
    pub cancelled: u64,
}

impl From<&StatusCounts> for ByStatus {
    fn from(counts: &StatusCounts) -> Self {
        Self {
            scheduled: counts.get(MessageStatus::Scheduled),
            queued: counts.get(MessageStatus::Queued),
            sent: counts.get(MessageStatus::Sent),
            retrying: counts.get(MessageStatus::Retrying),
            failed: counts.get(MessageStatus::Failed),
            expired: counts.get(MessageStatus::Expired),
            cancelled: counts.get(MessageStatus::Cancelled),
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct MailingStatsBody {
    pub mailing: MailingBody,
    /// All messages of the mailing.
    pub total: u64,
    pub by_status: ByStatus,
}

#[derive(Serialize, Apiv2Schema)]
pub struct MailingStatsPage {
    /// The messages of every mailing together, by status.
    pub by_status: ByStatus,
    /// The messages of every mailing together.
    pub messages_total: u64,
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
    /// The mailing's messages, filtered by `status` if given.
    pub messages: MessagePage,
}

/// Statistics of every mailing
///
/// The messages of all mailings together by status (`by_status`, `messages_total`), and each
/// mailing of the page with its own counts; deleted mailings and their messages are left out.
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
            }
        })
        .collect();
    Ok(web::Json(MailingStatsPage {
        by_status: ByStatus::from(&totals),
        messages_total: totals.total(),
        items,
        page: paging.page,
        page_size: paging.page_size,
        total: mailings.total,
    }))
}

/// Statistics of one mailing
///
/// Counts by status plus the mailing's messages, paginated and filterable by status.
#[api_v2_operation(operation_id = "getMailingStats", tags(Statistics))]
pub async fn one_mailing(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: QueryParams<MailingStatsQuery>,
) -> Result<web::Json<MailingDetailStatsBody>, ApiError> {
    let id = MailingId(id.into_inner());
    let (filter, paging) = query.0.parse(id)?;
    let (mailing, counts, messages) = state
        .run(move |s| {
            let mailing = s.get_mailing(id)?;
            let counts = s.count_messages(id)?;
            let messages = s.list_messages(&filter, paging.request())?;
            Ok((mailing, counts, messages))
        })
        .await?;
    Ok(web::Json(MailingDetailStatsBody {
        mailing: MailingBody::new(&mailing, Utc::now()),
        total: counts.total(),
        by_status: ByStatus::from(&counts),
        messages: MessagePage::new(messages, paging),
    }))
}
